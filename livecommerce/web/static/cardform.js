// Add a card: a gateway token (never card numbers). In development the test gateway's
// cards are offered (GET /api/payments/test-cards, docs/api.md "Test cards"); picking one
// fills the token. Used by the account page and by the buy sheet when a viewer has no card.
import { api, el } from "/static/app.js";
import { t } from "/static/i18n.js";

let testCards = null;  // fetched once per page
async function loadTestCards() {
  if (testCards === null) testCards = await api.get("/api/payments/test-cards").catch(() => []);
  return testCards;
}

/** The brand and last four digits of a saved method, e.g. "Visa •••• 4242". */
export function cardLabel(method) {
  const brand = method.brand ? method.brand[0].toUpperCase() + method.brand.slice(1) : "";
  return t("card.label", { brand, last4: method.last4 });
}

/** The card fields, ids prefixed with `prefix`. Returns `{ element, ready, save(isDefault) }`:
 *  `ready` resolves once the test cards are shown; `save()` POSTs the token and resolves
 *  with the saved method (errors: see fielderrors.js `showErrors`). */
export function cardFields(prefix = "card") {
  const token = el("input", { id: `${prefix}-token`, name: "token", required: true, maxlength: 200,
    autocomplete: "off", spellcheck: "false" });
  const list = el("div", { class: "test-cards", role: "radiogroup", "aria-labelledby": `${prefix}-test-title` });
  const element = el("fieldset", { class: "stack", "data-form": "card" },
    el("legend", {}, t("card.title")),
    el("div", { class: "field" }, el("label", { for: token.id }, t("card.token")), token),
    el("div", { id: `${prefix}-tests`, hidden: true },
      el("div", { id: `${prefix}-test-title`, class: "muted" }, t("card.test_cards")), list));
  const ready = loadTestCards().then((cards) => {
    if (!cards.length) return;
    element.querySelector(`#${prefix}-tests`).hidden = false;
    for (const card of cards) {
      const radio = el("input", { type: "radio", name: `${prefix}-test`, value: card.token,
        id: `${prefix}-test-${card.token}`,
        onchange: () => { token.value = card.token; token.dispatchEvent(new Event("input")); } });
      list.append(el("label", { class: "test-card", for: radio.id, "data-token": card.token }, radio,
        el("span", {}, cardLabel(card)),
        el("span", { class: "muted" }, t(`card.behaviour_${card.behaviour}`))));
    }
    if (!token.value) {  // the card that succeeds, chosen to start with
      const first = list.querySelector("input[value=pm_card_visa]") || list.querySelector("input");
      first.checked = true; token.value = first.value;
    }
  });
  token.addEventListener("input", () => {
    for (const radio of list.querySelectorAll("input")) radio.checked = radio.value === token.value.trim();
  });
  const save = (isDefault = true) =>
    api.post("/api/me/payment-methods", { token: token.value.trim(), is_default: isDefault });
  return { element, ready, save };
}
