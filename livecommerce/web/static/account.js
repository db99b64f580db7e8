// /account: profile, the saved shipping address, saved cards (add, remove, default).
import { api, el, header } from "/static/app.js";
import { addressFields } from "/static/addressform.js";
import { cardFields, cardLabel } from "/static/cardform.js";
import { clearErrors, showErrors } from "/static/fielderrors.js";
import { formatDate, initI18n, t } from "/static/i18n.js";
import { nextPath, requireSignIn, signedIn, toSignIn } from "/static/signedin.js";

await initI18n();
header();
await requireSignIn();
const $ = (id) => document.getElementById(id);
// Sent here to add a card or an address (e.g. from a product page's buy sheet): the way back.
const back = nextPath();
if (back && back !== location.pathname) {
  $("profile-title").closest("section").before(el("p", { class: "note" },
    el("a", { id: "continue", href: back }, t("account.continue"))));
}

/** A transient "saved" note in `form`'s status line. */
function done(form, key) {
  let note = form.querySelector(".form-status");
  if (!note) { note = el("div", { class: "form-status ok", role: "status" }); form.append(note); }
  note.textContent = t(key);
}

async function submitting(form, work) {
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  clearErrors(form);
  const note = form.querySelector(".form-status");
  if (note) note.textContent = "";
  try { await work(); } catch (err) {
    if (err.status === 401) { await toSignIn(); return; }
    showErrors(form, err)?.focus();
  } finally { button.disabled = false; }
}

// --- profile and address ------------------------------------------------------
const me = await signedIn(api.get("/api/me"));
$("profile").replaceChildren(...[
  ["account.name", me.display_name], ["account.email", me.email],
  ["account.role", t(`common.role_${me.role}`)], ["account.member_since", formatDate(me.created_at, { dateStyle: "long" })],
].flatMap(([key, value]) => [el("dt", {}, t(key)), el("dd", {}, value)]));

const address = addressFields(me.shipping_address, "address", { legend: false });  // the h2 says it
const addressForm = $("address-form");
addressForm.append(address.element,
  el("button", { id: "save-address", class: "btn", type: "submit" }, t("account.save_address")));
addressForm.addEventListener("submit", (ev) => {
  ev.preventDefault();
  submitting(addressForm, async () => { await address.save(); done(addressForm, "account.address_saved"); });
});

// --- cards --------------------------------------------------------------------
async function showCards() {
  const methods = await api.get("/api/me/payment-methods");
  $("no-cards").hidden = methods.length > 0;
  $("cards").replaceChildren(...methods.map((m) => el("li", { class: "row-item", "data-method-id": m.id },
    el("span", { class: "grow" }, cardLabel(m)),
    m.is_default ? el("span", { class: "badge default" }, t("account.default")) :
      el("button", { class: "btn small secondary make-default", type: "button",
        "aria-label": t("account.make_default_label", { card: cardLabel(m) }),
        onclick: () => act(() => api.request("PATCH", `/api/me/payment-methods/${m.id}`, { is_default: true })) },
        t("account.make_default")),
    el("button", { class: "btn small danger remove", type: "button",
      "aria-label": t("account.remove_label", { card: cardLabel(m) }),
      onclick: () => act(() => api.request("DELETE", `/api/me/payment-methods/${m.id}`)) },
      t("account.remove")))));
}

async function act(work) {
  const status = $("cards-status");
  status.textContent = "";
  try { await work(); await showCards(); } catch (err) { status.textContent = err.message; }
}

const card = cardFields("card");
const makeDefault = el("input", { id: "card-default", name: "is_default", type: "checkbox", checked: true });
const cardForm = $("card-form");
cardForm.append(
  el("div", { id: "cards-status", class: "error", role: "alert" }),
  card.element,
  el("label", { class: "choice", for: "card-default" }, makeDefault, " ", t("account.make_it_default")),
  el("button", { id: "add-card", class: "btn", type: "submit" }, t("account.add_card")));
cardForm.addEventListener("submit", (ev) => {
  ev.preventDefault();
  submitting(cardForm, async () => {
    await card.save(makeDefault.checked);
    await showCards();
    done(cardForm, "account.card_added");
  });
});
await Promise.all([showCards(), card.ready]);
document.body.dataset.ready = "1";  // for the browser test: everything is on the page
