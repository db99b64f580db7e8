"""``GET /l/<code>``: follow a creator's share link.

Counts the click (Redis only: :meth:`livecommerce.creators.links.Links.click`), gives
the visitor the signed attribution (cookie ``lc_attr``: :mod:`livecommerce.creators.attribution`)
and a visitor id (cookie ``lc_v``, for unique visitors), and redirects (302) to the
product page, the show or the creator's ``/@<handle>``. A link to a withdrawn product
answers 410: a small page in the visitor's language, or problem+json to a client that
accepts ``application/json``. An unknown code is 404 (problem+json).
"""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Sequence

from starlette.responses import HTMLResponse, RedirectResponse, Response

from livecommerce.api.routing import Api, Call, JSONResponse
from livecommerce.creators import attribution
from livecommerce.creators.component import CreatorsComponent
from livecommerce.errors import Gone, NotFound
from livecommerce.http.security import page_headers
from livecommerce.web.catalogs import text
from livecommerce.web.language import choose

__all__ = ["VISITOR_COOKIE", "api"]

api: Api[CreatorsComponent] = Api(tags=["creators"])

#: A long-lived random visitor id: what a unique visitor is.
VISITOR_COOKIE = "lc_v"
_VISITOR_MAX_AGE_S = 365 * 86400
_CODE = re.compile(r"^[A-Za-z0-9]{4,16}$")
_VISITOR = re.compile(r"^[a-f0-9]{32}$")


class ProblemJSON(JSONResponse):
    media_type = "application/problem+json"


@api.route(
    "GET",
    "/l/{code}",
    summary="Follow a share link: counts the click, sets the attribution cookie lc_attr, "
    "redirects (302) to /p/{id}, /watch/{id} or /@{handle}",
    status=302,
    errors=[404, 410],
)
async def follow_link(creators: CreatorsComponent, call: Call) -> Response:
    code = call.param("code")
    if not _CODE.match(code):
        raise NotFound(f"no share link {code!r}")
    request = call.request
    visitor = request.cookies.get(VISITOR_COOKIE, "")
    new_visitor = not _VISITOR.match(visitor)
    if new_visitor:
        visitor = secrets.token_hex(16)
    click = await creators.links.click(code, visitor)
    if click is None:
        raise NotFound(f"no share link {code!r}")
    if click.gone:
        return _gone(
            call, f"product {click.product_id} is no longer sold", creators.settings.frame_ancestors
        )
    window_s = creators.attribution_window_s
    token = attribution.issue(
        creators.services.tokens,
        creator_id=click.creator_id,
        link_id=click.link_id,
        clicked_at=creators.services.clock(),
        window_s=window_s,
    )
    secure = request.url.scheme == "https"
    response = RedirectResponse(click.location, status_code=302)
    response.headers["Cache-Control"] = "no-store"  # every click reaches us and counts
    response.set_cookie(
        attribution.COOKIE, token, max_age=window_s, httponly=True, samesite="lax", secure=secure
    )
    if new_visitor:
        response.set_cookie(
            VISITOR_COOKIE,
            visitor,
            max_age=_VISITOR_MAX_AGE_S,
            httponly=True,
            samesite="lax",
            secure=secure,
        )
    return response


def _gone(call: Call, detail: str, frame_ancestors: Sequence[str]) -> Response:
    request = call.request
    error = Gone(detail, code="product_withdrawn")
    if "application/json" in request.headers.get("accept", ""):
        return ProblemJSON(error.problem(instance=request.url.path), status_code=410)
    lang = choose(request.cookies.get("lang"), request.headers.get("accept-language"))
    title = html.escape(text(lang, "link.gone_title"))
    body = html.escape(text(lang, "link.gone_text"))
    home = html.escape(text(lang, "link.gone_home"))
    page = f"""<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="/static/style.css">
</head>
<body>
<main id="main" class="page-gone">
<h1>{title}</h1>
<p>{body}</p>
<p><a href="/">{home}</a></p>
</main>
</body>
</html>
"""
    headers = {
        "Content-Language": lang,
        "Cache-Control": "no-store",
        **page_headers([], frame_ancestors),
    }
    return HTMLResponse(page, status_code=410, headers=headers)
