// Renders a `dashboard` frame (the same JSON as GET /api/sessions/{id}/dashboard).
import { el } from "/static/app.js";
import { formatMoney, formatNumber, t } from "/static/i18n.js";

const pct = (x) => formatNumber(x, { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 });
const num = (x) => formatNumber(x, { maximumFractionDigits: 1 });

export function renderNumbers(box, d, { products = true } = {}) {
  const cur = d.currency || "USD";
  const cells = [
    ["viewers-now", t("numbers.viewers_now"), num(d.viewers.now)],
    ["viewers-peak", t("numbers.peak"), num(d.viewers.peak)],
    ["viewers-unique", t("numbers.unique"), num(d.viewers.unique)],
    ["orders", t("numbers.orders"), num(d.orders)],
    ["gmv", t("numbers.revenue"), formatMoney(d.gmv_minor, cur)],
    ["units-sold", t("numbers.units_sold"), num(d.units_sold)],
    ["conversion", t("numbers.conversion"), pct(d.conversion)],
    ["orders-per-min", t("numbers.orders_per_min"), num(d.orders_per_min)],
    ["chat-per-min", t("numbers.chat_per_min"), num(d.chat_per_min)],
    ["reactions-per-min", t("numbers.reactions_per_min"), num(d.reactions_per_min)],
  ];
  const s = d.stream;
  const stream = s
    ? [["bitrate", t("numbers.bitrate"), t("numbers.kbps", { value: formatNumber(Math.round(s.bitrate_bps / 1000)) })],
       ["fps", t("numbers.fps"), formatNumber(s.fps, { minimumFractionDigits: 1, maximumFractionDigits: 1 })],
       ["loss", t("numbers.loss"), pct(s.loss_fraction)], ["on-media", t("numbers.on_video"), num(s.viewers_on_media)]]
    : [["bitrate", t("numbers.stream"), t("numbers.stream_off")]];
  const pin = d.pinned
    ? el("div", { class: "muted", id: "pinned-now" }, t("numbers.pinned"), " ", el("b", {}, d.pinned.name),
        " · ", t("numbers.pinned_for", { minutes: num(Math.floor(d.pinned.pinned_for_s / 60)), seconds: num(Math.floor(d.pinned.pinned_for_s % 60)) }))
    : el("div", { class: "muted", id: "pinned-now" }, t("host.nothing_pinned"));
  const grid = el("div", { class: "numbers" }, [...cells, ...stream].map(([id, k, v]) =>
    el("div", { class: "num", "data-num": id }, el("div", { class: "v" }, String(v)), el("div", { class: "k" }, k))));
  const table = products && d.products.length ? el("table", { class: "products" },
    el("thead", {}, el("tr", {}, el("th", { scope: "col" }, t("numbers.product")), el("th", { scope: "col", class: "n" }, t("numbers.sold")),
      el("th", { scope: "col", class: "n" }, t("numbers.revenue")), el("th", { scope: "col", class: "n" }, t("numbers.left")))),
    el("tbody", {}, d.products.map((p) => el("tr", { "data-product-id": p.product_id },
      el("td", {}, p.name), el("td", { class: "n" }, num(p.units_sold)), el("td", { class: "n" }, formatMoney(p.gmv_minor, cur)),
      el("td", { class: "n" }, p.units_left === null ? t("common.no_value") : num(p.units_left)))))) : null;
  box.classList.remove("muted");
  box.replaceChildren(pin, grid, table || "");
  box.dataset.orders = d.orders;
  box.dataset.gmv = d.gmv_minor;
}
