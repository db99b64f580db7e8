// Renders a `dashboard` frame (the same JSON as GET /api/sessions/{id}/dashboard).
import { el, money } from "/static/app.js";

const pct = (x) => `${(x * 100).toFixed(1)}%`;

export function renderNumbers(box, d, { products = true } = {}) {
  const cur = d.currency || "USD";
  const cells = [
    ["viewers-now", "Viewers now", d.viewers.now],
    ["viewers-peak", "Peak", d.viewers.peak],
    ["viewers-unique", "Unique", d.viewers.unique],
    ["orders", "Orders", d.orders],
    ["gmv", "Revenue", money(d.gmv_minor, cur)],
    ["units-sold", "Units sold", d.units_sold],
    ["conversion", "Conversion", pct(d.conversion)],
    ["orders-per-min", "Orders/min", d.orders_per_min],
    ["chat-per-min", "Chat/min", d.chat_per_min],
    ["reactions-per-min", "Reactions/min", d.reactions_per_min],
  ];
  const s = d.stream;
  const stream = s
    ? [["bitrate", "Bitrate", `${(s.bitrate_bps / 1000).toFixed(0)} kb/s`], ["fps", "FPS", s.fps.toFixed(1)],
       ["loss", "Loss", pct(s.loss_fraction)], ["on-media", "On video", s.viewers_on_media]]
    : [["bitrate", "Stream", "off"]];
  const pin = d.pinned
    ? el("div", { class: "muted", id: "pinned-now" }, "Pinned: ", el("b", {}, d.pinned.name),
        ` · ${Math.floor(d.pinned.pinned_for_s / 60)}m ${Math.floor(d.pinned.pinned_for_s % 60)}s`)
    : el("div", { class: "muted", id: "pinned-now" }, "Nothing pinned");
  const grid = el("div", { class: "numbers" }, [...cells, ...stream].map(([id, k, v]) =>
    el("div", { class: "num", "data-num": id }, el("div", { class: "v" }, String(v)), el("div", { class: "k" }, k))));
  const table = products && d.products.length ? el("table", { class: "products" },
    el("tr", {}, el("th", {}, "Product"), el("th", { class: "n" }, "Sold"), el("th", { class: "n" }, "Revenue"), el("th", { class: "n" }, "Left")),
    d.products.map((p) => el("tr", { "data-product-id": p.product_id },
      el("td", {}, p.name), el("td", { class: "n" }, p.units_sold), el("td", { class: "n" }, money(p.gmv_minor, cur)),
      el("td", { class: "n" }, p.units_left === null ? "—" : p.units_left)))) : null;
  box.classList.remove("muted");
  box.replaceChildren(pin, grid, table || "");
  box.dataset.orders = d.orders;
  box.dataset.gmv = d.gmv_minor;
}
