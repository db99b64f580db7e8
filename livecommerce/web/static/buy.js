// The instant buy shared by the pages that sell: a sheet with the product, its variant, the
// saved address and card, and Confirm (POST /api/buy with an Idempotency-Key). Tap 1 opens
// it, tap 2 confirms; a retried Confirm reuses the purchase's key, so it is never charged twice.
import { api, el } from "/static/app.js";
import { buySetup } from "/static/buysetup.js";
import { formatMoney as money, t } from "/static/i18n.js";
import { newKey } from "/static/live.js";

/** The signed-in buyer's saved address and payment methods (nulls when signed out). */
export async function loadBuyer() {
  if (!api.user()) return { me: null, methods: [] };
  try {
    const [me, methods] = await Promise.all([api.get("/api/me"), api.get("/api/me/payment-methods")]);
    return { me, methods };
  } catch (err) {
    if (err.status === 401) api.signOut();
    return { me: null, methods: [] };
  }
}

/** Send a signed-out visitor to sign in (and back here); true if it did. */
export function needSignIn() {
  if (api.user()) return false;
  location.href = `/login?next=${encodeURIComponent(location.pathname + location.search)}`;
  return true;
}

/** A modal sheet: Escape or a click outside closes it; Tab stays inside; focus comes back. */
export function dialog(sheet) {
  const opener = document.activeElement;
  const bg = el("div", { class: "sheet-bg", onclick: (ev) => { if (ev.target === bg) bg.close(); } }, sheet);
  bg.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") { ev.preventDefault(); bg.close(); return; }
    if (ev.key !== "Tab") return;
    const items = [...sheet.querySelectorAll("button, input, select, a[href]")].filter((n) => !n.disabled);
    if (!items.length) return;
    const first = items[0], last = items[items.length - 1];
    if (ev.shiftKey && document.activeElement === first) { ev.preventDefault(); last.focus(); }
    else if (!ev.shiftKey && document.activeElement === last) { ev.preventDefault(); first.focus(); }
  });
  bg.open = (focus) => { document.body.append(bg); (focus || sheet.querySelector("button")).focus(); };
  // The opener may have been redrawn meanwhile (a stock update redraws the card): its id finds it.
  bg.close = () => {
    bg.remove();
    const back = opener && (opener.isConnected ? opener : opener.id && document.getElementById(opener.id));
    if (back) back.focus();
  };
  return bg;
}

/**
 * Open the confirm sheet for one unit of `product`.
 * - `variant`: the variant chosen first; a product with several gets a picker in the sheet.
 * - `unitPrice(variant)`: what one unit costs (the server charges its own price; this is shown).
 * - `sessionId`: the show the purchase comes from, or null.
 * - `buyer`: `{me, methods}` from loadBuyer(); a buyer without a saved address or card fills
 *   them in right in the sheet (buysetup.js), and `buyer` is updated with what was saved.
 * - `doneLabel`, `doneId`: the button that closes the sheet after the order.
 * - `onOrder(order)`: called with the committed order.
 */
export function openBuySheet({ product, variant, unitPrice, sessionId = null, buyer, doneLabel, doneId = "buy-done", onOrder = () => {} }) {
  if (needSignIn()) return;
  const setup = buySetup(buyer);  // no saved address or card: filled in right here
  let chosen = variant || product.variants[0];
  const key = newKey();  // one purchase = one key, reused if Confirm is retried
  const status = el("div", { id: "buy-status", class: "error", role: "status" });
  const priceLine = el("span", { id: "buy-price" }, money(unitPrice(chosen), product.currency));
  const confirmLabel = () => t("watch.confirm", { price: money(unitPrice(chosen), product.currency) });
  const confirm = el("button", { id: "confirm", class: "btn", type: "button" }, confirmLabel());
  const variantPick = product.variants.length > 1
    ? el("label", { class: "field" }, t("watch.variant"),
        el("select", { id: "variant", onchange: (ev) => {
          chosen = product.variants.find((v) => String(v.id) === ev.target.value);
          priceLine.textContent = money(unitPrice(chosen), product.currency);
          confirm.textContent = confirmLabel();
        } }, product.variants.map((v) => el("option", { value: v.id, selected: v.id === chosen.id }, v.name))))
    : null;
  const sheet = el("div", { class: "sheet", role: "dialog", "aria-modal": "true", "aria-label": t("watch.confirm_purchase") },
    el("div", { class: "line" }, el("b", {}, product.name), priceLine),
    variantPick,
    setup.shipTo && el("div", { class: "line" }, el("span", { class: "muted" }, t("watch.ship_to")), setup.shipTo),
    setup.payWith && el("div", { class: "line" }, el("span", { class: "muted" }, t("watch.pay_with")), setup.payWith),
    setup.element, confirm, status,
    el("button", { class: "btn secondary", type: "button", onclick: () => bg.close() }, t("common.cancel")));
  const bg = dialog(sheet);
  confirm.addEventListener("click", async () => {
    confirm.disabled = true;
    status.textContent = "";
    try {
      const saved = await setup.save();
      buyer.me = saved.me;
      buyer.methods = saved.methods;
      const body = { product_id: product.id, variant_id: chosen.id, quantity: 1, payment_method_id: saved.methodId };
      if (sessionId) body.session_id = sessionId;
      const order = await api.post("/api/buy", body, { "Idempotency-Key": key });
      const done = el("button", { id: doneId, class: "btn secondary", type: "button", onclick: () => bg.close() }, doneLabel);
      sheet.replaceChildren(
        el("div", { id: "confirmed", class: "ok", role: "status" }, t("watch.confirmed")),
        el("div", {}, `${product.name} · ${money(order.total_minor, order.currency)}`),
        el("div", { class: "muted" }, t("watch.order"), " ", el("code", { id: "order-id" }, order.id)),
        done);
      done.focus();
      onOrder(order);
    } catch (err) {
      status.textContent = err.message;
      confirm.disabled = false;
    }
  });
  bg.open(setup.focus || confirm);
}
