"""What `invoke check-external` found: a result per URL, and the report in text or JSON."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from http import HTTPStatus

OUTPUT_FORMATS = ("text", "json")


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
class ExternalReport:
    results: list[UrlResult]
    pages: dict[str, list[str]]  # URL -> the pages linking it, as "page (source)"
    requests_sent: int = 0
    warnings: list[str] = field(default_factory=list)  # about the cache; they do not fail the check

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
            "warnings": self.warnings,
            "broken": [dict(asdict(r), problem=r.problem, pages=self.pages.get(r.url, [])) for r in self.broken],
        }

    def render(self, output_format: str = "text") -> str:
        if output_format == "json":
            return json.dumps(self.as_json(), indent=2, ensure_ascii=False)
        lines = [f"warning: {warning}" for warning in self.warnings]
        for result in sorted(self.broken, key=lambda r: r.url):
            lines.append(f"{result.url}: {result.problem}")
            if result.final_url and not result.error:
                lines.append(f"    redirected to {result.final_url}")
            for page in self.pages.get(result.url, []):
                lines.append(f"    linked from {page}")
        lines.append(self.summary())
        return "\n".join(lines)
