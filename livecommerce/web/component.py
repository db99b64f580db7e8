"""Serves the pages and their static assets.

Each page is one static HTML file; its script reads the session id from the
URL and talks to the public API and the WebSocket hub, like any other client.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from livecommerce.components import Component
from livecommerce.errors import NotFound
from livecommerce.http.security import inline_script_hashes, page_headers
from livecommerce.settings import Settings
from livecommerce.web.language import LANGUAGES, choose, with_lang

__all__ = ["WebPages"]

Endpoint = Callable[[Request], Awaitable[Response]]

STATIC = Path(__file__).parent / "static"

#: The npm packages (package.json at the repository root, installed by scripts/install_web).
NODE_MODULES = Path(__file__).resolve().parents[2] / "node_modules"

#: ``/static/vendor/<name>`` → the file of an npm package the pages load.
VENDOR = {"hls.min.mjs": "hls.js/dist/hls.min.mjs"}

#: URL → page file; ``{session_id}`` pages share one file each.
PAGES = {
    "/": "index.html",
    "/login": "login.html",
    "/watch/{session_id:int}": "watch.html",
    "/host/{session_id:int}": "host.html",
    "/moderate/{session_id:int}": "moderate.html",
    "/studio": "studio.html",
    "/replay/{session_id:int}": "replay.html",
    "/p/{product_id:int}": "product.html",
    "/signup": "signup.html",
    "/account": "account.html",
    "/orders": "orders.html",
    "/orders/{order_id}": "orders.html",
    "/brand": "brand.html",
    "/earnings": "earnings.html",
    "/marketplace": "marketplace.html",
}


def _page(filename: str, frame_ancestors: Sequence[str]) -> Endpoint:
    html = (STATIC / filename).read_text()
    # The page's own inline scripts are allowed by hash, nothing else inline;
    # only <html lang> differs between languages, so the hashes hold for all.
    hashes = inline_script_hashes(html)
    served = {lang: with_lang(html, lang) for lang in LANGUAGES}
    # One ETag per language, so a browser revalidates (no-cache) with a 304.
    etags = {
        lang: '"' + hashlib.sha256(body.encode()).hexdigest()[:20] + '"'
        for lang, body in served.items()
    }

    # no-cache: pages are tiny and must pick up a new deploy at once.
    headers = {
        "Cache-Control": "no-cache",
        "Vary": "Accept-Language, Cookie",
        **page_headers(hashes, frame_ancestors),
    }

    async def endpoint(request: Request) -> Response:
        lang = choose(request.cookies.get("lang"), request.headers.get("accept-language"))
        own = {**headers, "Content-Language": lang, "ETag": etags[lang]}
        if etags[lang] in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=own)
        return HTMLResponse(served[lang], headers=own)

    return endpoint


async def _vendor(request: Request) -> Response:
    """An npm package's file, or a 404 problem the page turns into a message (the
    packages are missing when scripts/install_web has not run)."""
    name = request.path_params["name"]
    path = NODE_MODULES / VENDOR[name] if name in VENDOR else None
    if path is None or not path.is_file():
        raise NotFound(f"{name} is not installed here (scripts/install_web installs it)")
    # The file changes only with package-lock.json: revalidate, cheaply (ETag).
    return FileResponse(path, media_type="text/javascript", headers={"Cache-Control": "no-cache"})


class WebPages(Component):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def routes(self) -> list[BaseRoute]:
        ancestors = self.settings.frame_ancestors
        routes: list[BaseRoute] = [
            Route(url, _page(filename, ancestors), methods=["GET"], name=f"page:{filename}")
            for url, filename in PAGES.items()
        ]
        routes.append(
            Route("/static/vendor/{name}", _vendor, methods=["GET"], name="static:vendor")
        )
        routes.append(Mount("/static", StaticFiles(directory=STATIC), name="static"))
        return routes
