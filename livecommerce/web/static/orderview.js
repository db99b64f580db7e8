// How an order looks on the orders pages: the list row and the detail, with the names of its
// products and show (fetched once per page and kept).
import { api, el } from "/static/app.js";
import { formatDate, formatMoney, formatNumber, t } from "/static/i18n.js";

const products = new Map();   // id -> Promise<product | null>
const shows = new Map();      // id -> Promise<session | null>
const once = (cache, id, path) => {
  if (!cache.has(id)) cache.set(id, api.get(path).catch(() => null));
  return cache.get(id);
};
export const productOf = (id) => once(products, id, `/api/products/${id}`);
export const showOf = (id) => once(shows, id, `/api/sessions/${id}`);

export function statusBadge(order) {
  return el("span", { class: `badge status-${order.status}`, "data-status": order.status },
    t(`orders.status_${order.status}`));
}

/** "Cloudwalk Sneakers × 2" for each item, names from the catalog. */
async function itemNames(order) {
  return Promise.all(order.items.map(async (item) => {
    const product = await productOf(item.product_id);
    const variant = product && product.variants.find((v) => v.id === item.variant_id);
    return { item, product, variant,
      name: product ? product.name : t("orders.product_n", { id: item.product_id }) };
  }));
}

/** One row of the list: when, what, how much, the status; links to the detail. */
export async function orderRow(order) {
  const names = await itemNames(order);
  const what = names.map(({ item, name }) => item.quantity > 1 ? t("orders.times", { name, quantity: formatNumber(item.quantity) }) : name).join(", ");
  return el("li", { class: "row-item order", "data-order-id": order.id },
    el("div", { class: "grow" },
      el("a", { class: "title", href: `/orders/${order.id}` }, what),
      el("div", { class: "muted small" }, formatDate(order.created_at),
        order.refund_requested_at ? ` · ${t("orders.refund_requested")}` : "")),
    el("span", { class: "amount" }, formatMoney(order.total_minor, order.currency)),
    statusBadge(order));
}

/** The detail: items and prices paid, total, status, when, the show it came from. */
export async function orderDetail(order) {
  const names = await itemNames(order);
  const show = order.session_id ? await showOf(order.session_id) : null;
  const facts = [
    ["orders.status", statusBadge(order)],
    ["orders.placed", formatDate(order.created_at, { dateStyle: "long", timeStyle: "short" })],
    ["orders.payment", order.payment_status ? t(`orders.payment_${order.payment_status}`) : t("common.no_value")],
    ["orders.show", order.session_id
      ? el("a", { id: "order-show", href: `/watch/${order.session_id}` }, show ? show.title : t("orders.show_n", { id: order.session_id }))
      : t("orders.no_show")],
    ["orders.number", el("code", {}, order.id)],
  ];
  return el("article", { class: "order-detail", "data-order-id": order.id },
    el("dl", { class: "facts" }, facts.flatMap(([key, value]) => [el("dt", {}, t(key)), el("dd", {}, value)])),
    el("table", { class: "items" },
      el("caption", { class: "muted" }, t("orders.items")),
      el("thead", {}, el("tr", {},
        ["orders.item", "orders.quantity", "orders.unit_price", "orders.line_total"].map((k) => el("th", { scope: "col" }, t(k))))),
      el("tbody", {}, names.map(({ item, product, variant, name }) => el("tr", { "data-product-id": item.product_id },
        el("td", {}, product ? el("a", { href: `/p/${item.product_id}` }, name) : name,
          variant && product.variants.length > 1 ? el("span", { class: "muted" }, ` · ${variant.name}`) : ""),
        el("td", {}, formatNumber(item.quantity)),
        el("td", {}, formatMoney(item.unit_price_minor, order.currency)),
        el("td", {}, formatMoney(item.unit_price_minor * item.quantity, order.currency))))),
      el("tfoot", {}, el("tr", {},
        el("th", { scope: "row", colspan: "3" }, t("orders.total_paid")),
        el("td", { id: "order-total" }, formatMoney(order.total_minor, order.currency))))));
}
