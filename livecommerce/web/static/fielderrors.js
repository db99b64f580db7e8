// A form's errors from the API's problem+json, each shown next to its field.
// The API answers 422 with `errors: [{loc: ["body", "<field>"], msg, type}]`; some 4xx
// name their field by `code` (email_taken, unknown_card). Inputs keep what was typed.
import { el } from "/static/app.js";
import { t } from "/static/i18n.js";

/** Problem codes that are about one field. */
const CODE_FIELD = { email_taken: "email", unknown_card: "token" };

const has = (key) => t(key) !== key;

/** The message for one field error: `account.err_<field>_<type>`, else
 *  `account.err_<type>`, else the API's own text. */
function message(field, type, msg) {
  for (const key of [`account.err_${field}_${type}`, `account.err_${type}`]) if (has(key)) return t(key);
  return msg;
}

/** The field's error slot: `<div class="field-error" id="<input id>-error">`, made on demand
 *  right after the input and tied to it with aria-describedby. */
function slot(input) {
  const id = `${input.id || input.name}-error`;
  let box = document.getElementById(id);
  if (!box) {
    box = el("div", { id, class: "field-error", role: "alert" });
    input.insertAdjacentElement("afterend", box);
    const described = (input.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
    if (!described.includes(id)) input.setAttribute("aria-describedby", [...described, id].join(" "));
  }
  return box;
}

/** The error's text for a person: `account.err_<code>` if the catalogs have it, else the
 *  API's own `detail`. */
export function problemText(err) {
  const code = err.problem && err.problem.code;
  return code && has(`account.err_${code}`) ? t(`account.err_${code}`) : err.message;
}

/** Remove every error shown in `form` (the typed values stay). */
export function clearErrors(form) {
  for (const input of form.querySelectorAll("[aria-invalid=true]")) input.removeAttribute("aria-invalid");
  for (const box of form.querySelectorAll(".field-error, .form-error")) box.textContent = "";
}

/** Show `err` (thrown by `api.request`) in `form`: next to each named field, the rest in
 *  the form's `.form-error` (unless `general` is false: the caller shows it). Returns the
 *  first input with an error (focus it). */
export function showErrors(form, err, { general = true } = {}) {
  clearErrors(form);
  const problem = err.problem || {};
  const items = (problem.errors || []).map((e) => ({
    field: (e.loc || []).slice(1).join("."), type: e.type, msg: e.msg,
  }));
  if (!items.length && CODE_FIELD[problem.code]) {
    items.push({ field: CODE_FIELD[problem.code], type: problem.code, msg: problem.detail });
  }
  let first = null;
  const rest = [];
  for (const { field, type, msg } of items) {
    const input = field && form.querySelector(`[name="${CSS.escape(field)}"]`);
    if (!input) { rest.push(msg); continue; }
    input.setAttribute("aria-invalid", "true");
    const box = slot(input);
    if (!box.textContent) box.textContent = message(field, type, msg);
    first = first || input;
  }
  if (!items.length) rest.push(problemText(err));
  if (general) {
    let box = form.querySelector(".form-error");
    if (!box) { box = el("div", { class: "form-error error", role: "alert" }); form.append(box); }
    box.textContent = rest.join(" ");
  }
  return first;
}
