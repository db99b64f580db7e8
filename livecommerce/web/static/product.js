// /p/{product}: images, variants, price, units left, the shows featuring it, instant buy.
import { api, el, header, sessionIdFromPath } from "/static/app.js";
import { loadBuyer, openBuySheet } from "/static/buy.js";
import { formatDate, formatMoney as money, formatNumber, initI18n, t } from "/static/i18n.js";

await initI18n();
header();
const productId = sessionIdFromPath();
const $ = (id) => document.getElementById(id);
// A link shared from a show (/p/7?s=12) credits the purchase to that show.
const fromShow = Number(new URLSearchParams(location.search).get("s")) || null;

let product = null, stock = null, chosen = null;
let buyer = { me: null, methods: [] };

$("buy").addEventListener("click", () => {
  openBuySheet({
    product,
    variant: chosen,
    unitPrice: (v) => v.price_minor,
    sessionId: fromShow,
    buyer,
    doneLabel: t("common.close"),
    onOrder: async () => {
      stock = await api.get(`/api/products/${productId}/stock`).catch(() => stock);
      renderChoice();
    },
  });
});

function missing(key) {
  $("loading")?.remove();
  $("missing-title").textContent = t(key);
  $("missing").hidden = false;
  document.title = `${t(key)} — livecommerce`;
}

try {
  product = await api.get(`/api/products/${productId}`);
} catch (err) {
  if (err.status !== 404) throw err;
}
if (!product) missing("product.not_found");
else if (!product.is_active) missing("product.withdrawn");
else await show();

async function show() {
  let featuring;
  try {
    [stock, featuring, buyer] = await Promise.all([
      api.get(`/api/products/${productId}/stock`),
      api.get(`/api/products/${productId}/sessions`),
      loadBuyer(),  // before the page shows, so Buy opens at once
    ]);
  } catch (err) {
    if (err.status === 404) { missing("product.withdrawn"); return; }  // withdrawn meanwhile
    throw err;
  }
  document.title = `${product.name} — livecommerce`;
  $("name").textContent = product.name;
  $("description").textContent = product.description;
  renderImages();
  chosen = product.variants.find((v) => left(v) > 0) || product.variants[0];
  renderVariants();
  renderChoice();
  renderShows($("live-now"), featuring.live, "product.no_live");
  renderShows($("upcoming"), featuring.upcoming, "product.no_upcoming");
  $("loading")?.remove();
  $("product").hidden = false;
}

function left(variant) { return stock.variants[variant.id] ?? 0; }

function renderImages() {
  const images = product.images.length ? product.images : [""];
  const main = $("main-image");
  const pick = (i) => {
    main.src = images[i];
    main.alt = images.length > 1 ? t("product.image_n", { name: product.name, n: formatNumber(i + 1) }) : product.name;
    $("thumbs").querySelectorAll("button").forEach((b, j) => b.setAttribute("aria-pressed", String(i === j)));
  };
  $("thumbs").replaceChildren(...(images.length > 1 ? images.map((src, i) =>
    el("button", { type: "button", "aria-pressed": "false", onclick: () => pick(i),
      "aria-label": t("product.show_image", { n: formatNumber(i + 1) }) },
      el("img", { src, alt: "" }))) : []));
  pick(0);
}

function renderVariants() {
  const box = $("variants");
  box.hidden = product.variants.length < 2;
  box.querySelectorAll("label").forEach((n) => n.remove());
  for (const v of product.variants) {
    box.append(el("label", {},
      el("input", { type: "radio", name: "variant", value: v.id, checked: v.id === chosen.id,
        onchange: () => { chosen = v; renderChoice(); } }),
      v.name));
  }
}

function renderChoice() {
  $("price").textContent = money(chosen.price_minor, product.currency);
  const n = left(chosen);
  $("stock").textContent = n > 0 ? t("product.left", { count: formatNumber(n) }) : t("product.sold_out");
  $("buy").disabled = n <= 0;
}

function renderShows(box, sessions, emptyKey) {
  if (!sessions.length) {
    box.replaceChildren(el("p", { class: "muted" }, t(emptyKey)));
    return;
  }
  box.replaceChildren(...sessions.map((s) => el("div", { class: "show", "data-session": s.id },
    el("span", { class: `badge ${s.status}` }, t(`common.status_${s.status}`)),
    el("span", { class: "title" }, s.title),
    el("span", { class: "muted" }, s.status === "live" ? s.host_name
      : s.scheduled_at ? t("product.starts", { when: formatDate(s.scheduled_at) }) : t("product.not_scheduled")),
    el("a", { class: "btn small", href: `/watch/${s.id}` },
      s.status === "live" ? t("product.watch_live") : t("product.open_show")))));
}

