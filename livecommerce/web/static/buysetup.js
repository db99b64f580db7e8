// The buy sheet's "before you can pay" step: a viewer without a saved shipping address or
// card fills them in right in the sheet (addressform.js, cardform.js); Confirm saves them,
// then buys. A field the API refuses shows its error next to it, and what was typed stays.
import { el } from "/static/app.js";
import { addressFields } from "/static/addressform.js";
import { cardFields, cardLabel } from "/static/cardform.js";
import { clearErrors, problemText, showErrors } from "/static/fielderrors.js";
import { t } from "/static/i18n.js";

/**
 * For `buyer` = `{ me, methods }` (GET /api/me and /api/me/payment-methods), returns
 * - `shipTo`, `payWith`: the saved address and card as text (null when missing);
 * - `element`: the fields to fill in (null when nothing is missing) and `focus` in it;
 * - `save()`: saves what was filled in; resolves `{ me, methods, methodId }` for the buy,
 *   or shows the fields' errors and throws.
 */
export function buySetup({ me, methods }) {
  if (!document.querySelector("link[href='/static/forms.css']")) {
    document.head.append(el("link", { rel: "stylesheet", href: "/static/forms.css" }));
  }
  const method = methods.find((m) => m.is_default) || methods[0] || null;
  const address = me && me.shipping_address;
  const addr = address ? null : addressFields(null, "buy-address");
  const card = method ? null : cardFields("buy-card");
  const element = addr || card
    ? el("form", { id: "buy-setup", class: "stack", novalidate: true, onsubmit: (ev) => ev.preventDefault() },
        el("p", { class: "muted" }, t(addr && card ? "card.setup_both" : addr ? "card.setup_address" : "card.setup_card")),
        addr && addr.element, card && card.element)
    : null;
  let saved = { me, methods, methodId: method && method.id };
  return {
    element,
    focus: element && element.querySelector("input:not([type=radio])"),
    shipTo: address ? el("span", { id: "ship-to" }, `${address.name}, ${address.line1}, ${address.city}`) : null,
    payWith: method ? el("span", { id: "pay-with" }, cardLabel(method)) : null,
    async save() {
      if (!element) return saved;
      clearErrors(element);
      try {
        if (addr) saved = { ...saved, me: await addr.save() };  // again on a retry: it may have changed
        if (card && !saved.methodId) {
          const m = await card.save(true);
          saved = { ...saved, methods: [m], methodId: m.id };
        }
        return saved;
      } catch (err) {
        const first = showErrors(element, err, { general: false });
        if (!first) throw Object.assign(new Error(problemText(err)), { status: err.status, problem: err.problem });
        first.focus();
        // the sheet's status line says what to do; each field says what is wrong with it
        throw Object.assign(new Error(t("card.fix_fields")), { status: err.status, problem: err.problem });
      }
    },
  };
}
