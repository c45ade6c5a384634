"""`invoke check-external`: every case runs against an HTTP server this module starts on 127.0.0.1.

The server records each request (method, path, when) and how many were in flight at once, so the tests
can assert what the checker actually sent: retries, the HEAD-then-GET fallback, the per-host limit and
the cache that makes a second run silent.
"""
from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from scripts.errors import UsageError
from scripts.links.external import check_external
from scripts.links.settings import ExternalConfig, load_config
from scripts.site.build import build_site
from tests.conftest import ROOT, copy_project

# Small timeouts keep the slow-endpoint and retry cases fast; the logic is the same as with the defaults.
FAST = ExternalConfig(connect_timeout=1.0, read_timeout=0.3, tries=3, backoff=0.05, retry_after_cap=5.0)
SLOW_ENDPOINT_SECONDS = 3.0
REDIRECT_TARGETS = {
    "file": "file:///etc/passwd",
    "ftp": "ftp://ftp.example.org/pub/",
    "javascript": "javascript:alert(document.cookie)",
    "data": "data:text/html,<script>alert(1)</script>",
    "metadata": "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "metadata-v6": "http://[fd00:ec2::254]/latest/meta-data/",
}


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str, float]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.hits: dict[str, int] = {}
        self.on_request = lambda: None  # a test's hook, run as each request arrives

    def paths(self, method: str | None = None) -> list[str]:
        return [p for m, p, _ in self.requests if method is None or m == method]


class Handler(BaseHTTPRequestHandler):
    recorder: Recorder
    protocol_version = "HTTP/1.1"
    counted_in_flight = False  # whether this connection's current request is in recorder.in_flight

    def log_message(self, format, *args):  # noqa: A002
        pass

    def _leave_flight(self) -> None:
        # Before the answer goes out: once the checker has it, it may start its next request at once, which
        # must not find this one still counted.
        if self.counted_in_flight:
            self.counted_in_flight = False
            with self.recorder.lock:
                self.recorder.in_flight -= 1

    def _answer(self, status: int, body: bytes = b"", headers: dict | None = None) -> None:
        self._leave_flight()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self) -> None:
        rec = self.recorder
        path = self.path
        with rec.lock:
            rec.requests.append((self.command, path, time.monotonic()))
            rec.hits[path] = rec.hits.get(path, 0) + 1
            hit = rec.hits[path]
            rec.in_flight += 1
            rec.max_in_flight = max(rec.max_in_flight, rec.in_flight)
        self.counted_in_flight = True
        rec.on_request()
        try:
            self._route(path, hit)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the checker gave up waiting, as it should
        finally:
            self._leave_flight()

    def _route(self, path: str, hit: int) -> None:
        html = {"Content-Type": "text/html; charset=utf-8"}
        if path == "/ok":
            self._answer(200, b"fine", {"Content-Type": "text/plain"})
        elif path == "/missing":
            self._answer(404)
        elif path == "/gone":
            self._answer(410)
        elif path == "/moved":
            self._answer(301, headers={"Location": "/ok"})
        elif path in ("/loop-a", "/loop-b"):
            self._answer(302, headers={"Location": "/loop-b" if path == "/loop-a" else "/loop-a"})
        elif path == "/rate-limited":
            self._answer(429, headers={"Retry-After": "1"}) if hit == 1 else self._answer(200)
        elif path == "/rate-limited-for-an-hour":
            self._answer(429, headers={"Retry-After": "3600"}) if hit == 1 else self._answer(200)
        elif path == "/unavailable-once":
            self._answer(503) if hit == 1 else self._answer(200)
        elif path == "/no-head":
            self._answer(405) if self.command == "HEAD" else self._answer(200, b"body")
        elif path == "/slow":
            time.sleep(SLOW_ENDPOINT_SECONDS)
            self._answer(200)
        elif path == "/page":
            self._answer(200, b'<!doctype html><h1 id="top-heading">T</h1><h2 id="present">P</h2>', html)
        elif path.startswith("/to/"):  # a redirect to what the rest of the path names
            self._answer(302, headers={"Location": REDIRECT_TARGETS[path.removeprefix("/to/")]})
        elif path.startswith("/busy/"):
            time.sleep(0.2)
            self._answer(200)
        else:
            self._answer(404)

    do_HEAD = do_GET = _handle


@pytest.fixture
def server():
    recorder = Recorder()
    handler = type("RecordingHandler", (Handler,), {"recorder": recorder})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True  # a sleeping /slow handler must not hold up the shutdown
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    recorder.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield recorder
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def write_site(root: Path, links_by_page: dict[str, list[str]]) -> Path:
    """A built site in the shape Hugo writes (page/index.html), with the given hrefs on each page."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "hugo.yaml").write_text("baseURL: https://blog.example/\n", encoding="utf-8")
    site = root / "site"
    for page, links in links_by_page.items():
        path = site / page / "index.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        anchors = "".join(f'<a href="{link}">x</a>' for link in links)
        path.write_text(f"<!doctype html><html><body><main>{anchors}</main></body></html>", encoding="utf-8")
    return site


def run(tmp_path: Path, links: list[str], config: ExternalConfig = FAST, **options):
    site = write_site(tmp_path, {"blog/post": links})
    return check_external(site, project_root=tmp_path, config=config, cache_path=tmp_path / "cache.json",
                          **options)


def outcome(report, url: str):
    return next(r for r in report.results if r.url == url)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_200_is_fine_and_404_410_are_broken(server, tmp_path):
    urls = [server.base + p for p in ("/ok", "/missing", "/gone")]
    report = run(tmp_path, urls)
    assert not report.ok
    assert outcome(report, urls[0]).ok and outcome(report, urls[0]).status == 200
    assert (outcome(report, urls[1]).ok, outcome(report, urls[1]).status) == (False, 404)
    assert (outcome(report, urls[2]).ok, outcome(report, urls[2]).status) == (False, 410)
    assert server.paths("HEAD").count("/ok") == 1 and "/ok" not in server.paths("GET")  # HEAD sufficed


def test_a_permanent_redirect_to_a_page_is_fine(server, tmp_path):
    url = server.base + "/moved"
    report = run(tmp_path, [url])
    assert report.ok
    assert outcome(report, url).final_url == server.base + "/ok"


def test_a_redirect_loop_is_broken_and_named(server, tmp_path):
    url = server.base + "/loop-a"
    report = run(tmp_path, [url])
    result = outcome(report, url)
    assert not result.ok
    assert result.error == f"redirect loop: {server.base}/loop-a -> {server.base}/loop-b -> {server.base}/loop-a"
    assert len(server.requests) == 2  # detected, not followed ten times


def test_429_is_retried_after_its_retry_after(server, tmp_path):
    url = server.base + "/rate-limited"
    report = run(tmp_path, [url])
    assert report.ok
    times = [t for _, p, t in server.requests if p == "/rate-limited"]
    assert len(times) == 2
    assert times[1] - times[0] >= 0.95  # Retry-After: 1 was honoured (a lower bound, never flaky)


def test_retry_after_is_capped(server, tmp_path):
    url = server.base + "/rate-limited-for-an-hour"
    report = run(tmp_path, [url], config=replace(FAST, retry_after_cap=0.2))
    assert report.ok  # did not wait an hour: the pytest timeout would have failed the test


def test_503_once_is_retried(server, tmp_path):
    url = server.base + "/unavailable-once"
    report = run(tmp_path, [url])
    assert report.ok
    assert server.paths().count("/unavailable-once") == 2


def test_head_405_falls_back_to_get(server, tmp_path):
    url = server.base + "/no-head"
    report = run(tmp_path, [url])
    assert report.ok
    assert [(m, p) for m, p, _ in server.requests] == [("HEAD", "/no-head"), ("GET", "/no-head")]


def test_a_refused_connection_is_broken(tmp_path):
    url = f"http://127.0.0.1:{free_port()}/anything"
    report = run(tmp_path, [url])
    result = outcome(report, url)
    assert not result.ok and result.error == "connection refused"


@pytest.mark.timeout(30)
def test_an_endpoint_slower_than_the_timeout_ends_in_bounded_time(server, tmp_path):
    url = server.base + "/slow"
    report = run(tmp_path, [url])
    result = outcome(report, url)
    assert not result.ok
    assert result.error == "no response within 0.3 s"
    # One HEAD, then GET with its tries: never more than the configured number of attempts.
    assert server.paths("HEAD") == ["/slow"] and server.paths("GET") == ["/slow"] * FAST.tries


@pytest.mark.parametrize("scheme", ["file", "ftp", "javascript", "data"])
def test_a_redirect_to_another_scheme_is_named_and_not_followed(server, tmp_path, scheme):
    url = f"{server.base}/to/{scheme}"
    result = outcome(run(tmp_path, [url]), url)
    assert not result.ok
    assert result.error == f"redirects to a {scheme}: URL, not followed"
    assert server.paths() == [f"/to/{scheme}"]  # one HEAD, no GET fallback, nothing after it


@pytest.mark.parametrize("target, address", [("metadata", "169.254.169.254"), ("metadata-v6", "fd00:ec2::254")])
def test_a_redirect_to_a_metadata_address_is_not_followed(server, tmp_path, target, address):
    url = f"{server.base}/to/{target}"
    result = outcome(run(tmp_path, [url]), url)
    assert not result.ok
    assert result.error.startswith(f"redirect to {REDIRECT_TARGETS[target]} not followed: {address} is a ")
    assert server.paths() == [f"/to/{target}"]


def test_fragments_are_checked_only_when_asked(server, tmp_path):
    present, missing = server.base + "/page#present", server.base + "/page#absent"
    report = run(tmp_path, [present, missing], fragments=True)
    assert outcome(report, present).ok
    assert outcome(report, missing).error == "missing fragment #absent"
    assert server.paths("GET").count("/page") == 2  # the body was needed
    quiet = run(tmp_path / "again", [present, missing], fragments=False)
    assert quiet.ok and len(quiet.results) == 1  # one URL once the fragment does not matter


def test_malformed_urls_are_broken_without_a_request(server, tmp_path):
    urls = ["http://exa mple.com/page", "http://:8080/no-host", "http://[::1/unclosed"]
    report = run(tmp_path, urls)
    assert not report.ok
    assert len(report.broken) == 3
    assert all(r.error.startswith("malformed URL") for r in report.broken)
    assert server.requests == []


def test_a_warm_cache_sends_no_request_but_failures_are_rechecked(server, tmp_path):
    good, bad = server.base + "/ok", server.base + "/missing"
    site = write_site(tmp_path, {"blog/post": [good, bad]})
    cache = tmp_path / ".cache" / "links.json"

    def check(**options):
        return check_external(site, project_root=tmp_path, config=FAST, cache_path=cache, **options)

    check()
    assert json.loads(cache.read_text())["entries"].keys() == {good}  # only the success is kept
    before = list(server.requests)
    second = check()
    assert outcome(second, good).cached
    assert [p for _, p, _ in server.requests[len(before):]] == ["/missing"]  # the failure, rechecked
    third = check(use_cache=False)
    assert not outcome(third, good).cached and server.paths().count("/ok") == 2


def test_a_warm_cache_with_only_successes_makes_no_request_at_all(server, tmp_path):
    site = write_site(tmp_path, {"blog/post": [server.base + "/ok", server.base + "/moved"]})
    cache = tmp_path / "links.json"
    check_external(site, project_root=tmp_path, config=FAST, cache_path=cache)
    sent = len(server.requests)
    report = check_external(site, project_root=tmp_path, config=FAST, cache_path=cache)
    assert report.ok and report.requests_sent == 0
    assert len(server.requests) == sent


def test_cached_successes_expire(server, tmp_path):
    url = server.base + "/ok"
    site = write_site(tmp_path, {"blog/post": [url]})
    cache = tmp_path / "links.json"
    eight_days_ago = time.time() - 8 * 86400
    cache.write_text(json.dumps({"version": 1, "entries": {url: {"checked_at": eight_days_ago, "status": 200}}}))
    report = check_external(site, project_root=tmp_path, config=FAST, cache_path=cache)
    assert not outcome(report, url).cached and server.paths() == ["/ok"]


def test_at_most_two_requests_at_a_time_per_host(server, tmp_path):
    urls = [f"{server.base}/busy/{i}" for i in range(8)]
    report = run(tmp_path, urls)
    assert report.ok
    assert server.max_in_flight == 2  # never more, and the two slots were really used in parallel


def test_include_exclude_and_ignore_patterns_select_urls(server, tmp_path):
    urls = [server.base + p for p in ("/ok", "/missing", "/gone")]
    report = run(tmp_path, urls, include=[r"/(ok|missing)$"], exclude=[r"/missing$"])
    assert [r.url for r in report.results] == [server.base + "/ok"]
    ignored = run(tmp_path / "again", urls, config=replace(FAST, ignore=(r"/(missing|gone)$",)))
    assert ignored.ok and len(ignored.results) == 1


def test_a_host_specific_status_can_be_accepted(tmp_path):
    # LinkedIn answers 999 to non-browsers; links.yaml accepts it for linkedin.com and its subdomains.
    config = load_config(ROOT / "links.yaml")
    assert config.accepted("https://www.linkedin.com/company/x", 999)
    assert not config.accepted("https://example.com/", 999)


def test_report_names_each_broken_url_its_problem_and_the_pages_linking_it(server, tmp_path):
    bad = server.base + "/missing"
    site = write_site(tmp_path, {"blog/one": [bad, server.base + "/ok"], "zh/blog/two": [bad]})
    report = check_external(site, project_root=tmp_path, config=FAST, cache_path=tmp_path / "c.json")
    lines = report.render().splitlines()
    assert lines[:3] == [f"{bad}: HTTP 404 Not Found",
                         "    linked from /blog/one/ (generated by Hugo)",
                         "    linked from /zh/blog/two/ (generated by Hugo)"]
    assert lines[-1].startswith("1 of 2 external URLs broken")
    data = json.loads(report.render("json"))
    assert data["ok"] is False and data["checked"] == 2
    assert [(b["url"], b["status"], b["pages"]) for b in data["broken"]] == [
        (bad, 404, ["/blog/one/ (generated by Hugo)", "/zh/blog/two/ (generated by Hugo)"])]


def test_links_yaml_errors_name_the_file_and_line(tmp_path):
    config = tmp_path / "links.yaml"
    config.write_text("tries: 3\nconcurrency:\n  per_host: 0\n", encoding="utf-8")
    with pytest.raises(UsageError) as err:
        load_config(config)
    assert str(err.value) == f"{config}:3: concurrency.per_host must be a whole number from 1 to 32, got 0"
    config.write_text("tires: 3\n", encoding="utf-8")
    with pytest.raises(UsageError, match=r":1: unknown setting 'tires'"):
        load_config(config)


def test_urls_come_from_links_images_and_videos_of_the_built_post_not_from_code(server, project):
    post = project / "content" / "blog" / "external"
    post.mkdir(parents=True)
    (post / "index.md").write_text(f"""\
---
title: "External links"
date: 2025-01-20T10:00:00+08:00
---

A [link]({server.base}/ok) and an image: ![figure]({server.base}/busy/image.png)

<video controls><source src="{server.base}/busy/video.mp4" type="video/mp4"></video>

```python
client = OpenAI(base_url="{server.base}/in-code-block")
```

Inline `{server.base}/in-inline-code` too.
""", encoding="utf-8")
    site = build_site(project).destination
    report = check_external(site, project_root=project, config=FAST, cache_path=project / "c.json",
                            include=[r"^http://127\.0\.0\.1:"])
    assert report.ok, report.render()
    assert sorted(set(server.paths())) == ["/busy/image.png", "/busy/video.mp4", "/ok"]


def test_task_exits_1_and_prints_json(server, tmp_path):
    project = copy_project(tmp_path / "cli", with_content=False)
    for part in ("tasks.py",):
        shutil.copy(ROOT / part, project / part)
    shutil.copytree(ROOT / "scripts", project / "scripts", ignore=shutil.ignore_patterns("__pycache__"))
    (project / "links.yaml").write_text("timeout: 1\nbackoff: 0.05\n", encoding="utf-8")
    write_site(project, {"blog/post": [server.base + "/missing", server.base + "/ok"]})
    (project / "hugo.yaml").write_text((ROOT / "hugo.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "invoke", "check-external", "--no-build", "--format", "json",
                           "--include", "127\\.0\\.0\\.1"], cwd=project, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "check-external" not in proc.stderr  # no bar off a terminal
    data = json.loads(proc.stdout)
    assert [b["url"] for b in data["broken"]] == [server.base + "/missing"]
    assert (project / ".cache" / "links.json").is_file()
    bad = subprocess.run([sys.executable, "-m", "invoke", "check-external", "--no-build", "--format", "xml"],
                         cwd=project, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2
    assert bad.stderr.strip() == "error: --format must be one of text, json, got 'xml'"
