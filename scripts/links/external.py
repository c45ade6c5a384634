"""Check the external URLs of the built site over HTTP: politely, in bounded time, with a cache.

Each URL found in a page's href/src/srcset/poster attributes that leads off the site is requested with
`requests`: HEAD first, GET (streamed; the body is read only for a #fragment check) when HEAD fails or
is refused with 403/405/501. Redirects are followed by hand so a loop can be named, and only to http(s)
URLs. 429 and 503 are retried after their Retry-After (capped), other transient failures after an
exponential backoff. At most `per_host` requests run at a time against one host and `overall` in total.
Each request ends within `timeout.total` seconds, and link-local and cloud-metadata addresses are never
contacted (see transport.py). Successes are cached in .cache/links.json for `cache_days`; failures are
always rechecked. Settings live in links.yaml (see settings.py).
"""
from __future__ import annotations

import email.utils
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests

from scripts.errors import UsageError
from scripts.links.cache import CACHE_FILE, ResultCache
from scripts.links.external_report import OUTPUT_FORMATS, ExternalReport, UrlResult
from scripts.links.extract import html_ids
from scripts.links.pages import read_site, site_files
from scripts.links.settings import CONFIG_FILE, ExternalConfig, compile_patterns, load_config
from scripts.links.site_url import built_base_url
from scripts.links.sources import content_pages, page_key
from scripts.links.transport import AddressRefused, deadline, refused_host, vetted_session

# HEAD answered with these usually means "this server does not do HEAD", not "this URL is broken".
HEAD_REFUSED = frozenset({403, 405, 501})


RETRY_AFTER_STATUSES = frozenset({429, 503})


TRANSIENT_STATUSES = frozenset({500, 502, 504})


HOST_NAME = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[^\s/\\@\[\]<>\"'%]+)(:\d{1,5})?$")


@dataclass
class _Answer:
    status: int | None = None
    headers: dict = field(default_factory=dict)
    body: bytes | None = None
    error: str | None = None
    final: bool = False  # the error makes further tries pointless
    refused: bool = False  # the host is an address never contacted


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
            session = vetted_session()
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
            with deadline(config.total_timeout) as limit:
                try:
                    answer = self._exchange(method, url, read_body)
                except AddressRefused as err:
                    return _Answer(error=str(err), final=True, refused=True)
                except (requests.exceptions.RequestException, OSError) as err:
                    answer = _Answer(error=_describe_exception(err, config))
                # Cut off, an answer may still look whole (http.client takes the end of input for the end
                # of the headers): nothing read before the deadline counts.
                if limit.expired:
                    return _Answer(error=f"no complete answer within {config.total_timeout:g} s", final=True)
                return answer

    def _exchange(self, method: str, url: str, read_body: bool) -> _Answer:
        """One request and, for a #fragment check, the start of its body (within the thread's deadline)."""
        config = self.config
        try:
            response = self._session().request(method, url, allow_redirects=False, stream=True,
                                               timeout=(config.connect_timeout, config.read_timeout))
        except (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema,
                requests.exceptions.MissingSchema, requests.exceptions.InvalidHeader, ValueError) as err:
            return _Answer(error=f"malformed URL: {err}", final=True)
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
        refused = refused_host(parts.hostname or "")
        if refused:
            return UrlResult(url, ok=False, error=f"not contacted: {refused}")
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
            if answer.refused:
                error = f"not contacted: {answer.error}" if len(chain) == 1 \
                    else f"redirect to {current} not followed: {answer.error}"
                return UrlResult(url, ok=False, error=error, final_url=_moved(url, current))
            if answer.error is not None:
                return UrlResult(url, ok=False, error=answer.error, final_url=_moved(url, current))
            location = answer.headers.get("Location")
            if 300 <= answer.status < 400 and answer.status != 304 and location:
                target, problem = _redirect_target(current, location)
                if problem:
                    return UrlResult(url, ok=False, status=answer.status, error=problem)
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


def _redirect_target(current: str, location: str) -> tuple[str, str | None]:
    """Where a Location header leads (without its #fragment), or why that redirect is not followed."""
    try:
        target = urljoin(current, location.strip())
        parts = urlsplit(target)
    except ValueError:
        return "", f"redirect to a malformed URL: {location[:200]}"
    if parts.scheme not in ("http", "https"):
        return "", f"redirects to a {parts.scheme or 'schemeless'}: URL, not followed"
    target = urlunsplit(parts._replace(fragment=""))
    problem = malformed_reason(target)
    if problem:
        return "", f"redirect to a malformed URL ({problem}): {location[:200]}"
    refused = refused_host(parts.hostname or "")
    if refused:
        return "", f"redirect to {target} not followed: {refused}"
    return target, None


def _moved(url: str, current: str) -> str | None:
    return None if urlunsplit(urlsplit(url)._replace(fragment="")) == current else current


def _has_fragment(body: bytes, fragment: str) -> bool:
    from urllib.parse import unquote

    from selectolax.lexbor import LexborHTMLParser


    wanted = unquote(fragment)
    if wanted.lower() == "top":
        return True
    ids = html_ids(LexborHTMLParser(body))
    # GitHub renders heading ids as user-content-<id> and scrolls to #<id> with JavaScript.
    return wanted in ids or f"user-content-{wanted}" in ids


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
    cache_file = cache_path or project_root / CACHE_FILE
    cache = ResultCache(cache_file, config.cache_days, now=now, shown=_shown_path(cache_file, project_root))
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
    return ExternalReport(results=results, pages=pages, requests_sent=checker.requests_sent,
                          warnings=list(cache.warnings))


def _shown_path(path: Path, project_root: Path) -> str:
    try:
        return str(path.relative_to(project_root))
    except ValueError:
        return str(path)


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
    from scripts.site.build import SEARCH_CACHE, build_site

    if output_format not in OUTPUT_FORMATS:
        raise UsageError(f"--format must be one of {', '.join(OUTPUT_FORMATS)}, got {output_format!r}")
    compile_patterns(include, "--include")
    compile_patterns(exclude, "--exclude")
    load_config(project_root / CONFIG_FILE)  # a broken links.yaml fails before the build
    site_dir = project_root / "site"
    if build:
        site_dir = build_site(project_root, search_cache=project_root / SEARCH_CACHE).destination
    return check_external(site_dir, project_root=project_root, include=include, exclude=exclude,
                          use_cache=use_cache, fragments=fragments, progress=progress)
