"""The one reader of hugo.yaml: the facts of it that the Python tooling needs (time zone, languages, base URL)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from scripts.errors import UsageError
from scripts.yamlfile import load_yaml_file


@dataclass(frozen=True)
class SiteConfig:
    time_zone: ZoneInfo
    languages: tuple[str, ...]  # ordered by their weight in hugo.yaml
    default_language: str
    content_dir: str = "content"
    base_url: str | None = None  # baseURL as written; None when hugo.yaml has none
    path: Path | None = None  # the hugo.yaml it was read from

    def language_suffix(self, lang: str) -> str:
        """'' for the default language (index.md), '.zh' otherwise (index.zh.md)."""
        return "" if lang == self.default_language else f".{lang}"


def read_site_config(root: Path) -> SiteConfig:
    """Read `root/hugo.yaml`; a missing or malformed file is a configuration error (exit 2)."""
    path = root / "hugo.yaml"
    try:
        config = load_yaml_file(path)[0] or {}
    except FileNotFoundError:
        raise UsageError(f"no hugo.yaml in {root}") from None
    if not isinstance(config, dict):
        raise UsageError("hugo.yaml is not a mapping", path=path)
    tz_name = config.get("timeZone") or "UTC"
    try:
        time_zone = ZoneInfo(str(tz_name))
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"timeZone {tz_name!r} is not an IANA time zone", path=path) from None
    default_language = str(config.get("defaultContentLanguage") or "en")
    languages_config = config.get("languages") or {default_language: {}}
    if not isinstance(languages_config, dict):
        raise UsageError("languages must be a mapping", path=path)
    languages = tuple(sorted(languages_config, key=lambda lang: ((languages_config[lang] or {}).get("weight", 0), lang)))
    if default_language not in languages:
        languages = (default_language, *languages)
    base_url = config.get("baseURL")
    return SiteConfig(time_zone=time_zone, languages=languages, default_language=default_language,
                      content_dir=str(config.get("contentDir") or "content"),
                      base_url=base_url if isinstance(base_url, str) else None, path=path)
