"""The language a page is served in: `lang` cookie, else Accept-Language, else English."""

from __future__ import annotations

import re

__all__ = ["DEFAULT", "LANGUAGES", "choose", "with_lang"]

#: The languages with a catalog in static/i18n/ (one ``<code>.json`` each).
LANGUAGES = ("en", "tr", "de", "id", "it", "fr")
DEFAULT = "en"


def _primary(tag: str) -> str:
    return tag.strip().lower().split("-")[0].split("_")[0]


def _accepted(header: str) -> list[str]:
    """The languages of an ``Accept-Language`` header we have, best first; q=0 means "not this"."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.partition(";")
        quality = 1.0
        match = re.search(r"\bq\s*=\s*([^;,\s]*)", params)
        if match:
            # A weight that is not a number makes the entry unusable, not preferred.
            try:
                quality = float(match.group(1))
            except ValueError:
                quality = 0.0
        if quality <= 0:
            continue
        ranked.append((-quality, position, _primary(tag)))
    ranked.sort()
    return [lang for _, _, lang in ranked if lang in LANGUAGES]


def choose(cookie: str | None, accept_language: str | None) -> str:
    """The page's language: the remembered choice, else the browser's best we have, else English."""
    if cookie and _primary(cookie) in LANGUAGES:
        return _primary(cookie)
    for lang in _accepted(accept_language or ""):
        return lang
    return DEFAULT


_HTML_LANG = re.compile(r'<html lang="[^"]*">')


def with_lang(html: str, lang: str) -> str:
    """``html`` with its ``<html lang>`` set to ``lang`` (one of :data:`LANGUAGES`)."""
    return _HTML_LANG.sub(f'<html lang="{lang}">', html, count=1)
