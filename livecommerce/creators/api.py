"""HTTP adapters: a creator's affiliate links (``/l/<code>`` itself is served by
:mod:`livecommerce.web.shortlinks`, which answers browsers with pages)."""

from __future__ import annotations

from livecommerce.api.routing import Api, Call
from livecommerce.creators.component import CreatorsComponent
from livecommerce.creators.links import LinkStats
from livecommerce.creators.schemas import LinkIn, LinkOut
from livecommerce.db.models import AffiliateLink, LinkTarget

__all__ = ["api"]

api: Api[CreatorsComponent] = Api(tags=["creators"])


def _out(link: AffiliateLink, stats: LinkStats | None = None) -> LinkOut:
    return LinkOut(
        id=link.id,
        code=link.code,
        url=f"/l/{link.code}",
        target=link.target,
        product_id=link.product_id,
        session_id=link.session_id,
        created_at=link.created_at,
        clicks=stats.clicks if stats else 0,
        unique_visitors=stats.unique_visitors if stats else 0,
    )


@api.route(
    "POST",
    "/api/links",
    summary="Make a share link to a product, one of your shows or your showcase (creators)",
    body=LinkIn,
    response=LinkOut,
    status=201,
    auth="required",
    errors=[403, 404, 409, 422],
)
async def create_link(creators: CreatorsComponent, call: Call) -> LinkOut:
    body = call.body_as(LinkIn)
    link = await creators.links.create(call.principal, LinkTarget(body.target), body.id)
    return _out(link)


@api.route(
    "GET",
    "/api/me/links",
    summary="Your share links, newest first, with their clicks and unique visitors",
    response=list[LinkOut],
    auth="required",
)
async def my_links(creators: CreatorsComponent, call: Call) -> list[LinkOut]:
    found = await creators.links.of_creator(call.principal.require_user())
    stats = await creators.links.stats([link.code for link in found])
    return [_out(link, stats.get(link.code)) for link in found]
