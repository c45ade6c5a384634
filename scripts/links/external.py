"""Check the external URLs of the built site over HTTP: politely, in bounded time, with a cache.

Each URL found in a page's href/src/srcset/poster attributes that leads off the site is requested with
`requests`: HEAD first, GET (streamed; the body is read only for a #fragment check) when HEAD fails or
is refused with 403/405/501. Redirects are followed by hand so a loop can be named. 429 and 503 are
retried after their Retry-After (capped), other transient failures after an exponential backoff. At most
`per_host` requests run at a time against one host and `overall` in total. Successes are cached in
.cache/links.json for `cache_days`; failures are always rechecked. Settings live in links.yaml.
"""
from __future__ import annotations

import email.utils
from http import HTTPStatus
import json
import os
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests
import yaml

from scripts.errors import UsageError
from scripts.links.internal import built_base_url, content_pages, page_key, read_site, site_files

CONFIG_FILE = "links.yaml"
CACHE_FILE = Path(".cache") / "links.json"
CACHE_VERSION = 1
OUTPUT_FORMATS = ("text", "json")
# HEAD answered with these usually means "this server does not do HEAD", not "this URL is broken".
HEAD_REFUSED = frozenset({403, 405, 501})
RETRY_AFTER_STATUSES = frozenset({429, 503})
TRANSIENT_STATUSES = frozenset({500, 502, 504})
HOST_NAME = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[^\s/\\@\[\]<>\"'%]+)(:\d{1,5})?$")


# ---------------------------------------------------------------- configuration


@dataclass(frozen=True)
class ExternalConfig:
    connect_timeout: float = 10.0
    read_timeout: float = 10.0
    tries: int = 3
    retry_after_cap: float = 60.0
    backoff: float = 1.0  # seconds before the second try; doubles for each further try
    max_redirects: int = 10
    per_host: int = 2
    overall: int = 16
    cache_days: float = 7.0
    max_body_bytes: int = 5_000_000  # read at most this much of a page whose #fragment is checked
    user_agent: str = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                       "Chrome/131.0.0.0 Safari/537.36")
    ignore: tuple[str, ...] = ()  # regexes: matching URLs are not checked
    accept: dict[str, frozenset[int]] = field(default_factory=dict)  # host -> statuses that count as fine
    ignore_fragments: tuple[str, ...] = ()  # regexes: matching URLs' #fragments are not checked

    def accepted(self, url: str, status: int) -> bool:
        if 200 <= status < 300:
            return True
        host = (urlsplit(url).hostname or "").lower()
        return any(status in statuses for name, statuses in self.accept.items()
                   if host == name or host.endswith("." + name))


def _key_lines(text: str) -> dict[tuple[str, ...], int]:
    """1-based line of every mapping key, by its path, for error messages."""
    lines: dict[tuple[str, ...], int] = {}

    def walk(node: yaml.Node, path: tuple[str, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                lines[path + (str(key.value),)] = key.start_mark.line + 1
                walk(value, path + (str(key.value),))

    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return lines
    if root is not None:
        walk(root, ())
    return lines


def load_config(path: Path) -> ExternalConfig:
    """Read links.yaml; a missing file means the defaults."""
    if not path.is_file():
        return ExternalConfig()
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise UsageError(f"invalid YAML: {getattr(err, 'problem', err)}", path=path,
                         line=None if mark is None else mark.line + 1) from None
    lines = _key_lines(text)

    def fail(message: str, *key: str) -> UsageError:
        return UsageError(message, path=path, line=lines.get(key))

    if not isinstance(data, dict):
        raise UsageError("expected a mapping of settings", path=path)
    known = {"timeout", "tries", "retry_after_cap", "backoff", "max_redirects", "concurrency", "cache_days",
             "max_body_bytes", "user_agent", "ignore", "accept", "ignore_fragments"}
    for key in data:
        if key not in known:
            raise fail(f"unknown setting {key!r} (known: {', '.join(sorted(known))})", str(key))

    def number(value, *key: str, minimum: float = 0, integer: bool = False):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum \
                or (integer and not isinstance(value, int)):
            kind = "an integer" if integer else "a number"
            raise fail(f"{'.'.join(key)} must be {kind} >= {minimum}, got {value!r}", *key)
        return value

    values: dict = {}
    timeout = data.get("timeout", {})
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
        timeout = {"connect": timeout, "read": timeout}
    if not isinstance(timeout, dict) or set(timeout) - {"connect", "read"}:
        raise fail("timeout must be seconds, or a mapping with connect and read", "timeout")
    if "connect" in timeout:
        values["connect_timeout"] = float(number(timeout["connect"], "timeout", "connect", minimum=0.001))
    if "read" in timeout:
        values["read_timeout"] = float(number(timeout["read"], "timeout", "read", minimum=0.001))
    for key, minimum, integer in (("tries", 1, True), ("retry_after_cap", 0, False), ("backoff", 0, False),
                                  ("max_redirects", 0, True), ("cache_days", 0, False),
                                  ("max_body_bytes", 1, True)):
        if key in data:
            values[key] = number(data[key], key, minimum=minimum, integer=integer)
    concurrency = data.get("concurrency", {})
    if not isinstance(concurrency, dict) or set(concurrency) - {"per_host", "overall"}:
        raise fail("concurrency must be a mapping with per_host and overall", "concurrency")
    for key in ("per_host", "overall"):
        if key in concurrency:
            values[key] = number(concurrency[key], "concurrency", key, minimum=1, integer=True)
    if "user_agent" in data:
        if not isinstance(data["user_agent"], str) or not data["user_agent"].strip():
            raise fail("user_agent must be a non-empty string", "user_agent")
        values["user_agent"] = data["user_agent"]
    for key in ("ignore", "ignore_fragments"):
        patterns = data.get(key) or []
        if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
            raise fail(f"{key} must be a list of regular expressions", key)
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as err:
                raise fail(f"{key}: invalid regular expression {pattern!r}: {err}", key) from None
        values[key] = tuple(patterns)
    accept = data.get("accept") or {}
    if not isinstance(accept, dict):
        raise fail("accept must map host names to lists of status codes", "accept")
    parsed_accept = {}
    for host, statuses in accept.items():
        if not isinstance(statuses, list) or not all(isinstance(s, int) and 100 <= s <= 999 for s in statuses):
            raise fail(f"accept.{host} must be a list of HTTP status codes", "accept", str(host))
        parsed_accept[str(host).lower()] = frozenset(statuses)
    values["accept"] = parsed_accept
    return ExternalConfig(**values)


def compile_patterns(patterns: Iterable[str], option: str) -> list[re.Pattern]:
    compiled = []
    for pattern in patterns:
        try:
            compiled.append(re.compile(pattern))
        except re.error as err:
            raise UsageError(f"{option} {pattern!r} is not a valid regular expression: {err}") from None
    return compiled


# ---------------------------------------------------------------- the cache


class ResultCache:
    """Successes of earlier runs, by URL; loaded and saved whole."""

    def __init__(self, path: Path, max_age_days: float):
        self.path = path
        self.max_age = max_age_days * 86400
        self.entries: dict[str, dict] = {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("version") == CACHE_VERSION and isinstance(data.get("entries"), dict):
                self.entries = data["entries"]
        except (OSError, ValueError, AttributeError):
            pass  # no cache yet, or a damaged one: start over

    def fresh(self, url: str, *, fragment_checked: bool, now: float) -> dict | None:
        entry = self.entries.get(url)
        if not isinstance(entry, dict) or not isinstance(entry.get("checked_at"), (int, float)):
            return None
        if now - entry["checked_at"] > self.max_age:
            return None
        if fragment_checked and not entry.get("fragment_checked"):
            return None
        return entry

    def record(self, result: UrlResult, *, fragment_checked: bool, now: float) -> None:
        if result.ok:
            self.entries[result.url] = {"checked_at": now, "status": result.status,
                                        "final_url": result.final_url, "fragment_checked": fragment_checked}
        else:
            self.entries.pop(result.url, None)  # failures are always rechecked

    def save(self, now: float) -> None:
        live = {url: entry for url, entry in self.entries.items()
                if isinstance(entry, dict) and now - entry.get("checked_at", 0) <= self.max_age}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps({"version": CACHE_VERSION, "entries": live}, indent=1, sort_keys=True),
                       encoding="utf-8")
        os.replace(tmp, self.path)


# ---------------------------------------------------------------- checking one URL


@dataclass(frozen=True)
class UrlResult:
    url: str
    ok: bool
    status: int | None = None
    error: str | None = None
    final_url: str | None = None  # after redirects, when different
    cached: bool = False

    @property
    def problem(self) -> str:
        if self.error:
            return self.error
        try:
            reason = HTTPStatus(self.status).phrase
        except ValueError:
            reason = ""
        return f"HTTP {self.status}{' ' + reason if reason else ''}"


@dataclass
class _Answer:
    status: int | None = None
    headers: dict = field(default_factory=dict)
    body: bytes | None = None
    error: str | None = None
    final: bool = False  # the error makes further tries pointless


def malformed_reason(url: str) -> str | None:
    if any(ch.isspace() for ch in url):
        return "contains whitespace"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as err:
        return str(err)
    if parts.scheme not in ("http", "https"):
        return "not an http(s) URL"
    if not parts.netloc or not parts.hostname or not HOST_NAME.match(parts.netloc.rpartition("@")[2]):
        return "no valid host name"
    return None


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _describe_exception(err: Exception, config: ExternalConfig) -> str:
    if isinstance(err, requests.exceptions.ConnectTimeout):
        return f"connection timed out after {config.connect_timeout:g} s"
    if isinstance(err, requests.exceptions.ReadTimeout):
        return f"no response within {config.read_timeout:g} s"
    if isinstance(err, requests.exceptions.SSLError):
        return "TLS error: " + str(err.args[0] if err.args else err)[:200]
    if isinstance(err, requests.exceptions.ConnectionError):
        text = str(err)
        if "refused" in text.lower():
            return "connection refused"
        if "Name or service not known" in text or "getaddrinfo" in text or "NameResolution" in text:
            return "host name not found"
        return "connection failed: " + text[:200]
    return f"{type(err).__name__}: {str(err)[:200]}"


class Checker:
    """Checks URLs; safe to share between threads."""

    def __init__(self, config: ExternalConfig, *, fragments: bool):
        self.config = config
        self.fragments = fragments
        self.ignore_fragments = [re.compile(p) for p in config.ignore_fragments]
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._slots_lock = threading.Lock()
        self._local = threading.local()
        self.requests_sent = 0
        self._count_lock = threading.Lock()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers.update({
                "User-Agent": self.config.user_agent,
                "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
                "Accept-Language": "en-US,en;q=0.9,zh-CN;q=0.8",
            })
            self._local.session = session
        return session

    def _slot(self, url: str) -> threading.BoundedSemaphore:
        host = urlsplit(url).netloc.lower()
        with self._slots_lock:
            if host not in self._slots:
                self._slots[host] = threading.BoundedSemaphore(self.config.per_host)
            return self._slots[host]

    def _send_once(self, method: str, url: str, read_body: bool) -> _Answer:
        config = self.config
        with self._slot(url):  # held for the request and the body, never while waiting to retry
            with self._count_lock:
                self.requests_sent += 1
            try:
                response = self._session().request(method, url, allow_redirects=False, stream=True,
                                                   timeout=(config.connect_timeout, config.read_timeout))
            except (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema,
                    requests.exceptions.MissingSchema, requests.exceptions.InvalidHeader, ValueError) as err:
                return _Answer(error=f"malformed URL: {err}", final=True)
            except requests.exceptions.RequestException as err:
                return _Answer(error=_describe_exception(err, config))
            try:
                body = None
                if read_body and response.status_code == 200 \
                        and "html" in response.headers.get("Content-Type", "").lower():
                    chunks, size = [], 0
                    for chunk in response.iter_content(65536):
                        chunks.append(chunk)
                        size += len(chunk)
                        if size >= config.max_body_bytes:
                            break
                    body = b"".join(chunks)
                return _Answer(status=response.status_code, headers=dict(response.headers), body=body)
            except requests.exceptions.RequestException as err:
                return _Answer(error=_describe_exception(err, config))
            finally:
                response.close()

    def _send(self, method: str, url: str, *, read_body: bool = False, retry_errors: bool = True) -> _Answer:
        """One request with retries: 429/503 after Retry-After, transient failures after a backoff."""
        config = self.config
        answer = _Answer()
        for attempt in range(1, config.tries + 1):
            answer = self._send_once(method, url, read_body)
            last = attempt == config.tries
            backoff = config.backoff * 2 ** (attempt - 1)
            if answer.error is not None:
                if answer.final or last or not retry_errors:
                    return answer
                time.sleep(backoff)
            elif answer.status in RETRY_AFTER_STATUSES and not last:
                wait = _retry_after(answer.headers.get("Retry-After"))
                time.sleep(min(backoff if wait is None else wait, config.retry_after_cap))
            elif answer.status in TRANSIENT_STATUSES and not last:
                time.sleep(backoff)
            else:
                return answer
        return answer

    def check(self, url: str) -> UrlResult:
        problem = malformed_reason(url)
        if problem:
            return UrlResult(url, ok=False, error=f"malformed URL: {problem}")
        parts = urlsplit(url)
        fragment = parts.fragment
        check_fragment = bool(self.fragments and fragment and ":~:" not in fragment
                              and not any(p.search(url) for p in self.ignore_fragments))
        current = urlunsplit(parts._replace(fragment=""))
        chain = [current]
        for _hop in range(self.config.max_redirects + 1):
            if check_fragment:
                answer = self._send("GET", current, read_body=True)
            else:
                answer = self._send("HEAD", current, retry_errors=False)
                if (answer.error is not None and not answer.final) or answer.status in HEAD_REFUSED:
                    answer = self._send("GET", current)
            if answer.error is not None:
                return UrlResult(url, ok=False, error=answer.error, final_url=_moved(url, current))
            location = answer.headers.get("Location")
            if 300 <= answer.status < 400 and answer.status != 304 and location:
                try:
                    target = urljoin(current, location.strip())
                except ValueError:
                    return UrlResult(url, ok=False, status=answer.status,
                                     error=f"redirect to a malformed URL: {location}")
                target = urlunsplit(urlsplit(target)._replace(fragment=""))
                if target in chain:
                    loop = chain[chain.index(target):] + [target]
                    return UrlResult(url, ok=False, status=answer.status,
                                     error="redirect loop: " + " -> ".join(loop))
                if len(chain) > self.config.max_redirects:
                    return UrlResult(url, ok=False, status=answer.status,
                                     error=f"more than {self.config.max_redirects} redirects")
                chain.append(target)
                current = target
                continue
            break
        status = answer.status
        if not self.config.accepted(url, status) and not self.config.accepted(current, status):
            return UrlResult(url, ok=False, status=status, final_url=_moved(url, current))
        if check_fragment and answer.body is not None and not _has_fragment(answer.body, fragment):
            return UrlResult(url, ok=False, status=status, error=f"missing fragment #{fragment}",
                             final_url=_moved(url, current))
        return UrlResult(url, ok=True, status=status, final_url=_moved(url, current))


def _moved(url: str, current: str) -> str | None:
    return None if urlunsplit(urlsplit(url)._replace(fragment="")) == current else current


def _has_fragment(body: bytes, fragment: str) -> bool:
    from urllib.parse import unquote

    from selectolax.lexbor import LexborHTMLParser

    from scripts.links.internal import html_ids

    wanted = unquote(fragment)
    if wanted.lower() == "top":
        return True
    ids = html_ids(LexborHTMLParser(body))
    # GitHub renders heading ids as user-content-<id> and scrolls to #<id> with JavaScript.
    return wanted in ids or f"user-content-{wanted}" in ids


# ---------------------------------------------------------------- the whole site


@dataclass
class ExternalReport:
    results: list[UrlResult]
    pages: dict[str, list[str]]  # URL -> the pages linking it, as "page (source)"
    requests_sent: int = 0

    @property
    def broken(self) -> list[UrlResult]:
        return [r for r in self.results if not r.ok]

    @property
    def ok(self) -> bool:
        return not self.broken

    def summary(self) -> str:
        cached = sum(1 for r in self.results if r.cached)
        broken = len(self.broken)
        return (f"{broken} of {len(self.results)} external URLs broken"
                f" ({cached} from the cache, {self.requests_sent} requests sent)")

    def as_json(self) -> dict:
        return {
            "ok": self.ok,
            "checked": len(self.results),
            "from_cache": sum(1 for r in self.results if r.cached),
            "requests_sent": self.requests_sent,
            "broken": [dict(asdict(r), problem=r.problem, pages=self.pages.get(r.url, [])) for r in self.broken],
        }

    def render(self, output_format: str = "text") -> str:
        if output_format == "json":
            return json.dumps(self.as_json(), indent=2, ensure_ascii=False)
        lines = []
        for result in sorted(self.broken, key=lambda r: r.url):
            lines.append(f"{result.url}: {result.problem}")
            if result.final_url and not result.error:
                lines.append(f"    redirected to {result.final_url}")
            for page in self.pages.get(result.url, []):
                lines.append(f"    linked from {page}")
        lines.append(self.summary())
        return "\n".join(lines)


def collect_urls(site_dir: Path, project_root: Path) -> dict[str, list[str]]:
    """External URLs of the built site -> site paths of the pages that link them (sorted)."""
    site = built_base_url(site_dir, project_root)
    pages = read_site(site_dir, site, site_files(site_dir), want_external=True)
    found: dict[str, set[str]] = {}
    for page in pages:
        for url in page.external:
            found.setdefault(url, set()).add(page.rel)
    return {url: sorted(rels) for url, rels in found.items()}


def check_external(
    site_dir: Path,
    *,
    project_root: Path,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    use_cache: bool = True,
    fragments: bool = False,
    config: ExternalConfig | None = None,
    cache_path: Path | None = None,
    progress: bool = False,
) -> ExternalReport:
    """Check every external URL linked from the site built into `site_dir`."""
    if not site_dir.is_dir():
        raise UsageError(f"no built site at {site_dir}: run `invoke build` first")
    config = config if config is not None else load_config(project_root / CONFIG_FILE)
    includes = compile_patterns(include, "--include")
    excludes = compile_patterns(exclude, "--exclude") + [re.compile(p) for p in config.ignore]
    linked = collect_urls(site_dir, project_root)
    # Without --fragments, URLs that differ only by their #fragment are one request.
    by_url: dict[str, list[str]] = {}
    for url, rels in linked.items():
        if includes and not any(p.search(url) for p in includes):
            continue
        if any(p.search(url) for p in excludes):
            continue
        key = url if fragments else url.partition("#")[0]
        by_url.setdefault(key, []).extend(rels)

    now = time.time()
    cache = ResultCache(cache_path or project_root / CACHE_FILE, config.cache_days)
    results: list[UrlResult] = []
    to_check = []
    for url in sorted(by_url):
        entry = cache.fresh(url, fragment_checked=fragments and "#" in url, now=now) if use_cache else None
        if entry is not None:
            results.append(UrlResult(url, ok=True, status=entry.get("status"), final_url=entry.get("final_url"),
                                     cached=True))
        else:
            to_check.append(url)

    checker = Checker(config, fragments=fragments)
    bar = None
    if progress and to_check:
        from tqdm import tqdm

        bar = tqdm(total=len(to_check), unit="url", desc="check-external", leave=False)
    pool = ThreadPoolExecutor(max_workers=config.overall, thread_name_prefix="check-external")
    try:
        futures = [pool.submit(checker.check, url) for url in to_check]
        for future in as_completed(futures):
            result = future.result()
            results.append(result)
            cache.record(result, fragment_checked=fragments and "#" in result.url, now=time.time())
            if bar is not None:
                bar.update(1)
    finally:
        # On Ctrl-C, drop the queued URLs at once; what finished is still worth caching.
        pool.shutdown(wait=False, cancel_futures=True)
        if bar is not None:
            bar.close()
        if to_check:
            cache.save(time.time())

    results.sort(key=lambda r: r.url)
    broken_urls = {r.url for r in results if not r.ok}
    sources = content_pages(project_root) if broken_urls else {}
    site = built_base_url(site_dir, project_root)
    pages = {}
    for url in broken_urls:
        labels = []
        for rel in sorted(set(by_url[url])):
            source = sources.get(page_key(rel))
            labels.append(f"{site.site_path(rel)} ({source.source if source else 'generated by Hugo'})")
        pages[url] = labels
    return ExternalReport(results=results, pages=pages, requests_sent=checker.requests_sent)


def run_check_external(
    project_root: Path,
    *,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    use_cache: bool = True,
    fragments: bool = False,
    output_format: str = "text",
    build: bool = True,
    progress: bool = False,
) -> ExternalReport:
    """What `invoke check-external` does: validate the options, build unless told not to, check."""
    from scripts.site.build import build_site

    if output_format not in OUTPUT_FORMATS:
        raise UsageError(f"--format must be one of {', '.join(OUTPUT_FORMATS)}, got {output_format!r}")
    compile_patterns(include, "--include")
    compile_patterns(exclude, "--exclude")
    load_config(project_root / CONFIG_FILE)  # a broken links.yaml fails before the build
    site_dir = build_site(project_root).destination if build else project_root / "site"
    return check_external(site_dir, project_root=project_root, include=include, exclude=exclude,
                          use_cache=use_cache, fragments=fragments, progress=progress)
