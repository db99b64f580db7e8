// /orders: my orders, newest first (paged); /orders/{id}: one order, with a refund request.
// Status changes arrive live: the page listens to the user's `order_status` frames on /ws.
import { api, el, header } from "/static/app.js";
import { clearErrors, showErrors } from "/static/fielderrors.js";
import { formatDate, initI18n, t } from "/static/i18n.js";
import { OrdersFeed } from "/static/ordersfeed.js";
import { orderDetail, orderRow } from "/static/orderview.js";
import { requireSignIn, signedIn } from "/static/signedin.js";

await initI18n();
header();
await requireSignIn();
const $ = (id) => document.getElementById(id);
const PAGE = 20;
const detailId = decodeURIComponent(location.pathname.split("/")[2] || "");

// --- the list -------------------------------------------------------------------
let nextOffset = 0;
async function loadPage(offset) {
  const page = await signedIn(api.get(`/api/orders?limit=${PAGE}&offset=${offset}`));
  const rows = await Promise.all(page.items.map(orderRow));
  if (offset === 0) $("orders").replaceChildren(...rows); else $("orders").append(...rows);
  nextOffset = page.next_offset;
  $("more").hidden = nextOffset === null;
  $("no-orders").hidden = $("orders").children.length > 0;
}

/** Refetch one order and put it where it is shown (a new order: the list starts over). */
async function refresh(orderId) {
  if (detailId) {
    if (orderId === detailId) await showDetail();
    return;
  }
  const row = document.querySelector(`#orders [data-order-id="${CSS.escape(orderId)}"]`);
  if (!row) { await loadPage(0); return; }
  row.replaceWith(await orderRow(await api.get(`/api/orders/${encodeURIComponent(orderId)}`)));
}

// --- the detail and its refund request --------------------------------------------
const REFUNDABLE = new Set(["paid", "fulfilled"]);

function refundPart(order) {
  if (order.refund_requested_at) {
    return el("p", { id: "refund-state", class: "note" },
      t("orders.refund_requested_on", { date: formatDate(order.refund_requested_at) }),
      order.refund_reason ? el("span", { class: "muted" }, ` — ${order.refund_reason}`) : "");
  }
  if (!REFUNDABLE.has(order.status)) return null;
  const reason = el("textarea", { id: "refund-reason", name: "reason", maxlength: 500, rows: 3 });
  const form = el("form", { id: "refund-form", class: "stack", novalidate: true },
    el("h2", {}, t("orders.refund_title")),
    el("div", { class: "field" }, el("label", { for: reason.id }, t("orders.refund_reason")), reason),
    el("button", { id: "refund-request", class: "btn secondary", type: "submit" }, t("orders.refund_submit")));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const button = form.querySelector("button");
    button.disabled = true;
    clearErrors(form);
    try {
      await api.post(`/api/orders/${encodeURIComponent(order.id)}/refund-request`, { reason: reason.value.trim() });
      await showDetail();
    } catch (err) {
      showErrors(form, err)?.focus();
      button.disabled = false;
    }
  });
  return form;
}

async function showDetail() {
  let order;
  try {
    order = await signedIn(api.get(`/api/orders/${encodeURIComponent(detailId)}`));
  } catch (err) {
    $("detail").replaceChildren(el("p", { class: "error", role: "alert" }, err.status === 404 ? t("orders.not_found") : err.message));
    return;
  }
  // keep a reason being typed across a live refresh
  const typed = $("refund-reason")?.value;
  $("detail").replaceChildren(await orderDetail(order), refundPart(order) || "");
  if (typed && $("refund-reason")) $("refund-reason").value = typed;
}

if (detailId) {
  $("heading").textContent = t("orders.detail_title");
  document.title = t("orders.detail_doc_title");
  $("list-view").hidden = true;
  $("detail-view").hidden = false;
  await showDetail();
} else {
  $("more").addEventListener("click", () => loadPage(nextOffset));
  await loadPage(0);
}

// --- live status ------------------------------------------------------------------
const feed = new OrdersFeed({
  onStatus: (frame) => refresh(String(frame.order_id)),
  onResync: () => (detailId ? showDetail() : loadPage(0)),
});
window.lcOrders = feed;  // for the browser test: feed.authed
document.body.dataset.ready = "1";
