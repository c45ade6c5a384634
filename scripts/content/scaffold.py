"""`invoke new-post`: make a slug, then let `hugo new content --kind blog` render archetypes/blog.md into
a new page bundle. Hugo does the rendering so that its own archetype conventions hold; the values reach
the archetype through QWEN_BLOG_* environment variables, and the archetype escapes them.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from scripts.site import hugo
from scripts.errors import CheckFailed, UsageError, UserError
from scripts.content.frontmatter import FrontMatterError, read_front_matter
from scripts.site.config import SiteConfig, read_site_config

ARCHETYPE_KIND = "blog"
MAX_TITLE_LENGTH = 200  # longer is a paragraph, not a title; it would also make an unwieldy slug
MAX_SLUG_LENGTH = 80  # slugs from long titles are cut at a hyphen below this
SLUG_PATTERN = re.compile(r"[a-z0-9][a-z0-9.-]*")
ENV_PREFIX = "QWEN_BLOG_"  # must match security.funcs.getenv in hugo.yaml

# Latin letters that Unicode does not decompose into ASCII.
_LATIN_EXTRA = str.maketrans({"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th",
                              "ı": "i"})
# Control characters, line and paragraph separators, and the surrogates Python decodes invalid UTF-8 to.
_NOT_TEXT = frozenset({"Cc", "Cs", "Zl", "Zp"})
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef]")


@dataclass(frozen=True)
class PostRequest:
    title: str | None  # None (not given) is a UsageError, like an empty title
    slug: str | None = None
    lang: str | None = None  # None: the site's default language
    section: str = "blog"
    date: str | None = None  # ISO 8601; None: now (or the original's date, for a translation)
    draft: bool = False
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class CreatedPost:
    path: Path
    slug: str
    lang: str
    date: str
    translation_of: Path | None  # the other-language file it was put beside


def check_title(title: str | None) -> str:
    """The title, stripped; a UsageError for anything that cannot be a post title."""
    if title is None or not title.strip():
        raise UsageError("--title is required and must not be empty")
    title = title.strip()
    if len(title) > MAX_TITLE_LENGTH:
        raise UsageError(f"--title is {len(title)} characters long; keep it to {MAX_TITLE_LENGTH}")
    if any(unicodedata.category(ch) in _NOT_TEXT for ch in title):
        raise UsageError("--title must be one line of text, without control characters or undecodable bytes")
    if not any(unicodedata.category(ch)[0] in "LN" for ch in title):
        raise UsageError(f"--title {title!r} has no letters or digits")
    return title


def slugify(title: str, *, max_length: int = MAX_SLUG_LENGTH) -> str:
    """A lower-case ASCII slug: Chinese through pinyin, accents dropped, punctuation and emoji to hyphens.

    Raises UsageError when the title holds letters that have no ASCII spelling (asking for --slug), or
    nothing to make a slug of.
    """
    text = unicodedata.normalize("NFKC", title)
    if _HAN.search(text):
        from pypinyin import Style, lazy_pinyin  # loads a large dictionary: only for Chinese titles

        text = " ".join(lazy_pinyin(text, style=Style.NORMAL))
    text = unicodedata.normalize("NFKD", text.lower().translate(_LATIN_EXTRA))
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Mn")
    foreign = sorted({ch for ch in text if not ch.isascii() and unicodedata.category(ch)[0] in "LN"})
    if foreign:
        raise UsageError(f"cannot spell {''.join(foreign[:5])!r} of the title in ASCII for the slug: "
                         "pass --slug (lower-case letters, digits, hyphens)")
    slug = re.sub(r"[^a-z0-9.]+", "-", text)
    slug = re.sub(r"(?<![a-z0-9])\.|\.(?![a-z0-9])", "-", slug)  # a dot survives only inside a word: 2.5
    slug = re.sub(r"-{2,}", "-", slug).strip("-")
    if len(slug) > max_length:
        cut = slug.rfind("-", 0, max_length + 1)
        slug = slug[:cut] if cut >= max_length // 2 else slug[:max_length]
        slug = slug.rstrip("-.")
    if not slug:
        raise UsageError("the title gives an empty slug: pass --slug (lower-case letters, digits, hyphens)")
    return slug


def check_slug(slug: str, option: str = "--slug") -> str:
    if not SLUG_PATTERN.fullmatch(slug) or ".." in slug:
        raise UsageError(f"{option} {slug!r} must match [a-z0-9][a-z0-9.-]* (lower-case ASCII letters, digits, "
                         "dots and hyphens; no '..' and no '/')")
    if len(slug) > MAX_SLUG_LENGTH:
        raise UsageError(f"{option} is {len(slug)} characters long; keep it to {MAX_SLUG_LENGTH}")
    return slug


def parse_tags(text: str | None) -> tuple[str, ...]:
    """'a, b,a' -> ('a', 'b'); a UsageError for a list with no names or with control characters."""
    if text is None:
        return ()
    tags: list[str] = []
    for tag in (part.strip() for part in text.split(",")):
        if tag and tag not in tags:
            tags.append(tag)
    if not tags:
        raise UsageError(f"--tags {text!r} names no tags: give them comma-separated, like --tags Research,LLM")
    if any(unicodedata.category(ch) in _NOT_TEXT for tag in tags for ch in tag):
        raise UsageError("--tags must not contain control characters or undecodable bytes")
    return tuple(tags)


def post_date(text: str | None, config: SiteConfig, *, now: dt.datetime | None = None) -> str:
    """ISO 8601 with the site's UTC offset, to the second: 2025-01-28T23:00:04+08:00.

    A date or time without an offset is read in the site's timezone; one with an offset is the same
    instant shown in the site's timezone.
    """
    if text is None:
        moment = (now or dt.datetime.now(dt.timezone.utc)).astimezone(config.time_zone)
    else:
        try:
            moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        except ValueError:
            raise UsageError(f"--date {text!r} is not an ISO 8601 date, like 2025-01-28 or "
                             "2025-01-28T23:00:04+08:00") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=config.time_zone)
        moment = moment.astimezone(config.time_zone)
    return moment.replace(microsecond=0).isoformat()


@dataclass(frozen=True)
class _Target:
    path: Path
    translation_of: Path | None


def _target(content: Path, section: str, slug: str, lang: str, config: SiteConfig) -> _Target:
    """Where the post goes: a new bundle `<slug>/index<.lang>.md`, or beside an existing translation
    (inside its bundle, or next to a single-file page `<slug>.<lang>.md`)."""
    section_dir = content / section
    suffix = config.language_suffix(lang)
    mine = {"", f".{lang}"} if lang == config.default_language else {f".{lang}"}
    others = [f".{other}" for other in config.languages if other != lang]
    if lang != config.default_language:
        others.append("")

    bundle = section_dir / slug
    single = [section_dir / f"{slug}{s}.md" for s in others if (section_dir / f"{slug}{s}.md").is_file()]
    if single and not bundle.is_dir():
        existing = [section_dir / f"{slug}{s}.md" for s in mine if (section_dir / f"{slug}{s}.md").exists()]
        return _Target(existing[0] if existing else section_dir / f"{slug}{suffix}.md", single[0])
    existing = [bundle / f"index{s}.md" for s in mine if (bundle / f"index{s}.md").exists()]
    if existing:
        return _Target(existing[0], None)
    originals = [bundle / f"index{s}.md" for s in others if (bundle / f"index{s}.md").is_file()]
    return _Target(bundle / f"index{suffix}.md", originals[0] if originals else None)


def _show(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _check_writable(folder: Path, root: Path, target: Path) -> list[Path]:
    """The folders that will have to be created; a UserError when that cannot work."""
    missing: list[Path] = []
    probe = folder
    while not probe.exists():
        if probe.is_symlink():  # a dangling link
            break
        missing.append(probe)
        probe = probe.parent
    if not probe.is_dir():
        what = "a file, not a folder" if probe.is_file() else "not a folder (a broken link?)"
        raise UserError(f"cannot create {_show(target, root)}: {_show(probe, root)} is {what}")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise UserError(f"cannot create {_show(target, root)}: folder {_show(probe, root)} is not writable")
    return missing


def _hugo_error(output: str, root: Path, archetype: Path) -> UserError:
    """Hugo's first ERROR line, de-duplicated, as one line (a broken archetype points at its line)."""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).strip() for line in output.splitlines()]
    errors = [line for line in lines if line.startswith(("ERROR", "Error:"))] or [line for line in lines if line]
    message = errors[0] if errors else "hugo new content failed"
    message = re.sub(r"^(ERROR|Error:)\s*", "", message)
    for found in re.finditer(r": ", message):  # Hugo repeats the cause: "a: b: b" -> "a: b"
        head, tail = message[:found.start()], message[found.end():]
        if tail and head.endswith(tail):
            message = head
            break
    if "archetype" in message:
        line = re.search(r"archetype\.md:(\d+)", message)
        return UserError(f"broken archetype: {message}", path=_show(archetype, root),
                         line=int(line.group(1)) if line else None)
    return UserError(f"hugo new content failed: {message}")


def create_post(root: Path, request: PostRequest, *, now: dt.datetime | None = None) -> CreatedPost:
    """Create the post's file with `hugo new content`. Never overwrites: an existing file is CheckFailed."""
    config = read_site_config(root)
    title = check_title(request.title)
    slug = check_slug(request.slug) if request.slug is not None else slugify(title)
    section = check_slug(request.section, "--section")
    lang = request.lang or config.default_language
    if lang not in config.languages:
        raise UsageError(f"--lang {lang!r} is not one of the site's languages ({', '.join(config.languages)})")
    archetype = root / "archetypes" / f"{ARCHETYPE_KIND}.md"
    if not archetype.is_file():
        raise UsageError(f"{_show(archetype, root)} is missing: it is the template of a new post")

    content = root / config.content_dir
    target = _target(content, section, slug, lang, config)
    if target.path.exists() or target.path.is_symlink():
        raise CheckFailed(f"{_show(target.path, root)} already exists; not overwriting it "
                          "(choose another --slug, or edit that file)")

    weight = "1"
    date_text = request.date
    if target.translation_of is not None:
        # A translation shares its original's date and weight (`invoke lint` warns when they differ).
        try:
            original = read_front_matter(target.translation_of).data
        except FrontMatterError:
            original = {}
        if date_text is None and isinstance(original.get("date"), (dt.datetime, dt.date)):
            value = original["date"]
            date_text = value.isoformat() if isinstance(value, dt.datetime) else f"{value.isoformat()}T00:00:00"
        original_weight = original.get("weight", 0)  # none is 0 to Hugo: `weight: 0` says the same
        if isinstance(original_weight, int) and not isinstance(original_weight, bool):
            weight = str(original_weight)
    date = post_date(date_text, config, now=now)
    tags = tuple(request.tags)

    created_folders = _check_writable(target.path.parent, root, target.path)
    env = {key: value for key, value in os.environ.items() if not key.startswith(ENV_PREFIX)}
    env.update({
        f"{ENV_PREFIX}TITLE": title,
        f"{ENV_PREFIX}DATE": date,
        f"{ENV_PREFIX}WEIGHT": weight,
        f"{ENV_PREFIX}DRAFT": "true" if request.draft else "false",
        f"{ENV_PREFIX}TAGS": "\n".join(tags),
    })
    cmd = [str(hugo.hugo_binary()), "new", "content", "--kind", ARCHETYPE_KIND, "--source", str(root),
           target.path.relative_to(content).as_posix()]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=root)
    except OSError as err:
        raise UserError(f"cannot run hugo: {err.strerror}") from None
    if proc.returncode != 0 or not target.path.is_file():
        # Hugo writes a placeholder before it renders the archetype: remove what this run created.
        _remove_created(target.path, created_folders)
        raise _hugo_error(proc.stderr + "\n" + proc.stdout, root, archetype)
    try:
        read_front_matter(target.path)
    except FrontMatterError as err:
        _remove_created(target.path, created_folders)
        raise UserError(f"broken archetype: it rendered front matter that does not parse ({err.message})",
                        path=_show(archetype, root)) from None
    return CreatedPost(path=target.path, slug=slug, lang=lang, date=date, translation_of=target.translation_of)


def _remove_created(path: Path, created_folders: list[Path]) -> None:
    if path.is_file():
        path.unlink()
    for folder in created_folders:  # innermost first
        try:
            folder.rmdir()
        except OSError:
            break
