// /host/{session}: camera preview, Go live (WHIP), pin/unpin the lineup, live numbers.
import { api, el, header, sessionIdFromPath } from "/static/app.js";
import { Hub, countdown, whipPublish } from "/static/live.js";
import { renderNumbers } from "/static/numbers.js";
import { formatMoney as money, formatNumber, initI18n, t } from "/static/i18n.js";

await initI18n();
header();
const sessionId = sessionIdFromPath();
const $ = (id) => document.getElementById(id);
const fail = (err) => { $("error").textContent = err.message || String(err); };
if (!api.user()) location.href = `/login?next=${encodeURIComponent(location.pathname)}`;

const show = await api.get(`/api/sessions/${sessionId}`);
$("title").removeAttribute("data-i18n");
$("title").textContent = show.title;
document.title = `${show.title} — livecommerce`;
setState(show.status);
let current = null;   // the current pin terms (from snapshot/pinned)
let currentView = null;
let stream = null, publisher = null;

async function camera() {
  if (stream) return stream;
  stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 360 }, audio: true });
  $("preview").srcObject = stream;
  $("publish-state").textContent = t("host.preview");
  return stream;
}
camera().catch(fail);

$("go-live").addEventListener("click", async () => {
  $("go-live").disabled = true;
  fail("");
  try {
    publisher = await whipPublish(sessionId, await camera(), (state) => {
      $("publish-state").textContent = state === "connected" ? t("host.on_air") : state === "connecting" ? t("host.publish_connecting") : state;
    });
    $("publish-state").textContent = t("host.publish_connecting");
    $("stop").hidden = false;
  } catch (err) { fail(err); $("go-live").disabled = false; }
});
$("stop").addEventListener("click", async () => {
  if (publisher) await publisher.stop();
  publisher = null; $("stop").hidden = true; $("go-live").disabled = false;
  $("publish-state").textContent = t("host.preview");
});
$("end").addEventListener("click", async () => {
  if (!confirm(t("host.end_confirm"))) return;
  try { await api.post(`/api/sessions/${sessionId}/end`); if (publisher) await publisher.stop(); } catch (err) { fail(err); }
});

function setState(status) { $("state").textContent = t(`common.status_${status}`); $("state").className = `badge ${status}`; }

// --- lineup and pins ------------------------------------------------------------
const byId = new Map(show.lineup.map((p) => [p.id, p]));
for (const p of show.lineup) {
  const flash = el("input", { type: "number", min: 0, step: "0.01", placeholder: t("host.flash_placeholder"), "aria-label": t("host.flash_price", { name: p.name }), name: "flash" });
  const cap = el("input", { type: "number", min: 1, step: 1, placeholder: t("host.units_placeholder"), "aria-label": t("host.quantity_cap", { name: p.name }), name: "cap" });
  const mins = el("input", { type: "number", min: 1, step: 1, placeholder: t("host.minutes_placeholder"), "aria-label": t("host.countdown_minutes", { name: p.name }), name: "minutes" });
  const pin = el("button", { class: "btn small pin", type: "button", onclick: async () => {
    const body = { session: sessionId, product_id: p.id };
    if (flash.value) body.flash_price_minor = Math.round(Number(flash.value) * 100);
    if (cap.value) body.quantity_cap = Number(cap.value);
    if (mins.value) body.duration_s = Math.round(Number(mins.value) * 60);
    pin.disabled = true;
    try { await hub.request("pin", body); fail(""); } catch (err) { fail(err); } finally { pin.disabled = false; }
  }, "aria-label": t("host.pin_product", { name: p.name }) }, t("host.pin"));
  $("lineup").append(el("div", { class: "item", "data-product-id": p.id },
    el("img", { src: p.images[0] || "", alt: "" }),
    el("div", {},
      el("div", {}, el("b", {}, p.name), " ", el("span", { class: "muted" }, money(p.price_minor, p.currency))),
      el("div", { class: "row", style: "margin-top:6px" }, flash, cap, mins, pin))));
}

function showPin(view) {
  currentView = view;
  current = view && view.pin;
  document.querySelectorAll("#lineup .item").forEach((n) =>
    n.classList.toggle("pinned", !!current && Number(n.dataset.productId) === current.product_id));
  const box = $("current-pin");
  if (!view) { box.replaceChildren(el("span", { class: "muted" }, t("host.nothing_pinned"))); return; }
  const p = view.product;
  box.replaceChildren(
    el("img", { src: p.images[0] || "", alt: "", style: "width:44px;height:44px;border-radius:8px;object-fit:cover" }),
    el("div", { class: "grow" }, el("b", {}, p.name),
      el("div", { class: "muted" },
        current.flash_price_minor !== null ? `${t("host.pin_flash", { price: money(current.flash_price_minor, p.currency) })} · ` : "",
        current.quantity_cap ? `${t("host.pin_cap", { count: formatNumber(current.quantity_cap) })} · ` : "",
        current.ends_at_ms ? el("span", { id: "pin-countdown" }, `${t("watch.ends_in", { time: countdown(current.ends_at_ms) })} · `) : "",
        view.units_left === null || view.units_left === undefined ? "" : t("watch.left", { count: formatNumber(view.units_left) }))),
    el("button", { id: "unpin", class: "btn small secondary", type: "button", onclick: () => hub.request("unpin", { session: sessionId }).catch(fail) }, t("host.unpin")));
}
setInterval(() => {
  const c = $("pin-countdown");
  if (c && current && current.ends_at_ms) c.textContent = `${t("watch.ends_in", { time: countdown(current.ends_at_ms) })} · `;
}, 1000);

const hub = new Hub(sessionId, {
  onStatus: (s) => { $("conn").textContent = s; },
  onEvent(e) {
    if (e.type === "snapshot") { setState(e.status); showPin(e.pinned); }
    else if (e.type === "pinned") showPin(e);
    else if (e.type === "unpinned") showPin(null);
    else if (e.type === "stock" && currentView && currentView.product.id === e.product_id) {
      showPin({ ...currentView, units_left: e.units_left });
    }
    else if (e.type === "session_state") {
      setState(e.status);
      // The replay is there once the packager has closed the stream: look a few times.
      if (e.status === "ended") [2000, 5000, 10000].forEach((ms) => setTimeout(showReplay, ms));
    }
    else if (e.type === "dashboard") renderNumbers($("numbers"), e, { products: true });
  },
});
api.get(`/api/sessions/${sessionId}/dashboard`).then((d) => renderNumbers($("numbers"), d)).catch(() => {});

// --- the replay and its highlight clips (the host may delete a clip) --------------
async function showReplay() {
  let replay;
  try { replay = await api.get(`/api/sessions/${sessionId}/replay`); } catch { return; }
  $("replay").hidden = false;
  $("replay-open").href = `/replay/${sessionId}`;
  $("host-clips").replaceChildren(...replay.clips.map((c) => el("li", { class: "clip", "data-clip-id": c.id },
    el("img", { src: c.image || "", alt: "" }),
    el("span", {}, c.name, el("br"), el("span", { class: "at" }, t("replay.clip_buys", { count: formatNumber(c.buys) }))),
    el("a", { class: "btn small", href: `/replay/${sessionId}` }, t("replay.watch")),
    el("button", { class: "btn small secondary", type: "button", "aria-label": t("replay.delete_clip", { name: c.name }),
      onclick: async () => {
        try { await api.request("DELETE", `/api/sessions/${sessionId}/clips/${encodeURIComponent(c.id)}`); showReplay(); } catch (err) { fail(err); }
      } }, t("replay.delete")))));
  if (!replay.clips.length) $("host-clips").append(el("li", { class: "muted" }, t("replay.no_clips")));
}
if (show.status === "ended") showReplay();

// --- moderators (the host adds and removes them) -------------------------------
async function loadModerators() {
  const list = await api.get(`/api/sessions/${sessionId}/moderators`);
  $("moderators").replaceChildren(...(list.length ? list.map((m) => el("div", { class: "row", "data-moderator": m.user_id },
    el("span", { class: "grow" }, `${m.display_name} (#${m.user_id})`),
    el("button", { class: "btn small secondary", type: "button", "aria-label": t("host.remove_moderator", { name: m.display_name }), onclick: async () => {
      try { await api.request("DELETE", `/api/sessions/${sessionId}/moderators/${m.user_id}`); loadModerators(); } catch (err) { fail(err); }
    } }, t("host.remove")))) : [el("span", {}, t("host.none_yet"))]));
}
$("add-moderator").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    await api.post(`/api/sessions/${sessionId}/moderators`, { user_id: Number($("moderator-id").value) });
    $("moderator-id").value = "";
    loadModerators();
  } catch (err) { fail(err); }
});
loadModerators().catch(fail);
