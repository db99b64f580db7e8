"""The catalogs (``static/i18n/<lang>.json``) read on the server, for pages rendered
there (``/@<handle>``, the 410 page of a share link): the same texts the pages'
``i18n.js`` shows, with the same fallback (the language, then English, then the key)."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from livecommerce.web.language import DEFAULT

__all__ = ["text"]

_DIR = Path(__file__).parent / "static" / "i18n"


@functools.cache
def _catalog(lang: str) -> dict[str, str]:
    found: dict[str, str] = json.loads((_DIR / f"{lang}.json").read_text())
    return found


def text(lang: str, key: str, **values: object) -> str:
    """The message ``key`` in ``lang`` with its ``{placeholders}`` filled (not escaped)."""
    message = _catalog(lang).get(key) or _catalog(DEFAULT).get(key) or key
    for name, value in values.items():
        message = message.replace("{" + name + "}", str(value))
    return message
