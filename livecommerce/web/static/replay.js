// /replay/{session}: an ended show as a shoppable replay (docs/replay.md): its VOD playlist
// (hls.js), the product chapters under the video (tap: seek), the card of the product on
// screen following the playhead, buy at the normal price, and the show's highlight clips.
import { api, el, header, sessionIdFromPath } from "/static/app.js";
import { formatCountdown, formatMoney as money, formatNumber, initI18n, t } from "/static/i18n.js";
import { hlsPlay } from "/static/hlsplay.js";
import { loadBuyer, openBuySheet } from "/static/buy.js";

await initI18n();
header();
const sessionId = sessionIdFromPath();
const $ = (id) => document.getElementById(id);
const video = $("video");
const at = (ms) => formatCountdown(ms / 1000);

try {
  await main(await api.get(`/api/sessions/${sessionId}/replay`));
} catch (err) {
  $("title").removeAttribute("data-i18n");
  if ($("title").textContent === t("common.loading")) $("title").textContent = t("replay.none_title");
  $("note").textContent = err.status === 404 ? t("replay.none") : t("common.error", { message: err.message });
}

async function main(replay) {
  $("title").removeAttribute("data-i18n");
  $("title").textContent = replay.title;
  document.title = `${replay.title} — livecommerce`;
  const products = new Map(replay.products.map((p) => [p.id, p]));
  const buyer = await loadBuyer();
  let offset = 0;  // where the clip playing starts in the whole show (0: the whole show)
  let player = null;
  try {
    player = await hlsPlay(video, replay.playlist_url);
  } catch (err) {
    $("note").textContent = t(`watch.${err.code || "hls_missing"}`);
  }

  function seek(ms) {
    const go = () => { video.currentTime = ms / 1000; video.play().catch(() => {}); };
    if (video.readyState >= 1) go();
    else video.addEventListener("loadedmetadata", go, { once: true });
  }
  function playWhole(thenMs = null) {
    if (offset !== 0 && player) { offset = 0; player.load(replay.playlist_url); }
    $("full-show").hidden = true;
    $("clip-badge").hidden = true;
    if (thenMs !== null) seek(thenMs);
  }
  $("full-show").addEventListener("click", () => playWhole(0));

  // --- chapters: one per pin, tap to seek ------------------------------------------
  $("chapters").replaceChildren(...replay.chapters.map((c, i) => el("li", {},
    el("button", { type: "button", "data-chapter": i, "data-start-ms": c.start_ms, "data-product-id": c.product_id,
      "aria-label": t("replay.chapter_at", { name: c.name, time: at(c.start_ms) }),
      onclick: () => playWhole(c.start_ms) },
      el("img", { src: c.image || "", alt: "" }),
      el("span", {}, c.name),
      el("span", { class: "at" }, at(c.start_ms))))));
  if (!replay.chapters.length) $("chapters").append(el("li", { class: "muted" }, t("replay.no_chapters")));

  // --- the card of the product on screen ------------------------------------------
  let shown = null;
  function follow() {
    const ms = offset + video.currentTime * 1000;
    let chapter = null;
    replay.chapters.forEach((c, i) => { if (c.start_ms <= ms && ms < c.end_ms) chapter = i; });
    document.querySelectorAll("#chapters button").forEach((b) =>
      b.setAttribute("aria-current", String(Number(b.dataset.chapter) === chapter)));
    const productId = chapter === null ? null : replay.chapters[chapter].product_id;
    if (productId === shown) return;
    shown = productId;
    renderCard(productId === null ? null : products.get(productId));
  }
  video.addEventListener("timeupdate", follow);
  video.addEventListener("seeked", follow);

  function renderCard(product) {
    const box = $("card");
    if (!product) { box.hidden = true; box.replaceChildren(); return; }
    box.hidden = false;
    box.replaceChildren(el("div", { class: "product-card", "data-product-id": product.id },
      el("img", { src: product.images[0] || "", alt: product.name }),
      el("div", {},
        el("div", { class: "name" }, product.name),
        el("div", { class: "price" }, money(product.price_minor, product.currency)),
        el("div", { class: "row", style: "margin-top:8px" },
          el("button", { id: "buy", class: "btn", type: "button", onclick: () => buy(product) }, t("watch.buy"))))));
  }

  // Flash terms ended with the live show: a replay sells at the catalog's price, and the
  // order still counts for the show and its host (session_id).
  function buy(product) {
    openBuySheet({
      product,
      variant: product.variants[0],
      unitPrice: (v) => v.price_minor,
      sessionId,
      buyer,
      doneLabel: t("replay.keep_watching"),
      doneId: "keep-watching",
    });
  }

  // --- highlight clips ----------------------------------------------------------------
  const me = api.user();
  const mine = me && (me.id === replay.host_id || me.role === "admin");
  function renderClips(clips) {
    $("clips").replaceChildren(...clips.map((c) => el("li", { class: "clip", "data-clip-id": c.id },
      el("img", { src: c.image || "", alt: "" }),
      el("span", {}, c.name, el("br"), el("span", { class: "at" },
        `${at(c.start_ms)} · ${t("replay.clip_buys", { count: formatNumber(c.buys) })}`)),
      el("button", { class: "btn small", type: "button", "aria-label": t("replay.watch_clip", { name: c.name }),
        onclick: () => {
          if (!player) return;
          offset = c.start_ms;
          player.load(c.playlist_url);
          $("full-show").hidden = false;
          $("clip-badge").hidden = false;
          $("clip-badge").textContent = t("replay.clip_badge", { name: c.name });
          seek(0);
        } }, t("replay.watch")),
      mine ? el("button", { class: "btn small secondary", type: "button", "aria-label": t("replay.delete_clip", { name: c.name }),
        onclick: async () => {
          try {
            await api.request("DELETE", `/api/sessions/${sessionId}/clips/${encodeURIComponent(c.id)}`);
            replay.clips = replay.clips.filter((x) => x.id !== c.id);
            renderClips(replay.clips);
          } catch (err) { $("note").textContent = err.message; }
        } }, t("replay.delete")) : null)));
    if (!clips.length) $("clips").append(el("li", { class: "muted" }, t("replay.no_clips")));
  }
  renderClips(replay.clips);
}
