"""``/@<handle>``: a creator's link-in-bio page, rendered on the server.

Everything is in the first response (no API round trip before the first paint): the
show they are live in with its pinned product, upcoming shows, replays (each opening
``/replay/<id>``), the showcase,
OpenGraph tags for link previews, texts in the request's language (the catalogs'
``bio.*`` keys, read on the server). Its one script (``/static/bio.js``) adds the
header and formats prices in the visitor's locale; nothing inline, so the pages' CSP
holds. Buying goes through the product page (``/p/<id>``): the same instant checkout,
and a share link's attribution cookie travels with it. An unknown handle is a 404 page.
"""

from __future__ import annotations

import hashlib
import html
import re
from datetime import datetime

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from livecommerce.components import Component
from livecommerce.creators.bio import Bio, BioProduct, BioShow, HasReplay, load_bio
from livecommerce.http.security import page_headers
from livecommerce.services import Services
from livecommerce.web.catalogs import text
from livecommerce.web.language import choose

__all__ = ["BioPage", "render"]

_HANDLE = re.compile(r"^[a-z0-9_]{3,30}$")
_DEFAULT_IMAGE = "/static/og-default.png"


class BioPage(Component):
    def __init__(self, services: Services, *, has_replay: HasReplay | None = None) -> None:
        """``has_replay``: whether an ended show has a replay (the composition root
        passes ``Replays.has_replay``); without it the page lists no replays."""
        self.services = services
        self.has_replay = has_replay

    def routes(self) -> list[BaseRoute]:
        return [Route("/@{handle}", self.page, methods=["GET"], name="page:bio")]

    async def page(self, request: Request) -> Response:
        handle = str(request.path_params["handle"])
        lang = choose(request.cookies.get("lang"), request.headers.get("accept-language"))
        bio = None
        if _HANDLE.match(handle):
            bio = await load_bio(
                self.services.db,
                self.services.mux,
                handle,
                now_ms=int(self.services.clock() * 1000),
                has_replay=self.has_replay,
            )
        base = str(request.base_url).rstrip("/")
        body = render(bio, lang, base=base, handle=handle)
        headers = {
            "Cache-Control": "no-cache",
            "Vary": "Accept-Language, Cookie",
            "Content-Language": lang,
            **page_headers([], self.services.settings.frame_ancestors),
        }
        if bio is not None:
            etag = '"' + hashlib.sha256(body.encode()).hexdigest()[:20] + '"'
            headers["ETag"] = etag
            if etag in request.headers.get("if-none-match", ""):
                return Response(status_code=304, headers=headers)
        return HTMLResponse(body, status_code=200 if bio else 404, headers=headers)


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _money(minor: int, currency: str) -> str:
    return (
        f'<data class="price" value="{minor}" data-currency="{_e(currency)}">'
        f"{minor / 100:.2f} {_e(currency)}</data>"
    )


def _time(moment: datetime | None, lang: str) -> str:
    if moment is None:
        return _e(text(lang, "bio.time_tbd"))
    iso = moment.isoformat()
    return f'<time datetime="{_e(iso)}">{_e(moment.strftime("%Y-%m-%d %H:%M"))} UTC</time>'


def _product(p: BioProduct, lang: str) -> str:
    label = text(lang, "bio.buy_named", name=p.name)
    image = (
        f'<img src="{_e(p.image)}" alt="" loading="lazy" width="160" height="160">'
        if p.image
        else ""
    )
    return (
        f'<li class="bio-product">{image}<span class="bio-name">{_e(p.name)}</span>'
        f"{_money(p.price_minor, p.currency)}"
        f'<a class="btn small" href="/p/{p.id}" aria-label="{_e(label)}">'
        f"{_e(text(lang, 'bio.buy'))}</a></li>"
    )


def _show(s: BioShow, lang: str) -> str:
    return (
        f'<li class="bio-show"><a href="/watch/{s.id}">{_e(s.title)}</a> '
        f'<span class="muted">{_time(s.scheduled_at, lang)}</span></li>'
    )


def _replay(s: BioShow, lang: str) -> str:
    return (
        f'<li class="bio-show"><a href="/replay/{s.id}">{_e(s.title)}</a> '
        f'<span class="muted">{_e(text(lang, "bio.streamed"))} '
        f"{_time(s.started_at or s.ended_at, lang)}</span></li>"
    )


def _section(ident: str, title: str, items: list[str], empty: str) -> str:
    inner = (
        f'<ul class="bio-list">{"".join(items)}</ul>' if items else f'<p class="empty">{empty}</p>'
    )
    return (
        f'<section class="bio-section" aria-labelledby="{ident}">'
        f'<h2 id="{ident}">{title}</h2>{inner}</section>'
    )


def render(bio: Bio | None, lang: str, *, base: str, handle: str) -> str:
    """The page's HTML (``bio`` None: the 404 page for ``handle``)."""
    if bio is None:
        title = _e(text(lang, "bio.not_found_title"))
        main = (
            f"<h1>{title}</h1>"
            f"<p>{_e(text(lang, 'bio.not_found_text', handle=handle))}</p>"
            f'<p><a href="/">{_e(text(lang, "bio.see_shows"))}</a></p>'
        )
        return _document(lang, title, "", main)
    name = _e(bio.display_name)
    title = _e(text(lang, "bio.doc_title", name=bio.display_name, handle=bio.handle))
    description = _e(text(lang, "bio.og_description", name=bio.display_name))
    image = (bio.pinned.image if bio.pinned else None) or next(
        (p.image for p in bio.showcase if p.image), None
    )
    image_url = image if image and image.startswith(("http://", "https://")) else None
    image_url = image_url or base + (image if image and image.startswith("/") else _DEFAULT_IMAGE)
    url = f"{base}/@{bio.handle}"
    meta = "\n".join(
        [
            f'<meta name="description" content="{description}">',
            '<meta property="og:type" content="profile">',
            f'<meta property="og:title" content="{title}">',
            f'<meta property="og:description" content="{description}">',
            f'<meta property="og:image" content="{_e(image_url)}">',
            f'<meta property="og:url" content="{_e(url)}">',
            '<meta name="twitter:card" content="summary_large_image">',
            f'<link rel="canonical" href="{_e(url)}">',
        ]
    )
    live = ""
    if bio.live is not None:
        pinned = ""
        if bio.pinned is not None:
            pinned = (
                f'<h3 id="bio-pinned">{_e(text(lang, "bio.pinned"))}</h3>'
                f'<ul class="bio-list" aria-labelledby="bio-pinned">'
                f"{_product(bio.pinned, lang)}</ul>"
            )
        live = (
            f'<section class="bio-section bio-live" aria-labelledby="bio-live">'
            f'<h2 id="bio-live"><span class="badge live">{_e(text(lang, "bio.live_now"))}</span> '
            f"{_e(bio.live.title)}</h2>"
            f'<p><a class="btn" href="/watch/{bio.live.id}">{_e(text(lang, "bio.watch"))}</a></p>'
            f"{pinned}</section>"
        )
    main = (
        f'<header class="bio-head"><h1>{name}</h1>'
        f'<p class="muted">@{_e(bio.handle)}</p></header>'
        + live
        + _section(
            "bio-upcoming",
            _e(text(lang, "bio.upcoming")),
            [_show(s, lang) for s in bio.upcoming],
            _e(text(lang, "bio.no_upcoming")),
        )
        + _section(
            "bio-replays",
            _e(text(lang, "bio.replays")),
            [_replay(s, lang) for s in bio.replays],
            _e(text(lang, "bio.no_replays")),
        )
        + _section(
            "bio-showcase",
            _e(text(lang, "bio.showcase")),
            [_product(p, lang) for p in bio.showcase],
            _e(text(lang, "bio.no_showcase")),
        )
    )
    return _document(lang, title, meta, main)


def _document(lang: str, title: str, meta: str, main: str) -> str:
    return f"""<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
{meta}
<link rel="stylesheet" href="/static/style.css">
<link rel="stylesheet" href="/static/bio.css">
<script type="module" src="/static/bio.js"></script>
</head>
<body>
<main id="main" class="bio-page">
{main}
</main>
</body>
</html>
"""
