"""`invoke publish`: real builds, real checks, real git, against bare repositories in temp directories."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser

from scripts.errors import CheckFailed, UsageError
from scripts.site.publish import PublishOptions, default_message, publish, read_source
from tests.conftest import ROOT, copy_project

POST = "blog/qwen2.5-max/index.html"
REJECTING_HOOK = "#!/bin/sh\necho 'deploys are frozen until Monday' >&2\nexit 1\n"


def git(cwd: Path, *args: str, input: str | None = None) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True, check=True,
                          input=input).stdout


def bare_repo(where: Path, name: str) -> Path:
    path = where / name
    subprocess.run(["git", "init", "--quiet", "--bare", str(path)], check=True)
    return path


def remote_state(remote: Path) -> tuple[str, str]:
    """Every ref and every object of a repository: equal before and after means nothing changed."""
    refs = git(remote, "for-each-ref", "--format=%(objectname) %(refname)")
    objects = git(remote, "cat-file", "--batch-all-objects", "--batch-check=%(objectname)")
    return refs, objects


def tree(remote: Path, ref: str = "gh-pages") -> set[str]:
    return set(git(remote, "ls-tree", "-r", "--name-only", ref).splitlines())


def show(remote: Path, path: str, ref: str = "gh-pages") -> str:
    return git(remote, "show", f"{ref}:{path}")


def write_post(root: Path, slug: str, front_matter: str, body: str = "Some text.\n") -> None:
    post = root / "content" / "blog" / slug
    post.mkdir(parents=True)
    (post / "index.md").write_text(f"---\n{front_matter}---\n\n{body}", encoding="utf-8")


@pytest.fixture(scope="module", autouse=True)
def git_config(tmp_path_factory: pytest.TempPathFactory):
    """A private global git config, so the tests neither depend on nor touch the machine's."""
    config = tmp_path_factory.mktemp("gitconfig") / "config"
    config.write_text("[user]\n\tname = Global Tester\n\temail = global@example.org\n"
                      "[init]\n\tdefaultBranch = main\n", encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GIT_CONFIG_GLOBAL", str(config))
        patch.setenv("GIT_CONFIG_NOSYSTEM", "1")
        for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "GIT_DIR"):
            patch.delenv(var, raising=False)
        yield


@pytest.fixture(scope="module")
def workspace():
    # Under /tmp and readable by others: LinkChecker-based checks run as `nobody` when we are root.
    path = Path(tempfile.mkdtemp(prefix="publish-tests-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def source(workspace: Path) -> Path:
    """A git checkout of the project (tasks.py and scripts/ included, so `invoke publish` runs in it) with a
    draft and a future post added, and `origin` pointing at an empty bare repository."""
    root = copy_project(workspace / "project")
    shutil.copy2(ROOT / "tasks.py", root / "tasks.py")
    shutil.copy2(ROOT / ".gitignore", root / ".gitignore")
    shutil.copytree(ROOT / "scripts", root / "scripts", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "static" / "CNAME").unlink(missing_ok=True)
    write_post(root, "draft-post", 'title: "A draft"\ndate: 2025-01-01T00:00:00+08:00\ndraft: true\n')
    write_post(root, "future-post", 'title: "From the future"\ndate: 2999-01-01T00:00:00+08:00\n')
    git(root, "init", "--quiet")
    git(root, "config", "user.name", "Source Author")
    git(root, "config", "user.email", "source@example.org")
    git(root, "add", "--all")
    git(root, "commit", "--quiet", "-m", "the blog")
    bare_repo(workspace, "origin.git")
    git(root, "remote", "add", "origin", "../origin.git")  # relative, as git allows
    return root


def checkout_state(root: Path) -> dict[str, object]:
    """Everything of the user's checkout that publishing must leave alone."""
    files = sorted((str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime_ns)
                   for p in root.rglob("*") if ".git" not in p.relative_to(root).parts[:1])
    return {
        "HEAD": (root / ".git" / "HEAD").read_bytes(),
        "index": (root / ".git" / "index").read_bytes(),
        "refs": git(root, "for-each-ref"),
        "config": (root / ".git" / "config").read_bytes(),
        "status": git(root, "--no-optional-locks", "status", "--porcelain", "--ignored", "--untracked-files=all"),
        "files": files,
    }


def run_invoke(cwd: Path, *args: str, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}  # so Python itself writes nothing into the checkout
    return subprocess.run([*prefix, sys.executable, "-m", "invoke", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=240)


@dataclass
class CliPublish:
    proc: subprocess.CompletedProcess[str]
    before: dict[str, object]
    after: dict[str, object]
    remote: Path


@pytest.fixture(scope="module")
def published(source: Path, workspace: Path) -> CliPublish:
    """`invoke publish --cname blog.example.com` run in the checkout, to its default remote (origin)."""
    before = checkout_state(source)
    proc = run_invoke(source, "publish", "--cname", "blog.example.com")
    return CliPublish(proc, before, checkout_state(source), workspace / "origin.git")


def test_publish_puts_both_languages_nojekyll_and_cname_on_the_branch(published: CliPublish):
    assert published.proc.returncode == 0, published.proc.stdout + published.proc.stderr
    files = tree(published.remote)
    assert {"index.html", "zh/index.html", POST, f"zh/{POST}", ".nojekyll", "CNAME"} <= files
    assert show(published.remote, ".nojekyll") == ""
    assert show(published.remote, "CNAME") == "blog.example.com\n"
    english, chinese = (LexborHTMLParser(show(published.remote, path)) for path in (POST, f"zh/{POST}"))
    assert english.css_first("html").attributes["lang"].startswith("en")
    assert chinese.css_first("html").attributes["lang"].startswith("zh")
    tip = git(published.remote, "rev-parse", "gh-pages").strip()
    assert f"published {tip} to gh-pages on origin" in published.proc.stdout


def test_drafts_and_future_posts_are_not_published(published: CliPublish):
    files = tree(published.remote)
    assert not [f for f in files if "draft-post" in f or "future-post" in f]
    home = LexborHTMLParser(show(published.remote, "index.html"))
    hrefs = [a.attributes.get("href") or "" for a in home.css("a")]
    assert any("qwen2.5-max" in href for href in hrefs)  # the published post is linked ...
    assert not [h for h in hrefs if "draft-post" in h or "future-post" in h]  # ... the others are not


def test_message_names_the_source_commit_and_author(published: CliPublish, source: Path):
    head = git(source, "rev-parse", "HEAD").strip()
    subject, author, parents = git(published.remote, "log", "-1", "--format=%s%n%an%n%P", "gh-pages").splitlines()
    assert subject == f"Publish {head}"
    assert author == "Source Author"  # the project's identity, not only the global one
    assert parents == ""  # a new branch starts its own history


def test_the_checkout_is_untouched(published: CliPublish, source: Path):
    assert published.proc.returncode == 0
    assert published.after == published.before
    assert not (source / ".cache" / "search").exists(), "publish indexes its own build without the search cache"
    assert git(source, "branch", "--list") == "* main\n"


def test_publishing_the_same_site_again_makes_no_commit(published: CliPublish, source: Path):
    before = remote_state(published.remote)
    said: list[str] = []
    # No --cname this time: the CNAME on the branch is kept, so the tree is the same.
    result = publish(source, PublishOptions(), say=said.append)
    assert result.unchanged and result.commit is None and not result.pushed
    assert result.cname == "blog.example.com"
    assert remote_state(published.remote) == before
    assert any("nothing to publish" in line for line in said)


def test_a_broken_link_refuses_to_publish_and_force_overrides(project: Path, workspace: Path):
    write_post(project, "broken-link", 'title: "Broken"\ndate: 2025-01-02T00:00:00+08:00\n',
               "Read [the details](/blog/no-such-post/).\n")
    (project / "static" / "CNAME").write_text("docs.example.net\n", encoding="utf-8")
    remote = bare_repo(Path(tempfile.mkdtemp(dir=workspace)), "site.git")
    said: list[str] = []
    with pytest.raises(CheckFailed) as refused:
        publish(project, PublishOptions(remote=str(remote)), say=said.append)
    assert refused.value.exit_code == 1
    assert "refusing to publish: check-links failed" in str(refused.value) and "--force" in str(refused.value)
    assert any("/blog/no-such-post/" in line for line in said)  # the link report was shown
    assert remote_state(remote) == ("", "")

    said.clear()
    result = publish(project, PublishOptions(remote=remote.as_uri(), force=True), say=said.append)  # a file:// URL
    assert result.pushed
    assert "warning: publishing although check-links failed (--force)" in said
    assert "blog/broken-link/index.html" in tree(remote)
    assert show(remote, "CNAME") == "docs.example.net\n"  # static/CNAME, as Hugo copied it
    # The project copy is not a git repository, and the message says so.
    assert git(remote, "log", "-1", "--format=%s", "gh-pages").strip() == "Publish (source not in a git repository)"


TAMPERED = "<script>tampered()</script>"


def test_a_sample_cannot_reach_the_site_being_published(project: Path, workspace: Path):
    # The snippet check runs while the built site waits in /tmp/publish-*/site to be pushed.
    write_post(project, "tamper", 'title: "Tamper"\ndate: 2025-01-02T00:00:00+08:00\n', f"""```python
import glob
pages = glob.glob("/tmp/publish-*/site/**/*.html", recursive=True)
for page in pages:
    with open(page, "a") as html:
        html.write({TAMPERED!r})
print(len(pages), "pages found")
```
""")
    remote = bare_repo(Path(tempfile.mkdtemp(dir=workspace)), "site.git")
    result = publish(project, PublishOptions(remote=str(remote)), say=lambda line: None)
    assert result.pushed
    pages = [path for path in tree(remote) if path.endswith(".html")]
    assert "blog/tamper/index.html" in pages
    assert [path for path in pages if TAMPERED in show(remote, path)] == []


# A user namespace in which no further one may be made: the kernel refuses the snippet sandbox's.
NO_NAMESPACES = ("unshare", "--user", "--map-root-user", "sh", "-c",
                 'echo 0 > /proc/sys/user/max_user_namespaces && exec "$@"', "sh")


def test_without_a_sandbox_nothing_is_published_and_the_exit_says_a_check_could_not_run(source: Path,
                                                                                          workspace: Path):
    remote = bare_repo(Path(tempfile.mkdtemp(dir=workspace)), "site.git")
    refused = run_invoke(source, "publish", "--remote", str(remote), prefix=NO_NAMESPACES)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert refused.stderr.splitlines() == ["error: refusing to publish: check-snippets could not run (see above)"]
    assert "the snippet sandbox cannot start" in refused.stdout and "sysctl" in refused.stdout  # the fix
    assert remote_state(remote) == ("", "")
    # Samples are never run unconfined on their way to the site.
    refused = run_invoke(source, "publish", "--unsandboxed")
    assert (refused.returncode, refused.stderr) == (2, "error: No idea what '--unsandboxed' is!\n")


def test_a_site_changed_while_it_is_checked_is_not_published(project: Path, workspace: Path,
                                                               monkeypatch: pytest.MonkeyPatch):
    import scripts.check

    def tamper(context: scripts.check.StageContext):  # whatever might change the site during the checks
        with open(context.site / "index.html", "a", encoding="utf-8") as html:
            html.write(TAMPERED)
        return scripts.check.STAGES[0].run(context)  # the lint report: passes

    monkeypatch.setattr(scripts.check, "STAGES", (*scripts.check.STAGES, scripts.check.Stage("tamper", tamper)))
    remote = bare_repo(Path(tempfile.mkdtemp(dir=workspace)), "site.git")
    with pytest.raises(CheckFailed) as refused:
        publish(project, PublishOptions(remote=str(remote)), say=lambda line: None)
    assert str(refused.value) == "the built site changed while it was being checked: nothing was published"
    assert remote_state(remote) == ("", "")


def test_a_rejected_push_leaves_the_remote_as_it_was(source: Path, workspace: Path):
    remote = bare_repo(Path(tempfile.mkdtemp(dir=workspace)), "hooked.git")
    old_site = seed_branch(remote, workspace, {"index.html": "<p>old</p>\n"})
    hook = remote / "hooks" / "pre-receive"
    hook.write_text(REJECTING_HOOK, encoding="utf-8")
    hook.chmod(0o755)
    before = remote_state(remote)

    proc = run_invoke(source, "publish", "--remote", str(remote))

    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert "pre-receive hook declined" in proc.stderr
    assert "remote: deploys are frozen until Monday" in proc.stderr
    assert remote_state(remote) == before
    assert git(remote, "rev-parse", "gh-pages").strip() == old_site


def seed_branch(remote: Path, workspace: Path, *commits: dict[str, str]) -> str:
    """Push a gh-pages branch with one commit per dict of files (each commit's files replace the last)."""
    clone = Path(tempfile.mkdtemp(dir=workspace)) / "seed"
    git(workspace, "init", "--quiet", "-b", "gh-pages", str(clone))
    for number, files in enumerate(commits):
        for old in git(clone, "ls-files").splitlines():
            (clone / old).unlink()
        for name, text in files.items():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            (clone / name).write_text(text, encoding="utf-8")
        git(clone, "add", "--all")
        git(clone, "commit", "--quiet", "-m", f"old site {number}")
    git(clone, "push", "--quiet", str(remote), "gh-pages")
    return git(clone, "rev-parse", "HEAD").strip()


def test_an_existing_branch_keeps_its_history_and_its_cname(source: Path, workspace: Path):
    remote = bare_repo(Path(tempfile.mkdtemp(dir=workspace)), "pages.git")
    old_tip = seed_branch(remote, workspace,
                          {"old.html": "<p>1</p>\n", "CNAME": "blog.example.org\n"},
                          {"old.html": "<p>2</p>\n", "index.html": "<p>2</p>\n", "CNAME": "blog.example.org\n"})
    before = remote_state(remote)

    said: list[str] = []
    dry = publish(source, PublishOptions(remote=str(remote), dry_run=True), say=said.append)
    assert not dry.pushed and dry.commit is None
    assert remote_state(remote) == before
    assert "  deleted  old.html" in said
    assert "  modified index.html" in said
    assert f"  added    {POST}" in said
    assert "CNAME blog.example.org (kept from the branch)" in said

    result = publish(source, PublishOptions(remote=str(remote), message="Deploy the blog"), say=lambda _: None)
    assert result.pushed and result.previous == old_tip
    assert git(remote, "rev-parse", "gh-pages^").strip() == old_tip
    assert git(remote, "rev-list", "--count", "gh-pages").strip() == "3"
    assert git(remote, "log", "-1", "--format=%s", "gh-pages").strip() == "Deploy the blog"
    assert show(remote, "CNAME") == "blog.example.org\n"
    files = tree(remote)
    assert "old.html" not in files and POST in files
    assert {(c.status, c.path) for c in result.changes} >= {("deleted", "old.html"), ("modified", "index.html")}


def test_an_unknown_remote_is_a_usage_error_without_traceback(source: Path):
    proc = run_invoke(source, "publish", "--remote", "upstream")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "--remote 'upstream' is neither a remote of the project (origin)" in proc.stderr


@pytest.mark.parametrize("options, complaint", [
    (PublishOptions(cname="https://blog.example.com/"), "--cname takes a domain name"),
    (PublishOptions(cname="-blog.example.com"), "--cname takes a domain name"),
    (PublishOptions(branch="gh..pages"), "is not a valid branch name"),
    (PublishOptions(branch="-x"), "--branch '-x' starts with '-'"),
    (PublishOptions(branch="--force"), "--branch '--force' starts with '-'"),
    (PublishOptions(remote="/no/such/repository.git"), "neither a remote"),
    (PublishOptions(remote="--receive-pack=touch X"), "--remote '--receive-pack=touch X' starts with '-'"),
    (PublishOptions(remote="-oProxyCommand=touch X:repo"), "starts with '-'"),
    (PublishOptions(remote=""), "--remote must not be empty"),
])
def test_bad_options_are_refused_before_building(project: Path, options: PublishOptions, complaint: str):
    with pytest.raises(UsageError) as refused:
        publish(project, options, say=lambda _: None)
    assert refused.value.exit_code == 2 and complaint in str(refused.value)
    assert not (project / ".hugo_build.lock").exists()


@pytest.mark.parametrize("args", [
    ["--remote", "--upload-pack=touch${IFS}PWNED;:"],
    ["--branch=--upload-pack=touch${IFS}PWNED;:"],
])
def test_an_option_in_disguise_exits_2_and_runs_nothing(source: Path, workspace: Path, args: list[str]):
    before = remote_state(workspace / "origin.git")
    proc = run_invoke(source, "publish", *args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "starts with '-'" in proc.stderr
    assert proc.stdout == ""  # not even the build started
    assert not list(source.rglob("PWNED")) and not list(workspace.rglob("PWNED"))
    assert remote_state(workspace / "origin.git") == before


def test_the_message_tells_a_dirty_source_apart(workspace: Path):
    repo = Path(tempfile.mkdtemp(dir=workspace))
    git(repo, "init", "--quiet")
    (repo / "post.md").write_text("one\n", encoding="utf-8")
    git(repo, "add", "post.md")
    git(repo, "commit", "--quiet", "-m", "one")
    head = git(repo, "rev-parse", "HEAD").strip()
    assert default_message(read_source(repo)) == f"Publish {head}"
    (repo / "post.md").write_text("two\n", encoding="utf-8")
    assert default_message(read_source(repo)) == f"Publish {head} (with uncommitted changes)"


def test_an_unreachable_remote_fails_with_gits_reason_before_building(project: Path, workspace: Path):
    said: list[str] = []
    missing = (workspace / "no-such-repository.git").as_uri()
    with pytest.raises(CheckFailed) as failed:
        publish(project, PublishOptions(remote=missing), say=said.append)
    assert failed.value.exit_code == 1
    assert str(failed.value).startswith(f"cannot read {missing}: ")
    assert "does not appear to be a git repository" in str(failed.value)
    assert not [line for line in said if line.startswith("building")]
