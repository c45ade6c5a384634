"""Publish the built site as the new tip of a branch (gh-pages) on a git remote.

The site is built and checked in a private temporary directory, which the snippet sandbox never mounts.
As soon as it is built its files are hashed into a temporary bare repository of its own; after the
checks they are hashed again, and the publish stops if anything changed. The tree committed is the one
hashed before the checks ran, with git plumbing (hash-object, update-index on a private index,
write-tree, commit-tree), and pushed from there. The user's checkout, index, HEAD and branches are never
touched, and nothing is written into the project.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from scripts.check import FAILED, OK, StageContext, StageResult, run_stages
from scripts.errors import EXIT_USAGE, CheckFailed, UsageError
from scripts.reports import last_line
from scripts.snippets.limits import Limits

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"  # git's well-known empty tree

# Variables that would point git at some other repository than the one we name explicitly
# (set, for instance, when invoke runs from inside a git hook).
_REPOSITORY_ENV = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
                   "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_NAMESPACE", "GIT_PREFIX",
                   "GIT_CEILING_DIRECTORIES", "GIT_SHALLOW_FILE")

_DOMAIN = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                     r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")
# Git's scp-like syntax, user@host:path or host:path (a colon before any slash).
_SCP_LIKE = re.compile(r"^(?:[^@/:\s]+@)?[^@/:\s]{2,}:(?!//)")


@dataclass(frozen=True)
class PublishOptions:
    remote: str = "origin"  # a remote of the project's repository, a path, or any git URL
    branch: str = "gh-pages"
    cname: str | None = None  # custom domain written to CNAME
    base_url: str | None = None  # passed to Hugo; hugo.yaml's baseURL otherwise
    message: str | None = None  # commit message; "Publish <source commit>" otherwise
    dry_run: bool = False
    force: bool = False  # publish even when a check fails
    snippet_limits: Limits = Limits()  # the caps on each Python block, as check-snippets takes them


@dataclass(frozen=True)
class FileChange:
    status: str  # "added", "modified" or "deleted"
    path: str


@dataclass(frozen=True)
class CheckOutcome:
    name: str  # the task that runs the same check, e.g. "check-links"
    ok: bool
    report: str


@dataclass(frozen=True)
class SourceState:
    """What the project's own repository says about the source being published."""

    toplevel: Path | None  # None: the project is not in a git repository
    commit: str | None  # HEAD; None outside git or before the first commit
    dirty: bool  # uncommitted or untracked changes under the project
    config: Path | None  # the repository's config file
    remotes: tuple[str, ...] = ()


@dataclass(frozen=True)
class PublishResult:
    remote: str  # as the user named it
    branch: str
    previous: str | None  # the branch's tip before publishing; None if the branch was new
    commit: str | None  # the new tip; None when nothing was committed (unchanged site, dry run)
    message: str
    changes: tuple[FileChange, ...]
    files: int  # files in the published tree
    cname: str | None  # the domain in the published CNAME, if any
    pushed: bool
    dry_run: bool
    checks: tuple[CheckOutcome, ...] = ()

    @property
    def unchanged(self) -> bool:
        return not self.changes

    def summary(self) -> str:
        statuses = ("added", "modified", "deleted")
        return ", ".join(f"{sum(1 for c in self.changes if c.status == status)} {status}" for status in statuses)


def publish(root: Path, options: PublishOptions, *, say: Callable[[str], None] = print) -> PublishResult:
    """Build the production site, check it, and publish it to `options.branch` on `options.remote`.

    Raises CheckFailed (exit 1) when a check fails without --force, or when the push is refused;
    UsageError (exit 2) for bad options.
    """
    root = root.resolve()
    _validate(options)
    source = read_source(root)
    remote = resolve_remote(options.remote, source)
    with tempfile.TemporaryDirectory(prefix="publish-") as tmp:
        # The remote is read first: an unreachable one fails before the build, not after it.
        repo = StagingRepo.create(Path(tmp) / "publish.git", source)
        previous = repo.fetch_branch(remote, options.branch)
        site = Path(tmp) / "site"  # in our private temporary directory, which the snippet sandbox never mounts
        say("building the production site (no drafts, no future posts), then checking it")
        built: list[dict[str, tuple[str, str]]] = []

        def snapshot(stage: StageResult) -> None:  # the built site, into git, before any check runs
            if stage.name == "build" and stage.status == OK:
                built.append(repo.hash_tree(site))

        with _hugo_writes_only_under(Path(tmp)):
            context = StageContext(root=root, site=site, base_url=options.base_url, search=True,
                                   snippet_limits=options.snippet_limits)
            checked = run_stages(context, keep_going=True, on_stage=snapshot)
        for stage in checked.stages:  # the whole report of a failed stage, the summary line of a passed one
            if stage.status == FAILED and stage.name != "build":
                say(stage.report.rstrip())
            elif stage.status == OK:
                say(f"{stage.name}: {stage.summary}")
        build = next(stage for stage in checked.stages if stage.name == "build")
        if build.status != OK:  # nothing to publish: the build's own error, with its exit code
            raise (UsageError if build.exit_code == EXIT_USAGE else CheckFailed)(build.report)
        failed = [stage for stage in checked.stages if stage.status == FAILED]
        names = " and ".join(check.name for check in failed)
        unable = [check.name for check in failed if check.exit_code == EXIT_USAGE]
        if unable and not options.force:  # a check that could not run (no sandbox, bad config) is not a finding
            raise UsageError(f"refusing to publish: {' and '.join(unable)} could not run (see above)")
        if failed and not options.force and not options.dry_run:
            raise CheckFailed(f"refusing to publish: {names} failed (--force publishes anyway)")
        if failed and options.force:
            say(f"warning: publishing although {names} failed (--force)")
        if repo.hash_tree(site) != built[0]:
            raise CheckFailed("the built site changed while it was being checked: nothing was published")
        # What is committed is the tree the checks saw, as it was hashed before they ran.
        result = publish_tree(built[0], repo=repo, previous=previous, source=source, remote=remote,
                              options=options, say=say, display_remote=options.remote)
        if failed and not options.force:  # a dry run: show what would change, then say it would be refused
            raise CheckFailed(f"dry run: {names} failed, so a real publish would be refused (--force publishes anyway)")
    return dataclasses.replace(result, checks=tuple(CheckOutcome(stage.name, stage.status == OK, stage.report)
                                                    for stage in checked.stages))


@contextlib.contextmanager
def _hugo_writes_only_under(tmp: Path) -> Iterator[None]:
    """Keep Hugo from leaving .hugo_build.lock and resources/_gen/ in the project: a publish writes nothing
    there. Hugo reads HUGO_<KEY> variables as config; they are restored on the way out."""
    overrides = {"HUGO_NOBUILDLOCK": "true", "HUGO_RESOURCEDIR": str(tmp / "resources")}
    saved = {key: os.environ.get(key) for key in overrides}
    os.environ.update(overrides)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _validate(options: PublishOptions) -> None:
    # A value that starts with "-" would be read by git as an option (--upload-pack=<command> runs it).
    if not options.remote.strip():
        raise UsageError("--remote must not be empty")
    if options.remote.startswith("-"):
        raise UsageError(f"--remote {options.remote!r} starts with '-', which git would take for an option: "
                         "name a remote, a path (./-name for a folder called so) or a URL")
    if options.branch.startswith("-"):
        raise UsageError(f"--branch {options.branch!r} starts with '-': a branch name must not")
    if options.cname is not None and not _DOMAIN.match(options.cname.strip()):
        raise UsageError(f"--cname takes a domain name such as blog.example.com, got {options.cname!r}")
    if not options.branch or subprocess.run(["git", "check-ref-format", f"refs/heads/{options.branch}"],
                                            capture_output=True).returncode != 0:
        raise UsageError(f"--branch {options.branch!r} is not a valid branch name")
    if options.message is not None and not options.message.strip():
        raise UsageError("--message must not be empty")


def read_source(root: Path) -> SourceState:
    """The project's repository, HEAD and cleanliness; read-only git commands only."""
    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, env=_clean_env())

    top = git("rev-parse", "--show-toplevel")
    if top.returncode != 0:
        return SourceState(toplevel=None, commit=None, dirty=False, config=None)
    toplevel = Path(top.stdout.strip())
    head = git("rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    commit = head.stdout.strip() if head.returncode == 0 else None
    # Only changes under the project count (it may be a folder of a larger repository).
    status = git("status", "--porcelain", "--untracked-files=normal", "--", ".")
    common = git("rev-parse", "--git-common-dir").stdout.strip()
    config = (root / common).resolve() / "config"
    remotes = tuple(git("remote").stdout.split())
    return SourceState(toplevel=toplevel, commit=commit, dirty=bool(status.stdout.strip()),
                       config=config if config.is_file() else None, remotes=remotes)


def default_message(source: SourceState) -> str:
    if source.toplevel is None:
        return "Publish (source not in a git repository)"
    if source.commit is None:
        return "Publish (source has no commit yet)"
    return f"Publish {source.commit}" + (" (with uncommitted changes)" if source.dirty else "")


def resolve_remote(spec: str, source: SourceState) -> str:
    """What to hand git: a remote name of the project's repository, an absolute path, or a URL."""
    if spec in source.remotes:
        return spec  # resolved by git through the project's config (URL, insteadOf, credentials)
    path = Path(spec).expanduser()
    if path.exists():
        return str(path.resolve())
    if "://" in spec or _SCP_LIKE.match(spec):
        return spec
    if source.toplevel is None:
        known = "the project is not a git repository"
    else:
        known = ", ".join(source.remotes) or "it has none"
    raise UsageError(f"--remote {spec!r} is neither a remote of the project ({known}) "
                     "nor an existing path or a git URL")


def publish_tree(
    files: dict[str, tuple[str, str]],
    *,
    repo: StagingRepo,
    previous: str | None,
    source: SourceState,
    remote: str,
    options: PublishOptions,
    say: Callable[[str], None] = print,
    display_remote: str | None = None,
) -> PublishResult:
    """Commit `files` (the site as StagingRepo.hash_tree gives it, plus .nojekyll and CNAME) on top of
    `previous`, the branch's tip fetched into `repo`, and push it as the branch's new tip."""
    shown = display_remote or remote
    index = dict(files)
    index.setdefault(".nojekyll", ("100644", repo.hash_bytes(b"")))  # serve _-prefixed files as they are
    cname = _choose_cname(options, index, repo, previous)
    if cname is not None:
        domain, blob, origin = cname
        index["CNAME"] = ("100644", blob)
        say(f"CNAME {domain} ({origin})")
    tree = repo.write_tree(index)
    old_tree = repo.tree_of(previous) if previous else EMPTY_TREE
    changes = repo.diff(old_tree, tree)
    message = options.message.strip() if options.message else default_message(source)
    base = dict(remote=shown, branch=options.branch, previous=previous, message=message, changes=tuple(changes),
                files=len(index), cname=cname[0] if cname else None, dry_run=options.dry_run)
    if not changes:
        say(f"{options.branch} on {shown} already holds this site: nothing to publish")
        return PublishResult(commit=None, pushed=False, **base)
    if options.dry_run:
        files = f"{len(changes)} file" + ("s" if len(changes) != 1 else "")
        say(f"dry run: publishing to {options.branch} on {shown} would change {files}:")
        for change in changes:
            say(f"  {change.status:<8} {change.path}")
        say(f"with the message {message!r}; nothing was pushed")
        return PublishResult(commit=None, pushed=False, **base)
    commit = repo.commit(tree, previous, message)
    say(f"pushing {commit[:12]} to {options.branch} on {shown}")
    repo.push(remote, commit, options.branch, shown)
    return PublishResult(commit=commit, pushed=True, **base)


def _site_entries(site: Path) -> Iterator[tuple[Path, tuple[str, str]]]:
    """(file, (path in the tree, git mode)) for every file under `site`, in a stable order."""
    for dirpath, dirnames, filenames in os.walk(site):
        dirnames.sort()
        here = Path(dirpath)
        for name in sorted(filenames + [d for d in dirnames if (here / d).is_symlink()]):
            path = here / name
            rel = path.relative_to(site).as_posix()
            if "\n" in rel or "\0" in rel:
                raise UsageError(f"cannot publish a file whose name contains a newline: {path}")
            if path.is_symlink():
                yield path, (rel, "120000")
            else:
                yield path, (rel, "100755" if os.stat(path).st_mode & 0o111 else "100644")


def _choose_cname(options: PublishOptions, index: dict[str, tuple[str, str]], repo: StagingRepo,
                  previous: str | None) -> tuple[str, str, str] | None:
    """(domain, blob, where it came from): --cname, else static/CNAME (copied into the site by Hugo),
    else the CNAME already on the branch, so a custom domain set on GitHub is never dropped."""
    if options.cname:
        domain = options.cname.strip()
        return domain, repo.hash_bytes(f"{domain}\n".encode()), "from --cname"
    if "CNAME" in index:
        blob = index["CNAME"][1]
        return repo.blob_text(blob).strip(), blob, "from static/CNAME"
    if previous:
        blob = repo.blob_at(previous, "CNAME")
        if blob:
            return repo.blob_text(blob).strip(), blob, "kept from the branch"
    return None


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in _REPOSITORY_ENV}


class StagingRepo:
    """A throw-away bare repository with a private index, used for every git write."""

    def __init__(self, git_dir: Path, cwd: Path, env: dict[str, str]):
        self.git_dir = git_dir
        self.cwd = cwd
        self.env = env

    @classmethod
    def create(cls, git_dir: Path, source: SourceState) -> StagingRepo:
        env = _clean_env()
        init = subprocess.run(["git", "init", "--bare", "--quiet", "--template=", str(git_dir)],
                              capture_output=True, text=True, env=env)
        if init.returncode != 0:
            raise UsageError(f"git init failed: {last_line(init.stderr)}")
        hooks = git_dir / "no-hooks"
        hooks.mkdir()
        lines = []
        if source.config is not None:
            # The project's own config gives its remote names, URL rewrites, credential helpers and
            # HTTP headers (actions/checkout keeps its token there); ours, after it, takes precedence.
            lines += ["[include]", f"\tpath = {_config_quote(source.config)}"]
        lines += ["[core]", "\tbare = true", f"\thooksPath = {_config_quote(hooks)}", "\tautocrlf = false",
                  "[gc]", "\tauto = 0"]
        with open(git_dir / "config", "a", encoding="utf-8") as config:
            config.write("\n".join(lines) + "\n")
        env.update(GIT_DIR=str(git_dir), GIT_INDEX_FILE=str(git_dir / "publish-index"))
        env.update(_identity(source))
        # Relative remote URLs in the project's config are relative to its top-level directory.
        return cls(git_dir, source.toplevel or git_dir, env)

    def run(self, *args: str, input: str | bytes | None = None, text: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *args], cwd=self.cwd, env=self.env, input=input, capture_output=True, text=text)

    def checked(self, *args: str, input: str | bytes | None = None) -> str:
        proc = self.run(*args, input=input)
        if proc.returncode != 0:
            raise CheckFailed(f"git {args[0]} failed: {last_line(proc.stderr) or proc.returncode}")
        return proc.stdout

    def fetch_branch(self, remote: str, branch: str) -> str | None:
        """The branch's tip on the remote, fetched (just the tip); None when the branch does not exist."""
        listed = self.run("ls-remote", "--heads", "--", remote, f"refs/heads/{branch}")
        if listed.returncode != 0:
            raise CheckFailed(f"cannot read {remote}: {_git_reason(listed.stderr)}")
        if not listed.stdout.strip():
            return None
        # History is kept on the remote: the new commit only needs the tip as its parent.
        fetched = self.run("fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--depth=1", "--", remote,
                           f"+refs/heads/{branch}:refs/publish/previous")
        if fetched.returncode != 0:
            raise CheckFailed(f"cannot fetch {branch} from {remote}: {_git_reason(fetched.stderr)}")
        return self.checked("rev-parse", "--verify", "refs/publish/previous^{commit}").strip()

    def hash_files(self, paths: list[Path]) -> list[str]:
        """Blobs of the files' exact bytes (no filters, no line-ending or LFS conversion); symlinks as targets."""
        regular = [p for p in paths if not p.is_symlink()]
        shas = iter(self.checked("hash-object", "-w", "--no-filters", "--stdin-paths",
                                 input="".join(f"{p}\n" for p in regular)).split())
        return [self.hash_bytes(os.readlink(p).encode()) if p.is_symlink() else next(shas) for p in paths]

    def hash_tree(self, site: Path) -> dict[str, tuple[str, str]]:
        """Every file under `site` as {path in the tree: (git mode, blob)}, its blob written to the repository."""
        entries = list(_site_entries(site))
        blobs = self.hash_files([path for path, _ in entries])
        return {rel: (mode, blob) for (_, (rel, mode)), blob in zip(entries, blobs)}

    def hash_bytes(self, data: bytes) -> str:
        proc = self.run("hash-object", "-w", "--stdin", input=data, text=False)
        if proc.returncode != 0:
            raise CheckFailed(f"git hash-object failed: {last_line(proc.stderr.decode(errors='replace'))}")
        return proc.stdout.decode().strip()

    def write_tree(self, index: dict[str, tuple[str, str]]) -> str:
        Path(self.env["GIT_INDEX_FILE"]).unlink(missing_ok=True)
        records = "".join(f"{mode} {blob}\t{path}\0" for path, (mode, blob) in sorted(index.items()))
        self.checked("update-index", "--add", "-z", "--index-info", input=records)
        return self.checked("write-tree").strip()

    def tree_of(self, commit: str) -> str:
        return self.checked("rev-parse", f"{commit}^{{tree}}").strip()

    def blob_at(self, commit: str, path: str) -> str | None:
        proc = self.run("rev-parse", "--verify", "--quiet", f"{commit}:{path}")
        return proc.stdout.strip() if proc.returncode == 0 else None

    def blob_text(self, blob: str) -> str:
        return self.checked("cat-file", "blob", blob)

    def diff(self, old_tree: str, new_tree: str) -> list[FileChange]:
        out = self.checked("diff-tree", "-r", "-z", "--no-renames", "--name-status", old_tree, new_tree)
        fields = out.split("\0")
        names = {"A": "added", "D": "deleted"}
        return [FileChange(names.get(status[:1], "modified"), path)
                for status, path in zip(fields[0::2], fields[1::2]) if status]

    def commit(self, tree: str, parent: str | None, message: str) -> str:
        args = ["commit-tree", tree] + (["-p", parent] if parent else [])
        proc = self.run(*args, input=message + "\n")
        if proc.returncode != 0:
            raise UsageError(f"git cannot make the commit: {_git_reason(proc.stderr)} "
                             "(set user.name and user.email with git config)")
        return proc.stdout.strip()

    def push(self, remote: str, commit: str, branch: str, shown: str) -> None:
        # A plain push: the new commit's parent is the tip we fetched, so anything pushed to the branch
        # in the meantime makes this a non-fast-forward, which git refuses rather than overwrite.
        # --no-verify: the project's pre-push hooks are about its source branches, not this one.
        proc = self.run("push", "--porcelain", "--no-verify", "--quiet", "--", remote,
                        f"{commit}:refs/heads/{branch}")
        if proc.returncode == 0:
            return
        reason = None
        for line in proc.stdout.splitlines():
            flag, _, rest = line.partition("\t")
            if flag == "!":
                reason = rest.partition("\t")[2].strip() or rest.strip()
        said = [line.rstrip() for line in proc.stderr.splitlines() if line.startswith("remote:") and line[7:].strip()]
        message = f"push to {branch} on {shown} was refused: {reason or _git_reason(proc.stderr)}"
        raise CheckFailed("\n".join([message, *said]))


def _identity(source: SourceState) -> dict[str, str]:
    """The project's git identity (its own config, conditional includes and environment applied), which
    the temporary repository would otherwise not see."""
    if source.toplevel is None:
        return {}
    env: dict[str, str] = {}
    for role in ("AUTHOR", "COMMITTER"):
        proc = subprocess.run(["git", "-C", str(source.toplevel), "var", f"GIT_{role}_IDENT"],
                              capture_output=True, text=True, env=_clean_env())
        found = re.match(r"^(.*) <(.*)> \d+ [+-]\d{4}$", proc.stdout.strip()) if proc.returncode == 0 else None
        if found:
            env[f"GIT_{role}_NAME"], env[f"GIT_{role}_EMAIL"] = found.group(1), found.group(2)
    return env


def _config_quote(path: Path) -> str:
    return '"' + str(path).replace("\\", "\\\\").replace('"', '\\"') + '"'


_GIT_BOILERPLATE = ("Please make sure you have the correct access rights", "and the repository exists.")


def _git_reason(stderr: str) -> str:
    """git's own explanation on one line: its messages (ssh's too) without prefixes, hints or boilerplate."""
    lines = [re.sub(r"^(fatal|error): ", "", line.strip()) for line in stderr.splitlines()]
    picked = [line for line in lines if line and not line.startswith("hint:") and line not in _GIT_BOILERPLATE]
    return "; ".join(picked) if picked else "git gave no reason"
