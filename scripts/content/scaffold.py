"""`invoke new-post`: make a slug, then let `hugo new content --kind blog` render archetypes/blog.md into
a new page bundle. Hugo does the rendering so that its own archetype conventions hold; the values reach
the archetype through QWEN_BLOG_* environment variables, and the archetype escapes them.

The file is claimed first, with an exclusive create (O_EXCL), and Hugo then writes into it (--force): of
two runs for the same post exactly one gets it, and a run that fails removes only what it created itself.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import unicodedata
from collections.abc import Iterable
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
# Cyrillic as Russian passports spell it (ICAO Doc 9303), but with the hard sign dropped like the soft sign,
# plus the Ukrainian and Belarusian letters.
_CYRILLIC = str.maketrans({
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z", "и": "i",
    "й": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t",
    "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y", "ь": "",
    "э": "e", "ю": "iu", "я": "ia", "і": "i", "ї": "i", "є": "ie", "ґ": "g", "ў": "u",
})
MAX_UTC_OFFSET = dt.timedelta(hours=14)  # the furthest any time zone is from UTC (Kiribati, +14:00)


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
    """A lower-case ASCII slug: Chinese through pinyin, Cyrillic transliterated, accents dropped, punctuation
    and emoji to hyphens.

    Raises UsageError when the title holds letters that have no ASCII spelling (naming the word and asking
    for --slug), or nothing to make a slug of.
    """
    text = _ascii_spelling(title)
    if _unspelled(text):
        word = next((w for w in re.findall(r"\w+", title) if _unspelled(_ascii_spelling(w))), title)
        raise UsageError(f"cannot make an ASCII slug of {word!r} in the title: pass --slug, like "
                         "--slug my-post (lower-case letters, digits, hyphens)")
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


def _ascii_spelling(text: str) -> str:
    """`text` lower-cased and spelled in ASCII as far as it can be: letters without a spelling are kept."""
    text = unicodedata.normalize("NFKC", text)
    if _HAN.search(text):
        from pypinyin import Style, lazy_pinyin  # loads a large dictionary: only for Chinese titles

        text = " ".join(lazy_pinyin(text, style=Style.NORMAL))
    text = unicodedata.normalize("NFKD", text.lower().translate(_LATIN_EXTRA).translate(_CYRILLIC))
    return "".join(ch for ch in text if unicodedata.category(ch) != "Mn")


def _unspelled(text: str) -> bool:
    return any(not ch.isascii() and unicodedata.category(ch)[0] in "LN" for ch in text)


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
    instant shown in the site's timezone. The offset written is always whole minutes, which Hugo needs:
    before a zone adopted standard time (Asia/Shanghai until 1901: +08:05:43, its local mean time), the
    zone's first standard offset is used instead.
    """
    zone = config.time_zone
    if text is None:
        return _in_zone(now or dt.datetime.now(dt.timezone.utc), zone, "now").isoformat()
    try:
        moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--date {text!r} is not an ISO 8601 date, like 2025-01-28 or "
                         "2025-01-28T23:00:04+08:00") from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=_whole_minute_zone(moment, zone), microsecond=0).isoformat()
    offset = moment.utcoffset()
    if abs(offset) > MAX_UTC_OFFSET:
        raise UsageError(f"--date {text!r} has the UTC offset {_offset_text(offset)}; offsets go from -14:00 "
                         "to +14:00")
    return _in_zone(moment, zone, f"--date {text!r}").isoformat()


def _in_zone(moment: dt.datetime, zone: dt.tzinfo, what: str) -> dt.datetime:
    """The instant `moment` in `zone` (at a whole-minute offset), to the second."""
    try:
        local = moment.astimezone(zone)
        return moment.astimezone(_whole_minute_zone(local.replace(tzinfo=None), zone)).replace(microsecond=0)
    except OverflowError:
        raise UsageError(f"{what} is out of range: in the site's time zone ({zone}) it falls outside the years "
                         "1 to 9999") from None


def _whole_minute_zone(wall: dt.datetime, zone: dt.tzinfo) -> dt.timezone:
    """The fixed offset to write a wall time of `zone` with: the zone's own, or, where that is not whole
    minutes (a local mean time), the first standard offset the zone used afterwards."""
    offset = wall.replace(tzinfo=zone).utcoffset()
    if offset % dt.timedelta(minutes=1):
        offset = next((probe.utcoffset() for year in range(wall.year, 10000) for month in (1, 7)
                       for probe in [dt.datetime(year, month, 1, tzinfo=zone)]
                       if not probe.utcoffset() % dt.timedelta(minutes=1) and not probe.dst()), dt.timedelta(0))
    return dt.timezone(offset)


def _offset_text(offset: dt.timedelta) -> str:
    sign, minutes = ("-" if offset < dt.timedelta(0) else "+"), abs(offset) // dt.timedelta(minutes=1)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


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


@dataclass(frozen=True)
class _Claim:
    """The empty file this run created exclusively, and the folders it made for it (innermost first)."""

    path: Path
    identity: tuple[int, int]  # (st_dev, st_ino): the file is removed only while it is still this one
    folders: tuple[Path, ...]

    def release(self) -> None:
        """Remove what this run created, and nothing else."""
        try:
            info = os.lstat(self.path)
            if (info.st_dev, info.st_ino) == self.identity:
                self.path.unlink()
        except OSError:
            pass
        _remove_folders(self.folders)


def _claim(target: Path, content: Path, root: Path) -> _Claim:
    """Create `target`, empty, with an exclusive create, and the folders it needs. Another run that got there
    first is CheckFailed; anything else that stops it is a UserError naming the real cause."""
    shown = _show(target, root)
    missing: list[Path] = []
    probe = target.parent
    while not probe.exists() and not probe.is_symlink():
        missing.append(probe)
        probe = probe.parent
    for folder in (probe, *probe.parents):
        if folder == content or folder in content.parents:
            break
        if folder.is_symlink():
            raise UserError(f"cannot create {shown}: {_show(folder, root)} is a symlink, and Hugo does not read "
                            "content through symlinked folders; use a real folder")
    if not probe.is_dir():
        what = "a file, not a folder" if probe.is_file() else "not a folder"
        raise UserError(f"cannot create {shown}: {_show(probe, root)} is {what}")
    made: list[Path] = []
    try:
        for folder in reversed(missing):  # outermost first
            try:
                folder.mkdir()
                made.insert(0, folder)
            except FileExistsError:
                if not folder.is_dir() or folder.is_symlink():
                    raise
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
    except FileExistsError:
        _remove_folders(made)
        raise CheckFailed(f"{shown} already exists; not overwriting it (choose another --slug, or edit that file)") \
            from None
    except OSError as err:
        _remove_folders(made)
        raise UserError(f"cannot create {shown}: {_reason(err)}") from None
    info = os.fstat(fd)
    os.close(fd)
    return _Claim(target, (info.st_dev, info.st_ino), tuple(made))


def _remove_folders(folders: Iterable[Path]) -> None:
    for folder in folders:  # innermost first; one that is not empty holds something not ours
        try:
            folder.rmdir()
        except OSError:
            break


def _write_problem(path: Path, size: int) -> str | None:
    """Why `size` bytes cannot be written into our claimed file (a full disk, a quota), or None."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as err:
        return _reason(err)
    try:
        os.write(fd, b"\n" * size)
        os.fsync(fd)
        os.ftruncate(fd, 0)
    except OSError as err:
        return _reason(err)
    finally:
        os.close(fd)
    return None


def _reason(err: OSError) -> str:
    """"no space left on device", "permission denied": the system's own words."""
    return (err.strerror or str(err)).lower()


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
    shown = _show(target.path, root)
    if target.path.exists() or target.path.is_symlink():
        raise CheckFailed(f"{shown} already exists; not overwriting it (choose another --slug, or edit that file)")

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

    env = {key: value for key, value in os.environ.items() if not key.startswith(ENV_PREFIX)}
    env.update({
        f"{ENV_PREFIX}TITLE": title,
        f"{ENV_PREFIX}DATE": date,
        f"{ENV_PREFIX}WEIGHT": weight,
        f"{ENV_PREFIX}DRAFT": "true" if request.draft else "false",
        f"{ENV_PREFIX}TAGS": "\n".join(tags),
    })
    # --force: Hugo writes into the file claimed below, which no other run can have claimed too.
    cmd = [str(hugo.hugo_binary()), "new", "content", "--kind", ARCHETYPE_KIND, "--force", "--source", str(root),
           "--", target.path.relative_to(content).as_posix()]
    claim = _claim(target.path, content, root)
    try:
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=root)
        except OSError as err:
            raise UserError(f"cannot run hugo: {err.strerror}") from None
        if proc.returncode != 0 or not target.path.is_file() or not target.path.stat().st_size:
            # Hugo blames a full disk on "the target path conflicts with existing content": look for it.
            problem = _write_problem(target.path, max(4096, archetype.stat().st_size))
            if problem:
                raise UserError(f"cannot write {shown}: {problem}")
            raise _hugo_error(proc.stderr + "\n" + proc.stdout, root, archetype)
        try:
            read_front_matter(target.path)
        except FrontMatterError as err:
            raise UserError(f"broken archetype: it rendered front matter that does not parse ({err.message})",
                            path=_show(archetype, root)) from None
    except BaseException:
        claim.release()
        raise
    return CreatedPost(path=target.path, slug=slug, lang=lang, date=date, translation_of=target.translation_of)
