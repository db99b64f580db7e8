// /watch/{session}: video (WHEP), the pinned product card, two-tap buy, cart, chat, reactions.
import { api, el, header, sessionIdFromPath } from "/static/app.js";
import { Hub, countdown, newKey, whepPlay } from "/static/live.js";
import { EventDelay, hlsPlay } from "/static/hlsplay.js";
import { formatMoney as money, formatNumber, initI18n, t } from "/static/i18n.js";
import { dialog, loadBuyer, needSignIn, openBuySheet } from "/static/buy.js";

await initI18n();
header();
const sessionId = sessionIdFromPath();
const $ = (id) => document.getElementById(id);
// Reactions float up as hearts coloured by kind (no emoji font needed).
const REACTIONS = {
  heart: "#ff3d6e", fire: "#ff8a00", clap: "#ffd23f", laugh: "#2ecc71", wow: "#4fc3f7", sad: "#b39ddb",
};

let pinned = null;        // the `pinned` payload now shown, or null

const show = await api.get(`/api/sessions/${sessionId}`);
$("title").removeAttribute("data-i18n");
$("title").textContent = show.title;
document.title = `${show.title} — livecommerce`;
setState(show.status);

// WebRTC (under a second behind) unless the viewer asks for HLS (?hls=1) or the show's
// WebRTC viewers are full (WHEP answers 503 webrtc_full with the HLS URL).
const wantsHls = new URLSearchParams(location.search).get("hls") === "1";
$("playback-switch").textContent = t(wantsHls ? "watch.use_webrtc" : "watch.use_hls");
$("playback-switch").href = wantsHls ? location.pathname : "?hls=1";
$("replay-link").href = `/replay/${sessionId}`;
let player = null;
let hls = null;    // the HLS player, when this viewer watches over HLS
let delay = null;  // product events held until the HLS playhead reaches them
function play() {
  if (hls || delay) return;
  if (wantsHls) { playHls(`/hls/${sessionId}/live.m3u8`); return; }
  if (!player) {
    player = whepPlay(sessionId, $("video"), (s) => { $("video").dataset.rtc = s; },
      { onFull: (problem) => { player = null; playHls(problem.hls_url); } });
  } else player.wake();  // a connection waiting for the host keeps it: no reconnect
}
async function playHls(url) {
  $("video").dataset.playback = "hls";
  delay = new EventDelay(() => (hls ? hls.playingDate() : null), applyProduct);
  window.lcPlayingDate = () => (hls ? hls.playingDate() : null);  // for the browser test
  try {
    hls = await hlsPlay($("video"), url, { live: true, onState: (s) => { $("video").dataset.hls = s; } });
  } catch (err) {
    $("playback-note").textContent = t(`watch.${err.code || "hls_missing"}`);
    delay.flush(); delay.stop(); delay = null;
  }
}
if (show.status !== "ended") play();

// Saved address and payment method, fetched up front so the confirm sheet opens at once.
const buyer = await loadBuyer();
refreshCart();

const hub = new Hub(sessionId, { onEvent, onStatus: (s) => { $("conn").textContent = s; } });
window.lcHub = hub;  // for debugging and the browser test

function onEvent(e) {
  switch (e.type) {
    case "snapshot":
      setState(e.status);
      $("viewers").textContent = formatNumber(e.viewers);
      $("chat").replaceChildren();
      e.chat.forEach(addChat);
      if (!delay) showPinned(e.pinned);
      else {  // an HLS viewer sees the pin once the video reaches the moment it was made
        delay.clear();
        showPinned(null);
        if (e.pinned) delay.push({ ...e.pinned, type: "pinned", pdt_ms: e.pinned.pin.pinned_at_ms });
      }
      break;
    case "pinned": case "unpinned": case "stock":
      if (delay && typeof e.pdt_ms === "number") delay.push(e);
      else applyProduct(e);
      break;
    case "chat": addChat(e); break;
    case "chat_deleted": document.querySelector(`[data-message-id="${e.message_id}"]`)?.remove(); break;
    case "viewers": $("viewers").textContent = formatNumber(e.count); break;
    case "reactions": for (const [k, n] of Object.entries(e.counts)) for (let i = 0; i < Math.min(n, 5); i++) float(k); break;
    case "session_state":
      setState(e.status);
      if (e.status === "live") play();
      if (e.status === "ended" && player) { player.stop(); player = null; }  // HLS plays to its end
      break;
  }
}

function applyProduct(e) {
  switch (e.type) {
    case "pinned": showPinned(e); break;
    case "unpinned": if (pinned && pinned.pin.pin_id === e.pin_id) showPinned(null); break;
    case "stock":
      if (pinned && pinned.product.id === e.product_id) {
        pinned.units_left = e.units_left; pinned.variants_left = e.variants; renderPinned();
      }
      break;
  }
}

function setState(status) {
  $("replay-link").hidden = status !== "ended";
  $("state").textContent = t(`common.status_${status}`);
  $("state").className = `badge ${status}`;
}

// --- the pinned product card ------------------------------------------------
function flashActive(pin) {
  return pin.flash_price_minor !== null && (pin.ends_at_ms === null || Date.now() < pin.ends_at_ms);
}

function showPinned(view) {
  pinned = view;
  renderPinned();
}

function renderPinned() {
  const box = $("pinned");
  if (!pinned) { box.hidden = true; box.replaceChildren(); return; }
  const { pin, product } = pinned;
  const flash = flashActive(pin);
  const price = flash
    ? el("div", { class: "price flash" }, money(pin.flash_price_minor, product.currency),
        el("s", {}, money(product.price_minor, product.currency)))
    : el("div", { class: "price" }, money(product.price_minor, product.currency));
  const left = pinned.units_left;
  const soldOut = left === 0;
  const focused = document.activeElement && box.contains(document.activeElement) ? document.activeElement.id : null;
  box.hidden = false;
  box.replaceChildren(el("div", { class: "product-card", "data-product-id": product.id },
    el("img", { src: product.images[0] || "", alt: product.name }),
    el("div", {},
      el("div", { class: "name" }, product.name),
      price,
      el("div", { class: "left" },
        left === null || left === undefined ? "" : soldOut ? t("watch.sold_out") : t("watch.left", { count: formatNumber(left) }),
        flash && pin.ends_at_ms ? el("span", { id: "countdown", class: "flash" }, ` · ${t("watch.ends_in", { time: countdown(pin.ends_at_ms) })}`) : null,
        pin.quantity_cap ? ` · ${t("watch.flash_cap", { count: formatNumber(pin.quantity_cap) })}` : ""),
      el("div", { class: "row", style: "margin-top:8px" },
        el("button", { id: "buy", class: "btn", type: "button", disabled: soldOut, onclick: openBuy }, t("watch.buy")),
        el("button", { id: "add-to-cart", class: "btn small secondary", type: "button", disabled: soldOut, onclick: addToCart }, t("watch.add_to_cart"))))));
  if (focused) $(focused)?.focus();
}
setInterval(() => { if (pinned && pinned.pin.ends_at_ms) renderPinnedCountdown(); }, 1000);
function renderPinnedCountdown() {
  const c = $("countdown");
  if (!c || !flashActive(pinned.pin)) { renderPinned(); return; }
  c.textContent = ` · ${t("watch.ends_in", { time: countdown(pinned.pin.ends_at_ms) })}`;
}

function pickVariant(product) {
  const left = pinned.variants_left || {};
  return product.variants.find((v) => (left[v.id] ?? 1) > 0) || product.variants[0];
}

// --- buy: tap 1 opens the sheet, tap 2 confirms (buy.js, shared with the product page) ---
// A tap on the card counts toward the show's highlight clips (docs/replay.md).
function tap(productId) {
  fetch(`/api/sessions/${sessionId}/taps`, { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ product_id: productId }) }).catch(() => {});
}

function openBuy() {
  const { pin, product } = pinned;
  tap(product.id);
  openBuySheet({
    product,
    variant: pickVariant(product),
    unitPrice: (v) => (flashActive(pin) ? pin.flash_price_minor : v.price_minor),
    sessionId,
    buyer,
    doneLabel: t("watch.keep_watching"),
    doneId: "keep-watching",
  });
}

// --- cart ---------------------------------------------------------------------
async function refreshCart() {
  if (!api.user()) return null;
  try {
    const cart = await api.get("/api/cart");
    $("cart-count").textContent = cart.item_count;
    return cart;
  } catch { return null; }
}

async function addToCart() {
  tap(pinned.product.id);
  if (needSignIn()) return;
  const variant = pickVariant(pinned.product);
  try {
    await api.post("/api/cart/items", { product_id: pinned.product.id, variant_id: variant.id, quantity: 1, session_id: sessionId });
    await refreshCart();
  } catch (err) { $("chat-error").textContent = err.message; }
}

$("cart-button").addEventListener("click", async () => {
  if (needSignIn()) return;
  const cart = await refreshCart();
  if (!cart) return;
  const key = newKey();
  const status = el("div", { class: "error", role: "status" });
  const sheet = el("div", { class: "sheet", role: "dialog", "aria-modal": "true", "aria-label": t("watch.your_cart") },
    el("b", {}, t("watch.your_cart")),
    cart.lines.length ? cart.lines.map((l) => el("div", { class: "line" },
      el("span", {}, `${formatNumber(l.quantity)} × ${l.product_name} (${l.variant_name})`),
      el("span", {}, money(l.line_total_minor, l.currency)))) : el("div", { class: "muted" }, t("watch.cart_empty")),
    cart.lines.length ? el("div", { class: "line" }, el("b", {}, t("watch.total")), el("b", {}, money(cart.total_minor, cart.currency))) : null,
    cart.lines.length ? el("button", { class: "btn", type: "button", onclick: async (ev) => {
      ev.target.disabled = true;
      try {
        const order = await api.post("/api/checkout", { session_id: sessionId }, { "Idempotency-Key": key });
        const close = el("button", { class: "btn secondary", type: "button", onclick: () => bg.close() }, t("common.close"));
        sheet.replaceChildren(el("div", { class: "ok", role: "status" }, t("watch.confirmed")),
          el("div", { class: "muted" }, t("watch.order_number", { id: order.id })), close);
        close.focus();
        refreshCart();
      } catch (err) { status.textContent = err.message; ev.target.disabled = false; }
    } }, t("watch.check_out")) : null,
    status,
    el("button", { class: "btn secondary", type: "button", onclick: () => bg.close() }, t("common.close")));
  const bg = dialog(sheet);
  bg.open();
});

// --- chat and reactions -----------------------------------------------------
function addChat(m) {
  if (document.querySelector(`[data-message-id="${m.message_id}"]`)) return;
  const box = $("chat");
  box.append(el("div", { class: "msg", "data-message-id": m.message_id }, el("b", {}, m.name), m.text));
  while (box.children.length > 200) box.firstChild.remove();
  box.scrollTop = box.scrollHeight;
}

$("chat-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  if (needSignIn()) return;
  const input = $("chat-input");
  const text = input.value.trim();
  if (!text) return;
  try {
    await hub.request("chat", { text });
    input.value = "";
    $("chat-error").textContent = "";
  } catch (err) {
    $("chat-error").textContent = err.message;  // e.g. a blocked word or slow mode: only you see it
  }
});

for (const [kind, colour] of Object.entries(REACTIONS)) {
  $("reactions").append(el("button", { type: "button", "data-kind": kind, onclick: () => {
    hub.request("react", { kind }).catch(() => {});
  } }, el("span", { style: `color:${colour}`, "aria-hidden": "true" }, "♥"), t(`watch.react_${kind}`)));
}

function float(kind) {
  const colour = REACTIONS[kind] || REACTIONS.heart;
  const f = el("span", { class: "floater", style: `left:${Math.random() * 30}px; color:${colour}` }, "♥");
  $("floaters").append(f);
  setTimeout(() => f.remove(), 2000);
}
