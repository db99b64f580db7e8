"""HTTP adapter of the brand console: ``/api/brand/orders`` and ``/api/brand/sales``.

A brand user reads its own brand (naming another one is 403); an admin names the brand
with ``?brand_id=``. Fulfilling and refunding stay on ``POST /api/orders/{id}/fulfil``
and ``/refund`` (:mod:`cart.orders`), which the console's page calls from the list.
"""

from __future__ import annotations

from starlette.responses import Response

from cart.brand.access import console_brand
from cart.brand.export import orders_csv
from cart.brand.orders import OrderFilter, brand_order, brand_orders
from cart.brand.sales import sales, sales_csv
from cart.brand.schemas import (
    BrandOrderExportQuery,
    BrandOrderOut,
    BrandOrderPage,
    BrandOrderQuery,
    BrandQuery,
    SalesQuery,
    SalesReport,
)
from cart.component import CartComponent
from livecommerce.api.routing import Api, Call

__all__ = ["api"]

api: Api[CartComponent] = Api(tags=["brand console"])


@api.route(
    "GET",
    "/api/brand/orders",
    summary="Your brand's orders (those holding its products), newest first, with filters",
    query=BrandOrderQuery,
    response=BrandOrderPage,
    auth="required",
    errors=[400, 403],
)
async def list_brand_orders(cart: CartComponent, call: Call) -> BrandOrderPage:
    q = call.query_as(BrandOrderQuery)
    brand_id = console_brand(call.principal, q.brand_id)
    async with cart.services.db.sessions() as db:
        return await brand_orders(db, brand_id, _filters(q), limit=q.limit, cursor=q.cursor)


def _filters(q: BrandOrderQuery | BrandOrderExportQuery) -> OrderFilter:
    return OrderFilter(
        status=q.status.value if q.status is not None else None,
        start=q.start,
        end=q.end,
        session_id=q.session_id,
        creator_id=q.creator_id,
    )


def _csv(text: str, filename: str) -> Response:
    return Response(
        text,
        media_type="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


@api.route(
    "GET",
    "/api/brand/orders.csv",
    summary="Your brand's orders as CSV, one row per item of yours (same filters as the list)",
    query=BrandOrderExportQuery,
    auth="required",
    errors=[400, 403],
    response_media_type="text/csv",
)
async def brand_orders_csv(cart: CartComponent, call: Call) -> Response:
    q = call.query_as(BrandOrderExportQuery)
    brand_id = console_brand(call.principal, q.brand_id)
    async with cart.services.db.sessions() as db:
        text = await orders_csv(db, brand_id, _filters(q))
    return _csv(text, f"brand-{brand_id}-orders.csv")


@api.route(
    "GET",
    "/api/brand/orders/{order_id}",
    summary="One order as your brand sees it (403 if it holds none of your products)",
    query=BrandQuery,
    response=BrandOrderOut,
    auth="required",
    errors=[400, 403, 404],
)
async def get_brand_order(cart: CartComponent, call: Call) -> BrandOrderOut:
    brand_id = console_brand(call.principal, call.query_as(BrandQuery).brand_id)
    async with cart.services.db.sessions() as db:
        return await brand_order(db, brand_id, call.param("order_id"))


@api.route(
    "GET",
    "/api/brand/sales",
    summary="Your brand's sales by product, show or creator: GMV, units, commission owed, refunds",
    query=SalesQuery,
    response=SalesReport,
    auth="required",
    errors=[400, 403],
)
async def brand_sales(cart: CartComponent, call: Call) -> SalesReport:
    q = call.query_as(SalesQuery)
    brand_id = console_brand(call.principal, q.brand_id)
    async with cart.services.db.sessions() as db:
        report = await sales(db, brand_id, q.group, start=q.start, end=q.end)
    return SalesReport(brand_id=brand_id, group=q.group, rows=report.rows, totals=report.totals)


@api.route(
    "GET",
    "/api/brand/sales.csv",
    summary="The sales report as CSV (a header row, then one row per group and currency)",
    query=SalesQuery,
    auth="required",
    errors=[400, 403],
    response_media_type="text/csv",
)
async def brand_sales_csv(cart: CartComponent, call: Call) -> Response:
    q = call.query_as(SalesQuery)
    brand_id = console_brand(call.principal, q.brand_id)
    async with cart.services.db.sessions() as db:
        report = await sales(db, brand_id, q.group, start=q.start, end=q.end)
    return _csv(sales_csv(q.group, report), f"brand-{brand_id}-sales-by-{q.group.value}.csv")
