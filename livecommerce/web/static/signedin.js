// Pages for signed-in users only: without a (valid) token, on to /login and back here.
import { api } from "/static/app.js";

/** Go to the sign-in page (which returns here) and never resolve. */
export function toSignIn() {
  api.signOut();
  location.replace(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
  return new Promise(() => {});
}

/** The signed-in user, or off to sign in. */
export async function requireSignIn() {
  return api.user() || toSignIn();
}

/** `await signedIn(promise)`: its value, or off to sign in on a 401 (an expired token). */
export async function signedIn(promise) {
  try { return await promise; } catch (err) {
    if (err.status === 401) return toSignIn();
    throw err;
  }
}

/** `?next=` if it is a path on this site (not another site's `//host`), else null. */
export function nextPath() {
  const next = new URLSearchParams(location.search).get("next");
  return next && next.startsWith("/") && !next.startsWith("//") ? next : null;
}
