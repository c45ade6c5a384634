"""`invoke audit`: how the post page fares for readers — Lighthouse scores, axe-core violations, the
first-party page weight and render-blocking scripts — measured on a fresh build served on 127.0.0.1.

Budgets are reported, not enforced by the test suite: Lighthouse scores vary from run to run and
machine to machine, so they belong in a report, not in pytest.
"""
from __future__ import annotations

import gzip
import json
import struct
import subprocess
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser

from scripts.perf.browser import AXE_HINT, AXE_SCRIPT, CHROMIUM_FLAGS, CHROMIUM_HINT, CONTENT_MEDIA_HOST, AxeViolation, \
    axe_violations, chromium_path
from scripts.errors import UsageError, require_dev_package
from scripts.site.static_server import StaticServer

POST_PAGE = "zh/blog/qwen2.5-max/"  # the page the budgets are about: the original Chinese announcement
# Pages axe checks: home, post (both languages), list, tags and 404.
AXE_PAGES = ("", "zh/", "blog/qwen2.5-max/", "zh/blog/qwen2.5-max/", "blog/", "zh/blog/", "tags/", "404.html")
WEIGHT_BUDGET = 20 * 1024  # first-party HTML + CSS + JS, gzipped
CLS_BUDGET = 0.0  # figures reserve their space: loading them moves nothing
# Offline, the content's remote images are replaced by stand-ins of this (banner-like) size, so that the
# layout shift they would cause online can be measured; their real sizes cannot be known here.
STAND_IN_SIZE = (1600, 900)
LIGHTHOUSE_CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
LIGHTHOUSE_BUDGETS = {"performance": 95, "accessibility": 100, "best-practices": 95, "seo": 100}
# Why offline figures differ from what readers get: printed with the scores whenever it applies.
OFFLINE_NOTE = (
    f"Offline, the announcement's banner, figures and video (from {CONTENT_MEDIA_HOST}) cannot load:",
    "- errors-in-console: the browser logs each failed load, which costs best practices its points for it;",
    "- performance is measured without them: online the banner image is likely the LCP element and",
    "  the video adds bytes, so the real score can be lower;",
    "- layout shift: nothing loads offline, so Lighthouse's CLS reads 0 whatever the figures do; the layout",
    "  shift above is measured with stand-in images instead.",
)
LIGHTHOUSE_HINT = "Lighthouse not found: run `npm ci` in the project root (package-lock.json pins lighthouse 12.2.3)"


@dataclass(frozen=True)
class FileWeight:
    path: str  # site path, e.g. zh/blog/qwen2.5-max/index.html
    kind: str  # html | css | js
    size: int
    gzipped: int


@dataclass(frozen=True)
class FailedAudit:
    category: str
    id: str
    title: str
    score: float
    weight: float  # its weight in the category score; 0 for diagnostics that do not count
    offline_media: bool  # its findings involve the content's remote images/video, unreachable offline


@dataclass(frozen=True)
class LighthouseResult:
    scores: dict[str, int]  # category id -> 0..100
    failed: tuple[FailedAudit, ...]
    render_blocking: tuple[str, ...]  # URLs from Lighthouse's render-blocking-resources audit


@dataclass(frozen=True)
class AuditReport:
    page_url: str
    weight: tuple[FileWeight, ...]
    render_blocking_scripts: tuple[str, ...]  # classic <script src> in <head> without async/defer
    axe: dict[str, list[AxeViolation]]  # page URL -> violations
    figure_layout_shift: float  # CLS while the page's images load (remote ones as same-size stand-ins)
    unsized_images: tuple[str, ...]  # <img> src without width and height attributes
    lighthouse: LighthouseResult | None  # None when skipped

    @property
    def gzipped_total(self) -> int:
        return sum(f.gzipped for f in self.weight)

    def budget_misses(self) -> list[str]:
        misses = []
        if self.gzipped_total > WEIGHT_BUDGET:
            misses.append(f"first-party HTML+CSS+JS is {self.gzipped_total} B gzipped, budget {WEIGHT_BUDGET} B")
        if self.render_blocking_scripts:
            misses.append(f"render-blocking scripts: {', '.join(self.render_blocking_scripts)}")
        for url, violations in self.axe.items():
            if violations:
                misses.append(f"axe: {len(violations)} violation(s) on {url}")
        if self.figure_layout_shift > CLS_BUDGET:
            misses.append(f"figures shift the layout as they load: CLS {self.figure_layout_shift:.3f} "
                          f"({len(self.unsized_images)} image(s) without width/height)")
        if self.lighthouse is not None:
            for category, minimum in LIGHTHOUSE_BUDGETS.items():
                score = self.lighthouse.scores.get(category)
                if score is not None and score < minimum:
                    misses.append(f"Lighthouse {category} {score} < {minimum}")
        return misses


def audit_site(root: Path, *, page: str = POST_PAGE, lighthouse: bool = True,
               lighthouse_report: Path | None = None) -> AuditReport:
    """Build the site into a temporary directory for a server on 127.0.0.1, then measure `page`.
    `lighthouse_report`: where to keep Lighthouse's full JSON report (it is thrown away otherwise)."""
    from scripts.site.build import build_site

    require_dev_package("playwright", "invoke audit")
    chromium = chromium_path()
    if chromium is None:
        raise UsageError(CHROMIUM_HINT)
    if not AXE_SCRIPT.is_file():
        raise UsageError(AXE_HINT)
    lighthouse_cli = root / "node_modules" / ".bin" / "lighthouse"
    if lighthouse and not lighthouse_cli.is_file():
        raise UsageError(LIGHTHOUSE_HINT)
    if lighthouse_report is not None and lighthouse_report.exists():
        raise UsageError(f"{lighthouse_report} exists: not overwriting it")
    with tempfile.TemporaryDirectory(prefix="audit-") as work:
        site_dir = Path(work) / "site"
        with StaticServer(site_dir, "/") as server:
            build_site(root, destination=site_dir, base_url=server.base_url)
            page_file = _site_file(site_dir, page)
            if page_file is None:
                raise UsageError(f"{page}: no such page in the built site")
            page_url = server.url(page)
            weight, blocking = page_weight(site_dir, server.base_url, page)
            axe, cls, unsized = _browser_checks(chromium, server, site_dir, page_url)
            lh = _lighthouse(lighthouse_cli, chromium, page_url, Path(work), lighthouse_report) if lighthouse else None
    return AuditReport(page_url=page_url, weight=weight, render_blocking_scripts=blocking, axe=axe,
                       figure_layout_shift=cls, unsized_images=unsized, lighthouse=lh)


def page_weight(site_dir: Path, base_url: str, page: str) -> tuple[tuple[FileWeight, ...], tuple[str, ...]]:
    """The page's own HTML plus the first-party stylesheets and scripts it loads, each gzipped at level 9
    (what a static host serves); and its render-blocking scripts."""
    html_file = _site_file(site_dir, page)
    if html_file is None:
        raise UsageError(f"{page}: no such page in {site_dir}")
    tree = LexborHTMLParser(html_file.read_text(encoding="utf-8"))
    page_url = urljoin(base_url, page)
    files = [_weigh(html_file, site_dir, "html")]
    wanted: list[tuple[str, str]] = []
    for link in tree.css("link[href]"):
        rel = (link.attributes.get("rel") or "").lower().split()
        if "stylesheet" in rel:
            wanted.append((link.attributes["href"], "css"))
        elif "modulepreload" in rel or ("preload" in rel and link.attributes.get("as") == "script"):
            wanted.append((link.attributes["href"], "js"))
    for script in tree.css("script[src]"):
        wanted.append((script.attributes["src"], "js"))
    seen = set()
    for href, kind in wanted:
        target = _first_party_file(site_dir, base_url, urljoin(page_url, href))
        if target is not None and target not in seen:
            seen.add(target)
            files.append(_weigh(target, site_dir, kind))
    blocking = []
    head = tree.css_first("head")
    for script in head.css("script[src]") if head else []:
        attrs = script.attributes
        if "async" not in attrs and "defer" not in attrs and (attrs.get("type") or "") != "module":
            blocking.append(attrs["src"])
    return tuple(files), tuple(blocking)


def _weigh(path: Path, site_dir: Path, kind: str) -> FileWeight:
    data = path.read_bytes()
    return FileWeight(path=path.relative_to(site_dir).as_posix(), kind=kind, size=len(data),
                      gzipped=len(gzip.compress(data, compresslevel=9, mtime=0)))


def _site_file(site_dir: Path, path: str) -> Path | None:
    candidate = site_dir / path.lstrip("/")
    if candidate.is_dir():
        candidate = candidate / "index.html"
    return candidate if candidate.is_file() else None


def _first_party_file(site_dir: Path, base_url: str, url: str) -> Path | None:
    if not url.startswith(base_url):
        return None  # another host: not ours to weigh
    return _site_file(site_dir, urlsplit(url[len(base_url):]).path)


def solid_png(width: int, height: int) -> bytes:
    """A plain grey PNG of the given size, made without an imaging library."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + b"\x80\x80\x80" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


# Sums every layout-shift entry from the start of the page (Chromium's CLS source). Not only those without
# hadRecentInput, as CLS does: the measurement gives no input (its scrolls do not count as any), yet
# Chromium's phone emulation (is_mobile) flags the shifts of the page's first moments as following input,
# which would hide a banner's shift.
_CLS_OBSERVER = """window.__layoutShift = 0;
new PerformanceObserver(list => { for (const e of list.getEntries()) window.__layoutShift += e.value; })
  .observe({type: "layout-shift", buffered: true});"""


def _browser_checks(chromium: Path, server: StaticServer, site_dir: Path,
                    page_url: str) -> tuple[dict[str, list[AxeViolation]], float, tuple[str, ...]]:
    """axe on AXE_PAGES; then the audited page's layout shift while its images arrive, at a phone's size."""
    from playwright.sync_api import sync_playwright

    def offline(route):  # no network here: fail remote requests at once rather than wait on DNS
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            route.abort()

    results: dict[str, list[AxeViolation]] = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), headless=True, args=list(CHROMIUM_FLAGS))
        try:
            context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
            context.route("**/*", offline)
            for path in AXE_PAGES:
                if _site_file(site_dir, path) is None:
                    continue
                tab = context.new_page()
                tab.goto(server.url(path), wait_until="load")
                results[server.url(path)] = axe_violations(tab)
                tab.close()
            context.close()
            shift, unsized = _figure_layout_shift(browser, page_url)
        finally:
            browser.close()
    return results, shift, unsized


def _figure_layout_shift(browser, page_url: str) -> tuple[float, tuple[str, ...]]:
    """CLS while the page's images arrive after its text has been shown, as on a slow connection: the
    content's remote images are held back, then answered with same-size stand-ins (STAND_IN_SIZE) a
    moment after each scroll step. An image with width and height attributes keeps its room and moves
    nothing; one without them pushes the text below it down when it arrives."""
    stand_in = solid_png(*STAND_IN_SIZE)
    held = []

    def route(route):
        url = urlsplit(route.request.url)
        if url.hostname == "127.0.0.1":
            route.continue_()
        elif url.hostname == CONTENT_MEDIA_HOST and route.request.resource_type == "image":
            held.append(route)  # answered below, after the page has painted
        else:
            route.abort()

    def release():
        while held:
            held.pop().fulfill(status=200, content_type="image/png", body=stand_in)

    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    try:
        context.route("**/*", route)
        tab = context.new_page()
        tab.add_init_script(_CLS_OBSERVER)
        tab.goto(page_url, wait_until="domcontentloaded")
        # Hold every image until the text has been painted: that is when a late image can move it.
        tab.wait_for_function("performance.getEntriesByName('first-contentful-paint').length > 0")
        tab.evaluate("new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
        for _ in range(100):  # a screen at a time, so lazy images are asked for in turn
            tab.wait_for_timeout(300)
            release()
            tab.wait_for_timeout(200)
            if tab.evaluate("scrollY + innerHeight >= document.documentElement.scrollHeight - 2"):
                break
            tab.mouse.wheel(0, 700)
        release()
        tab.wait_for_function("[...document.images].every(i => i.complete)", timeout=10_000)
        shift = tab.evaluate("window.__layoutShift")
        unsized = tuple(tab.evaluate("[...document.images].filter(i => !i.getAttribute('width') "
                                     "|| !i.getAttribute('height')).map(i => i.getAttribute('src'))"))
    finally:
        context.close()
    return round(shift, 4), unsized


def _lighthouse(cli: Path, chromium: Path, url: str, work: Path, keep: Path | None) -> LighthouseResult:
    """Lighthouse's mobile defaults (emulated phone, simulated slow 4G), the four scored categories."""
    report_file = keep.resolve() if keep else work / "lighthouse.json"
    report_file.parent.mkdir(parents=True, exist_ok=True)
    cmd = [str(cli), url, f"--chrome-path={chromium}", f"--chrome-flags={' '.join(CHROMIUM_FLAGS)}",
           f"--only-categories={','.join(LIGHTHOUSE_CATEGORIES)}", "--output=json",
           f"--output-path={report_file}", "--quiet"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=work)
    if proc.returncode != 0 or not report_file.is_file():
        raise UsageError(f"lighthouse failed (exit {proc.returncode}): {(proc.stderr or proc.stdout).strip()[-500:]}")
    return parse_lighthouse_report(json.loads(report_file.read_text(encoding="utf-8")))


def parse_lighthouse_report(report: dict) -> LighthouseResult:
    scores = {cid: round(cat["score"] * 100) for cid, cat in report["categories"].items() if cat.get("score") is not None}
    failed = []
    for cid, cat in report["categories"].items():
        for ref in cat["auditRefs"]:
            audit = report["audits"].get(ref["id"], {})
            score = audit.get("score")
            if score is None or score >= 1:
                continue
            offline_media = CONTENT_MEDIA_HOST in json.dumps(audit.get("details", {}))
            weight = ref.get("weight", 0)
            if weight > 0 or offline_media:  # unscored diagnostics only when they are about the remote media
                failed.append(FailedAudit(category=cid, id=ref["id"], title=audit.get("title", ref["id"]),
                                          score=score, weight=weight, offline_media=offline_media))
    blocking_audit = report["audits"].get("render-blocking-resources", {})
    blocking = tuple(item.get("url", "") for item in blocking_audit.get("details", {}).get("items", []))
    return LighthouseResult(scores=scores, failed=tuple(failed), render_blocking=blocking)


def report_lines(report: AuditReport) -> list[str]:
    """The printed report: figures first, then what misses a budget and why."""
    lines = [f"page: {report.page_url}", "", "first-party weight (gzip -9):"]
    for f in report.weight:
        lines.append(f"  {f.kind:4} {f.gzipped:7,d} B gz {f.size:8,d} B raw  {f.path}")
    lines.append(f"  total {report.gzipped_total:,d} B gzipped (budget {WEIGHT_BUDGET:,d} B)")
    lines.append(f"render-blocking scripts: {', '.join(report.render_blocking_scripts) or 'none'}")
    lines.append(f"layout shift as images arrive after the text (remote ones as {STAND_IN_SIZE[0]}x{STAND_IN_SIZE[1]} "
                 f"stand-ins): CLS {report.figure_layout_shift:.3f} (budget {CLS_BUDGET:g})")
    lines.extend(f"  no width/height: {src}" for src in report.unsized_images)
    lines.append("")
    lines.append("axe-core:")
    for url, violations in report.axe.items():
        lines.append(f"  {len(violations)} violation(s)  {url}")
        lines.extend(f"    {v}" for v in violations)
    if report.lighthouse is not None:
        lh = report.lighthouse
        lines.append("")
        lines.append("Lighthouse 12.2.3 (mobile):")
        for category in LIGHTHOUSE_CATEGORIES:
            score = lh.scores.get(category)
            lines.append(f"  {category:15} {score if score is not None else '-':>3}  (budget {LIGHTHOUSE_BUDGETS[category]})")
        lines.append(f"  render-blocking resources: {', '.join(lh.render_blocking) or 'none'}")
        if lh.failed:
            lines.append("  audits below full score:")
            for audit in lh.failed:
                why = f"  <- involves {CONTENT_MEDIA_HOST}, unreachable offline" if audit.offline_media else ""
                scored = "" if audit.weight > 0 else ", not scored"
                lines.append(f"    [{audit.category}] {audit.id} ({audit.score:.2f}{scored}): {audit.title}{why}")
        if any(a.offline_media for a in lh.failed):
            lines.extend("  " + line for line in OFFLINE_NOTE)
    misses = report.budget_misses()
    lines.append("")
    lines.append("budgets: all met" if not misses else "budgets missed:")
    lines.extend(f"  {m}" for m in misses)
    return lines
