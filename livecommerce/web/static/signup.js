// /signup: a viewer or host account; then on to `next` (a path on this site), signed in.
import { api, header } from "/static/app.js";
import { clearErrors, showErrors } from "/static/fielderrors.js";
import { initI18n } from "/static/i18n.js";
import { nextPath } from "/static/signedin.js";

await initI18n();
header();

const next = nextPath() || "/";
if (next !== "/") document.getElementById("signin-link").href = `/login?next=${encodeURIComponent(next)}`;
const form = document.getElementById("signup");
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = Object.fromEntries(new FormData(form));
  data.email = data.email.trim();
  const button = document.getElementById("signup-submit");
  button.disabled = true;
  clearErrors(form);
  try {
    api.signIn(await api.post("/api/auth/signup", data));
    location.href = next;
  } catch (err) {
    showErrors(form, err)?.focus();
    button.disabled = false;
  }
});
