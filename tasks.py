"""Tasks for the Qwen blog. Each task parses its options, calls one function in scripts/, and maps
errors to exit codes: 0 ok, 1 a check found problems, 2 bad usage or configuration.

Run `invoke --list` for the tasks and `invoke --help TASK` for a task's options.
"""
from __future__ import annotations

import functools
import sys
from pathlib import Path

from invoke import Exit, Program, task
from invoke.exceptions import ParseError

from scripts.errors import UserError
from scripts.reports import Report, exit_code

ROOT = Path(__file__).resolve().parent
# The Python blocks' caps, as check-snippets, check and publish take them (publish never runs them unsandboxed).
SNIPPET_HELP = {
    "timeout": "Seconds each Python block may run before it is killed (default 10)",
    "memory": "Memory each process of a Python block may use, e.g. 512M, 2G (default 1G)",
    "cpu_time": "CPU seconds each process of a Python block may use (default: as many as --timeout)",
    "max_output": "What a Python block may print, and the largest file it may write (default 64M)",
    "unsandboxed": "Run Python blocks without the sandbox: they can then read and change what you can",
}


def _parse_errors_exit_2(parse_tasks):
    """invoke exits 1 on an unknown option or task, which reads as "a check found problems"; here bad usage
    is exit 2, as for every other usage error."""

    @functools.wraps(parse_tasks)
    def wrapper(program: Program) -> None:
        try:
            parse_tasks(program)
        except ParseError as err:
            raise Exit(f"error: {err}", code=2) from None

    return wrapper


if not hasattr(Program.parse_tasks, "__wrapped__"):  # invoke imports this file once; tests may import it again
    Program.parse_tasks = _parse_errors_exit_2(Program.parse_tasks)


def user_errors(fn):
    """Turn a UserError into its one-line message and exit code; keep tracebacks for real bugs."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except UserError as err:
            raise Exit(f"error: {err}", code=err.exit_code) from None
        except KeyboardInterrupt:
            raise Exit("interrupted", code=130) from None

    return wrapper


def snippet_limits(timeout, memory, cpu_time, max_output):
    """The caps on each Python block from the SNIPPET_HELP options; a value out of range is a usage error."""
    from scripts.snippets.limits import make_limits

    return make_limits(timeout=_number("--timeout", timeout, float), memory=memory,
                       cpu_time=_number("--cpu-time", cpu_time, float), max_output=max_output)


def finish(report: Report, text: str | None = None, *, code: int | None = None) -> None:
    """Print a task's report (or `text`, its rendering with the task's options) and exit as it says."""
    print(report.render() if text is None else text)
    if not report.ok:
        raise Exit(code=exit_code(report) if code is None else code)


@task(
    help={
        "base_url": "Absolute URL the site will be served from (overrides baseURL in hugo.yaml)",
        "drafts": "Include pages with draft: true",
        "future": "Include pages dated in the future",
        "no_search": "Skip the Pagefind search index (a faster build; the search page then finds nothing)",
    }
)
@user_errors
def build(c, base_url=None, drafts=False, future=False, no_search=False):
    """Render the site into site/ with Hugo."""
    from scripts.site.build import SEARCH_CACHE, build_site

    result = build_site(ROOT, base_url=base_url, drafts=drafts, future=future, search=not no_search,
                        search_cache=ROOT / SEARCH_CACHE)
    print(f"built {result.pages} pages into {result.destination.relative_to(ROOT) if result.destination.is_relative_to(ROOT) else result.destination}")
    if result.search is not None:
        index = result.search
        languages = ", ".join(f"{lang} {count}" for lang, count in index.pages_by_language.items())
        kept = ("; kept: no indexed text changed" if index.reused
                else f"; {index.indexed} of {index.groups} language groups re-indexed" if index.indexed < index.groups
                else "")
        print(f"indexed {index.pages} pages for search ({languages}){kept}")


@task(
    help={
        "port": "Port on 127.0.0.1 (default 1313)",
        "drafts": "Include pages with draft: true",
        "future": "Include pages dated in the future",
    }
)
@user_errors
def serve(c, port=1313, drafts=False, future=False):
    """Serve the site on 127.0.0.1 with Hugo's live reload."""
    from scripts.site.serve import serve_site

    serve_site(ROOT, port=int(port), drafts=drafts, future=future)


@task
@user_errors
def clean(c):
    """Remove the built site (site/), Hugo's caches (resources/_gen, .hugo_build.lock) and .cache/search."""
    from scripts.site.build import clean_site

    for removed in clean_site(ROOT):
        print(f"removed {removed.relative_to(ROOT)}")


@task(
    help={
        "title": "The post's title (required); quotes and backslashes are escaped for you",
        "slug": "Folder name under content/<section>/: [a-z0-9][a-z0-9.-]* (default: from the title, pinyin for Chinese)",
        "lang": "Language of the file: en writes index.md, zh writes index.zh.md (default: en)",
        "section": "Content section (default: blog)",
        "date": "Publication date, ISO 8601 (default: now; a translation takes its original's); "
                "written with the offset of hugo.yaml's timeZone",
        "draft": "Write draft: true",
        "tags": "Comma-separated tags, like Research,LLM",
    }
)
@user_errors
def new_post(c, title=None, slug=None, lang=None, section="blog", date=None, draft=False, tags=None):
    """Create a post from archetypes/blog.md (via hugo new content) and print its path."""
    from scripts.content.scaffold import PostRequest, create_post, parse_tags

    request = PostRequest(title=title, slug=slug, lang=lang, section=section, date=date, draft=draft,
                          tags=parse_tags(tags))
    print(create_post(ROOT, request).path.relative_to(ROOT))


@task(help={"strict": "Treat warnings as errors (exit 1 on any finding)"})
@user_errors
def lint(c, strict=False):
    """Check the front matter and shortcodes of every page in content/."""
    from scripts.content.lint import lint_content

    finish(lint_content(ROOT / "content", strict=strict))


@task(
    help={
        "k": "Only tests matching this pytest -k expression",
        "jobs": "Parallel pytest workers (default: auto)",
    }
)
@user_errors
def test(c, k=None, jobs="auto"):
    """Run the test suite with pytest (real Hugo, real browser where installed)."""
    from scripts.errors import require_dev_package

    for module in ("pytest", "xdist"):
        require_dev_package(module, "invoke test")
    args = [sys.executable, "-m", "pytest", "-n", str(jobs)]
    if k:
        args += ["-k", k]
    result = c.run(" ".join(_quote(a) for a in args), pty=False, warn=True)
    if result.exited:
        raise Exit(code=result.exited)


@task(
    help={
        "remote": "Where to push: a remote of this repository, a path or a git URL (default: origin)",
        "branch": "Branch that receives the site (default: gh-pages)",
        "cname": "Custom domain for CNAME (default: static/CNAME, else the CNAME already on the branch)",
        "base_url": "Absolute URL the site will be served from (overrides baseURL in hugo.yaml)",
        "message": "Commit message (default: 'Publish <source commit>')",
        "dry_run": "Build and check, then list the files that would change; push nothing",
        "force": "Publish even if the link or snippet check fails",
        **{name: text for name, text in SNIPPET_HELP.items() if name != "unsandboxed"},  # samples run sandboxed
    }
)
@user_errors
def publish(c, remote="origin", branch="gh-pages", cname=None, base_url=None, message=None, dry_run=False,
            force=False, timeout=None, memory=None, cpu_time=None, max_output=None):
    """Build, check and push the site to a gh-pages branch of a git remote."""
    from scripts.site.publish import PublishOptions, publish as publish_site

    options = PublishOptions(remote=remote, branch=branch, cname=cname, base_url=base_url, message=message,
                             dry_run=dry_run, force=force,
                             snippet_limits=snippet_limits(timeout, memory, cpu_time, max_output))
    result = publish_site(ROOT, options)
    if result.pushed:
        print(f"published {result.commit} to {result.branch} on {result.remote} ({result.summary()}): {result.message}")


@task(
    help={
        "page": "Site path of the page to measure (default: the Chinese announcement, zh/blog/qwen2.5-max/)",
        "lighthouse": "Run Lighthouse (default on; --no-lighthouse reports only axe and page weight)",
        "strict": "Exit 1 when a budget is missed (default: report only)",
        "lighthouse_report": "Also keep Lighthouse's full JSON report at this path (must not exist)",
    }
)
@user_errors
def audit(c, page="zh/blog/qwen2.5-max/", lighthouse=True, strict=False, lighthouse_report=None):
    """Report Lighthouse scores, axe violations and page weight of the post, built and served locally."""
    from scripts.perf.audit import audit_site, report_lines

    report = audit_site(ROOT, page=page, lighthouse=lighthouse,
                        lighthouse_report=Path(lighthouse_report) if lighthouse_report else None)
    print("\n".join(report_lines(report)))
    if strict and report.budget_misses():
        raise Exit(code=1)


@task(
    help={
        "no_build": "Check site/ as it is, without building it first",
        "crawl": "Serve the site on 127.0.0.1 and crawl it with LinkChecker (as CI does; slower)",
    }
)
@user_errors
def check_links(c, no_build=False, crawl=False):
    """Check that every internal link, image and #anchor of the built site resolves (both languages)."""
    from scripts.links.internal import check_links as run_check

    finish(run_check(ROOT, build=not no_build, crawl=crawl))


@task(
    iterable=["include", "exclude"],
    auto_shortflags=False,  # -n would be ambiguous (--no-build, --no-cache): long names only
    help={
        "include": "Only check URLs matching this regex (repeatable)",
        "exclude": "Skip URLs matching this regex (repeatable)",
        "no_cache": "Recheck every URL, ignoring successes cached in .cache/links.json",
        "fragments": "Also check that #fragments exist on external HTML pages",
        "format": "Output format: text (default) or json",
        "no_build": "Check site/ as it is, without building it first",
    }
)
@user_errors
def check_external(c, include=None, exclude=None, no_cache=False, fragments=False, format="text",
                   no_build=False):
    """Check every external link, image and video of the built site over HTTP (polite, cached)."""
    from scripts.links.external import run_check_external

    report = run_check_external(ROOT, include=include or [], exclude=exclude or [], use_cache=not no_cache,
                                fragments=fragments, output_format=format, build=not no_build,
                                progress=sys.stderr.isatty())
    finish(report, report.render(format))


@task(
    help={
        **SNIPPET_HELP,
        "workers": "Warm worker processes running Python blocks (default: one per CPU core)",
        "verbose": "Also print what each passing Python block printed",
        "no_shellcheck": "Only `bash -n` shell blocks; skip ShellCheck",
    }
)
@user_errors
def check_snippets(c, timeout=None, memory=None, cpu_time=None, max_output=None, unsandboxed=False, workers=None,
                   verbose=False, no_shellcheck=False):
    """Check every code block in content/: run Python (offline, sandboxed, against an OpenAI stub), parse the rest."""
    from scripts.snippets.check import check_snippets as check

    limits = snippet_limits(timeout, memory, cpu_time, max_output)
    report = check(ROOT / "content", project_root=ROOT, limits=limits, workers=_number("--workers", workers, int),
                   shellcheck=not no_shellcheck, sandboxed=not unsandboxed)
    finish(report, report.render(verbose=verbose))


@task(help={"strict": "Lint with warnings as errors", **SNIPPET_HELP})
@user_errors
def check(c, strict=False, timeout=None, memory=None, cpu_time=None, max_output=None, unsandboxed=False):
    """Run lint, build, check-links and check-snippets in order; stop at the first that fails."""
    from scripts.check import run_check

    def show(stage):
        print(f"== {stage.name}: {stage.status} ({stage.seconds:.2f}s)", flush=True)
        if stage.report and (stage.status != "ok" or stage.report != stage.summary):
            print(stage.report, flush=True)

    limits = snippet_limits(timeout, memory, cpu_time, max_output)
    result = run_check(ROOT, strict=strict, snippet_limits=limits, sandboxed=not unsandboxed, on_stage=show)
    print()
    finish(result, code=result.exit_code)


@task(
    help={
        "posts": "Posts in the generated bilingual site (default 1000; two pages each)",
        "runs": "Runs of each step; the table shows the median (default 3)",
        "output": "Where to write the results as JSON (default bench-results/bench-<posts>.json)",
        "seed": "Seed of the generated content (default 0); the same seed writes the same site",
        "only": "Comma-separated steps to run: hugo, build_hugo, pagefind, build, build_cached, rebuild, serve, "
                "lint, check_links, linkchecker, snippets, check; with --reference-theme also reference, "
                "reference_serve (default: all)",
        "baseline": "An earlier bench JSON (e.g. at 1000 posts) to show how time scales against",
        "keep": "Keep the generated project and print where it is",
        "reference_theme": "A Hugo theme checkout (e.g. PaperMod) to build and serve the same content with, "
                           "as reference rows",
    }
)
@user_errors
def bench(c, posts=1000, runs=3, output=None, seed=0, only=None, baseline=None, keep=False, reference_theme=None):
    """Time build, serve, lint, link and snippet checks on a generated N-post site, against bare Hugo,
    LinkChecker and (with --reference-theme) a reference theme."""
    from scripts.perf.bench import load_baseline, run_bench, write_json

    posts, runs, seed = _number("--posts", posts, int), _number("--runs", runs, int), _number("--seed", seed, int)
    steps = {name.strip() for name in only.split(",") if name.strip()} if only else None
    earlier = load_baseline(Path(baseline)) if baseline else None
    result = run_bench(ROOT, posts=posts, runs=runs, seed=seed, only=steps, baseline=earlier, keep=keep,
                       reference_theme=Path(reference_theme).expanduser() if reference_theme else None,
                       progress=lambda line: print(line, file=sys.stderr, flush=True))
    print(result.render())
    path = Path(output) if output else ROOT / "bench-results" / f"bench-{posts}.json"
    write_json(result, path)
    print(f"\nwrote {path}")

def _number(option: str, value, kind):
    """An optional numeric option, or a one-line usage error naming it."""
    if value is None:
        return None
    try:
        return kind(value)
    except ValueError:
        from scripts.errors import UsageError

        raise UsageError(f"{option} expects a number, not {value!r}") from None


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)
