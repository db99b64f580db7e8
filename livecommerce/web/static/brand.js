// /brand: the brand console. The orders holding the brand's products (filters, older pages
// by cursor) with Fulfil / Refund on each, and the sales by product, show and creator with
// a CSV download each. Everything comes from /api/brand/* (docs/api.md, "Brand console").
import { api, el, header } from "/static/app.js";
import { formatDate, formatMoney, formatNumber, initI18n, locale, t } from "/static/i18n.js";
import { requireSignIn, signedIn } from "/static/signedin.js";

await initI18n();
header();
const user = await requireSignIn();
const $ = (id) => document.getElementById(id);
const PAGE = 20;
const isAdmin = user.role === "admin";

function gate(message) {
  $("gate-message").textContent = message;
  $("gate").hidden = false;
  $("loading").remove();
  document.body.dataset.ready = "1";
}

// --- filters ------------------------------------------------------------------------
/** A local calendar day ("2026-11-28") as the instant it starts, ISO with a zone. */
const dayStart = (day, plus = 0) => {
  const d = new Date(`${day}T00:00:00`);
  d.setDate(d.getDate() + plus);
  return d.toISOString();
};

function brandParams() {
  const p = new URLSearchParams();
  if (isAdmin && $("f-brand").value) p.set("brand_id", $("f-brand").value);
  return p;
}

function periodParams() {
  const p = brandParams();
  if ($("f-from").value) p.set("from", dayStart($("f-from").value));
  if ($("f-to").value) p.set("to", dayStart($("f-to").value, 1));  // the whole "to" day
  return p;
}

function orderParams() {
  const p = periodParams();
  for (const [id, name] of [["f-status", "status"], ["f-show", "session_id"], ["f-creator", "creator_id"]]) {
    if ($(id).value) p.set(name, $(id).value);
  }
  p.set("limit", String(PAGE));
  return p;
}

// --- orders -------------------------------------------------------------------------
const ACTIONABLE = { fulfil: new Set(["paid"]), refund: new Set(["paid", "fulfilled"]) };

function statusBadge(order) {
  return el("span", { class: `badge status-${order.status}`, "data-status": order.status },
    t(`orders.status_${order.status}`));
}

function actionButton(order, action, status) {
  const button = el("button", { class: `btn small ${action === "refund" ? "secondary" : ""}`, type: "button",
    "data-action": action, "aria-describedby": `what-${order.id}` }, t(`brand.${action}`));
  let armed = action !== "refund";  // a refund asks once more: the money goes back
  button.addEventListener("click", async () => {
    if (!armed) {
      armed = true;
      button.textContent = t("brand.refund_confirm");
      return;
    }
    button.disabled = true;
    status.textContent = "";
    try {
      const done = await signedIn(api.post(`/api/orders/${encodeURIComponent(order.id)}/${action}`));
      const fresh = await api.get(`/api/brand/orders/${encodeURIComponent(done.id)}?${brandParams()}`);
      const row = orderRow(fresh);
      button.closest("li").replaceWith(row);
      row.querySelector(".row-status").textContent = t(`brand.${action}_done`);
      await loadSales();
    } catch (err) {
      status.textContent = err.message;
      button.disabled = false;
    }
  });
  return button;
}

const shipTo = (a) => [a.name, a.line1, a.line2, `${a.postal_code} ${a.city}`, a.country].filter((x) => x && x.trim()).join(", ");

function orderRow(order) {
  const what = order.items.map((i) => i.quantity > 1
    ? t("orders.times", { name: i.product_name, quantity: formatNumber(i.quantity) })
    : i.product_name).join(", ");
  const facts = [formatDate(order.created_at), t("brand.buyer", { name: order.buyer.name })];
  if (order.show) facts.push(t("brand.in_show", { title: order.show.name }));
  if (order.creator) facts.push(t("brand.credited", { name: order.creator.name }));
  const status = el("span", { class: "row-status muted small", role: "status" });
  const actions = el("div", { class: "actions" });
  if (order.whole_order) {
    if (ACTIONABLE.fulfil.has(order.status)) actions.append(actionButton(order, "fulfil", status));
    if (ACTIONABLE.refund.has(order.status)) actions.append(actionButton(order, "refund", status));
  }
  return el("li", { class: "row-item order", "data-order-id": order.id, "data-status": order.status },
    el("div", { class: "grow" },
      el("div", { class: "items-line", id: `what-${order.id}` }, what),
      el("div", { class: "muted small" }, facts.join(" · ")),
      order.refund_requested_at
        ? el("div", { class: "small refund-request" }, t("brand.refund_requested", { date: formatDate(order.refund_requested_at) }),
          order.refund_reason ? ` — ${order.refund_reason}` : "")
        : null,
      order.ship_to ? el("div", { class: "small ship-to" }, t("brand.ship_to", { address: shipTo(order.ship_to) })) : null,
      order.whole_order ? null : el("div", { class: "muted small" }, t("brand.mixed_order")),
      el("div", { class: "muted small" }, el("code", {}, order.id))),
    el("span", { class: "amount" }, formatMoney(order.brand_total_minor, order.currency)),
    statusBadge(order), actions, status);
}

let cursor = null;
async function loadOrders(more = false) {
  const params = orderParams();
  if (more && cursor) params.set("cursor", cursor);
  const page = await signedIn(api.get(`/api/brand/orders?${params}`));
  const rows = page.items.map(orderRow);
  if (more) $("orders").append(...rows); else $("orders").replaceChildren(...rows);
  cursor = page.next_cursor;
  $("more").hidden = cursor === null;
  $("no-orders").hidden = $("orders").children.length > 0;
}

// --- sales ----------------------------------------------------------------------------
const NONE = { show: "brand.no_show", creator: "brand.no_creator", product: "brand.no_product" };
const COLUMNS = ["brand.col_gmv", "brand.col_units", "brand.col_commission", "brand.col_refunds",
  "brand.col_refunds_amount", "brand.col_net"];

function figures(row) {
  return [formatMoney(row.gmv_minor, row.currency), formatNumber(row.units),
    formatMoney(row.commission_owed_minor, row.currency), formatNumber(row.refunds),
    formatMoney(row.refunds_minor, row.currency), formatMoney(row.net_minor, row.currency)];
}

/** Fetch a CSV with the token and hand it to the browser as a download. */
async function downloadCsv(path, params, filename, button) {
  button.disabled = true;
  try {
    const r = await fetch(`${path}?${params}`, { headers: { Authorization: `Bearer ${api.token()}` } });
    if (!r.ok) {
      const problem = await r.json().catch(() => null);
      throw new Error((problem && problem.detail) || `${r.status} ${r.statusText}`);
    }
    const url = URL.createObjectURL(await r.blob());
    const link = el("a", { href: url, download: filename, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  } catch (err) {
    $("filters-error").textContent = err.message;
  } finally {
    button.disabled = false;
  }
}

function salesTable(group, report) {
  const caption = t(`brand.by_${group}`);
  const head = el("tr", {}, el("th", { scope: "col" }, t(`brand.col_${group}`)),
    COLUMNS.map((k) => el("th", { scope: "col" }, t(k))));
  const body = report.rows.map((row) => el("tr", { "data-key": row.key ?? "" },
    el("th", { scope: "row" }, row.label ?? t(NONE[group])),
    figures(row).map((v) => el("td", {}, v))));
  const foot = report.totals.map((row) => el("tr", {},
    el("th", { scope: "row" }, t("brand.total", { currency: row.currency })),
    figures(row).map((v) => el("td", {}, v))));
  const csv = el("button", { class: "btn small secondary csv", type: "button", "data-csv": group },
    t("brand.download_csv", { what: caption }));
  csv.addEventListener("click", () => {
    const params = periodParams();
    params.set("group", group);
    downloadCsv("/api/brand/sales.csv", params, `sales-by-${group}.csv`, csv);
  });
  return [
    el("table", { class: "items" },
      el("caption", {}, caption),
      el("thead", {}, head),
      el("tbody", {}, body.length ? body
        : el("tr", {}, el("td", { colspan: String(COLUMNS.length + 1), class: "muted" }, t("brand.no_sales")))),
      el("tfoot", {}, foot)),
    csv,
  ];
}

/** The show and creator filters offer the shows and creators that sold the brand's
 *  products (from the sales by show / by creator), keeping what is chosen. */
const known = { show: new Map(), creator: new Map() };
function offer(group, report) {
  if (!known[group]) return;
  for (const row of report.rows) if (row.key !== null) known[group].set(String(row.key), row.label);
  const select = $(group === "show" ? "f-show" : "f-creator");
  const chosen = select.value;
  const any = select.options[0];
  const options = [...known[group]].sort((a, b) => a[1].localeCompare(b[1], locale()))
    .map(([key, label]) => el("option", { value: key, selected: key === chosen }, label));
  select.replaceChildren(any, ...options);
}

async function loadSales() {
  await Promise.all(["product", "show", "creator"].map(async (group) => {
    const params = periodParams();
    params.set("group", group);
    const report = await signedIn(api.get(`/api/brand/sales?${params}`));
    $(`sales-${group}`).replaceChildren(...salesTable(group, report));
    offer(group, report);
  }));
}

// --- start ----------------------------------------------------------------------------
async function refreshAll() {
  $("filters-error").textContent = "";
  try {
    await Promise.all([loadOrders(), loadSales()]);
  } catch (err) {
    $("filters-error").textContent = err.message;
  }
}

if (!["brand", "admin"].includes(user.role)) {
  gate(t("brand.not_a_brand", { role: t(`common.role_${user.role}`) }));
} else {
  $("brand-field").hidden = !isAdmin;
  const asked = new URLSearchParams(location.search).get("brand_id");
  if (isAdmin && asked) $("f-brand").value = asked;
  $("filters").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("apply").disabled = true;
    await refreshAll();
    $("apply").disabled = false;
  });
  $("orders-csv").addEventListener("click", () => {
    const params = orderParams();
    params.delete("limit");
    downloadCsv("/api/brand/orders.csv", params, "orders.csv", $("orders-csv"));
  });
  $("more").addEventListener("click", () => loadOrders(true).catch((err) => { $("filters-error").textContent = err.message; }));
  $("loading").remove();
  $("console").hidden = false;
  if (isAdmin && !$("f-brand").value) $("filters-error").textContent = t("brand.admin_pick");
  else await refreshAll();
  document.body.dataset.ready = "1";
}
