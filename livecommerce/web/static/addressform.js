// The shipping-address fields (PUT /api/me/address), for the account page and the buy sheet.
import { api, el } from "/static/app.js";
import { t } from "/static/i18n.js";

const FIELDS = [
  // name, autocomplete, maxlength, required
  ["name", "name", 120, true],
  ["line1", "address-line1", 200, true],
  ["line2", "address-line2", 200, false],
  ["city", "address-level2", 100, true],
  ["postal_code", "postal-code", 20, true],
  ["country", "country", 2, true],
];

/** The address inputs, filled from `address` (or empty), ids prefixed with `prefix`; with a
 *  legend unless the page's own heading names them (`legend: false`).
 *  Returns `{ element, values(), save() }`; `save()` PUTs them and resolves with the user
 *  (errors: see fielderrors.js `showErrors`). */
export function addressFields(address, prefix = "address", { legend = true } = {}) {
  const inputs = FIELDS.map(([name, autocomplete, maxlength, required]) =>
    el("input", { id: `${prefix}-${name}`, name, autocomplete, maxlength, required,
      value: (address && address[name]) || "",
      placeholder: name === "country" ? "DE" : null,
      style: name === "country" ? "text-transform: uppercase" : null }));
  const element = el("fieldset", { class: "stack", "data-form": "address" },
    legend ? el("legend", {}, t("account.address")) : null,
    FIELDS.map(([name], i) => el("div", { class: "field" },
      el("label", { for: inputs[i].id }, t(`account.field_${name}`)), inputs[i])));
  const values = () => {
    const data = Object.fromEntries(inputs.map((i) => [i.name, i.value.trim()]));
    data.country = data.country.toUpperCase();
    return data;
  };
  return { element, values, save: () => api.request("PUT", "/api/me/address", values()) };
}
