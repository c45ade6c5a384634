"""The few facts of hugo.yaml that the Python tooling needs: the site's timezone and its languages."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from scripts.errors import UsageError


@dataclass(frozen=True)
class SiteConfig:
    time_zone: ZoneInfo
    languages: tuple[str, ...]  # ordered by their weight in hugo.yaml
    default_language: str
    content_dir: str = "content"

    def language_suffix(self, lang: str) -> str:
        """'' for the default language (index.md), '.zh' otherwise (index.zh.md)."""
        return "" if lang == self.default_language else f".{lang}"


def read_site_config(root: Path) -> SiteConfig:
    """Read `root/hugo.yaml`; a missing or malformed file is a configuration error (exit 2)."""
    path = root / "hugo.yaml"
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise UsageError(f"no hugo.yaml in {root}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise UsageError(f"invalid YAML: {getattr(err, 'problem', err)}", path=path,
                         line=mark.line + 1 if mark else None) from None
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
    return SiteConfig(time_zone=time_zone, languages=languages, default_language=default_language,
                      content_dir=str(config.get("contentDir") or "content"))
