// /marketplace: a creator's view of the products brands opened to them (GET /api/marketplace:
// search, filters, sort, pages by cursor), their showcase (/api/me/showcase: add, reorder,
// remove) and share links (POST /api/links). docs/api.md, "Collaborations, marketplace and
// showcases".
import { api, el, header } from "/static/app.js";
import { formatMoney, formatNumber, initI18n, t } from "/static/i18n.js";
import { requireSignIn, signedIn } from "/static/signedin.js";

await initI18n();
header();
const user = await requireSignIn();
const $ = (id) => document.getElementById(id);
const PAGE = 20;

const ready = () => { document.body.dataset.ready = "1"; };  // for the browser tests

const rateText = (bps) => formatNumber(bps / 10000, { style: "percent", maximumFractionDigits: 2 });
const inShowcase = new Set();

// --- share links ----------------------------------------------------------------------
async function share(body) {
  const box = $("share");
  const status = $("share-status");
  status.textContent = "";
  try {
    const link = await signedIn(api.post("/api/links", body));
    const url = new URL(link.url, location.origin).href;
    $("share-link").value = url;
    box.hidden = false;
    try {
      await navigator.clipboard.writeText(url);
      status.textContent = t("marketplace.copied");
    } catch {
      $("share-link").select();
      status.textContent = t("marketplace.copy_manually");
    }
  } catch (err) {
    box.hidden = false;
    status.textContent = err.message;
  }
}

// --- results ----------------------------------------------------------------------------
function image(item) {
  return item.image ? el("img", { src: item.image, alt: "" }) : null;
}

function resultRow(item) {
  const nameId = `name-${item.product_id}`;
  const add = el("button", { class: "btn small", type: "button", "data-action": "add",
    "aria-describedby": nameId }, t("marketplace.add"));
  const status = el("span", { class: "row-status muted", role: "status" });
  const showAdded = () => {
    add.disabled = true;
    add.textContent = t("marketplace.added");
  };
  if (inShowcase.has(item.product_id)) showAdded();
  add.addEventListener("click", async () => {
    add.disabled = true;
    status.textContent = "";
    try {
      renderShowcase(await signedIn(api.post("/api/me/showcase", { product_id: item.product_id })));
      showAdded();
    } catch (err) {
      add.disabled = false;
      status.textContent = err.message;
    }
  });
  const shareButton = el("button", { class: "btn small secondary", type: "button", "data-action": "share",
    "aria-describedby": nameId }, t("marketplace.share"));
  shareButton.addEventListener("click", () => share({ target: "product", id: item.product_id }));
  return el("li", { class: "row-item", "data-product-id": String(item.product_id) },
    image(item),
    el("div", { class: "grow" },
      el("a", { id: nameId, class: "title", href: `/p/${item.product_id}` }, item.name),
      el("div", { class: "muted small" }, [item.brand_name, item.category].filter(Boolean).join(" · "))),
    el("span", { class: "amount" }, formatMoney(item.price_minor, item.currency)),
    el("span", { class: "rate" }, t("marketplace.earn", { rate: rateText(item.rate_bps) })),
    item.targeted ? el("span", { class: "badge" }, t("marketplace.offer_badge")) : null,
    el("span", { class: "actions" }, add, shareButton),
    status);
}

function searchParams() {
  const p = new URLSearchParams();
  const text = $("q").value.trim();
  if (text) p.set("q", text);
  const category = $("category").value.trim().toLowerCase();
  if (category) p.set("category", category);
  for (const [id, name] of [["min-price", "min_price"], ["max-price", "max_price"]]) {
    if ($(id).value !== "") p.set(name, String(Math.round(Number($(id).value) * 100)));
  }
  if ($("min-rate").value !== "") p.set("min_rate", String(Math.round(Number($("min-rate").value) * 100)));
  p.set("sort", $("sort").value);
  p.set("limit", String(PAGE));
  return p;
}

let cursor = null;
async function loadResults(more = false) {
  const params = searchParams();
  if (more && cursor) params.set("cursor", cursor);
  $("search-error").textContent = "";
  try {
    const page = await signedIn(api.get(`/api/marketplace?${params}`));
    const rows = page.items.map(resultRow);
    if (more) $("results").append(...rows); else $("results").replaceChildren(...rows);
    cursor = page.next_cursor;
    $("more").hidden = cursor === null;
    $("no-results").hidden = $("results").children.length > 0;
  } catch (err) {
    $("search-error").textContent = err.message;
  }
}

// --- the showcase -------------------------------------------------------------------------
async function reorder(ids) {
  renderShowcase(await signedIn(api.request("PUT", "/api/me/showcase", { product_ids: ids })));
}

function showcaseRow(item, index, ids) {
  const move = (to) => {
    const next = ids.slice();
    next.splice(index, 1);
    next.splice(to, 0, item.product_id);
    return reorder(next);
  };
  const button = (action, label, text, disabled, onclick) => {
    const b = el("button", { class: "btn small secondary", type: "button", "data-action": action,
      "aria-label": t(label, { name: item.name }), disabled }, text);
    b.addEventListener("click", onclick);
    return b;
  };
  return el("li", { class: "row-item", "data-product-id": String(item.product_id) },
    image(item),
    el("div", { class: "grow" }, el("a", { class: "title", href: `/p/${item.product_id}` }, item.name)),
    el("span", { class: "amount" }, formatMoney(item.price_minor, item.currency)),
    item.rate_bps === null ? null
      : el("span", { class: "rate" }, t("marketplace.earn", { rate: rateText(item.rate_bps) })),
    el("span", { class: "actions" },
      button("up", "marketplace.move_up", t("marketplace.up"), index === 0, () => move(index - 1)),
      button("down", "marketplace.move_down", t("marketplace.down"), index === ids.length - 1,
        () => move(index + 1)),
      button("remove", "marketplace.remove_named", t("marketplace.remove"), false, async () => {
        await signedIn(api.request("DELETE", `/api/me/showcase/${item.product_id}`));
        await loadShowcase();
        const add = document.querySelector(`#results [data-product-id="${item.product_id}"] [data-action="add"]`);
        if (add) { add.disabled = false; add.textContent = t("marketplace.add"); }
      })));
}

function renderShowcase(showcase) {
  const ids = showcase.items.map((i) => i.product_id);
  inShowcase.clear();
  for (const id of ids) inShowcase.add(id);
  $("showcase").replaceChildren(...showcase.items.map((item, i) => showcaseRow(item, i, ids)));
  $("no-showcase").hidden = ids.length > 0;
}

async function loadShowcase() {
  renderShowcase(await signedIn(api.get("/api/me/showcase")));
}

if (user.role === "host" || user.role === "admin") {
  $("search").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    await loadResults();
  });
  $("more").addEventListener("click", () => loadResults(true));
  $("share-showcase").addEventListener("click", () => share({ target: "showcase" }));
  await loadShowcase();
  await loadResults();
  $("market").hidden = false;
} else {
  $("gate").hidden = false;
}
$("loading").remove();
ready();
