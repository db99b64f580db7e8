// Shared helpers for the pages: the API client, the signed-in user, the header.
import { LANGUAGES, formatMoney, locale, setLanguage, t } from "/static/i18n.js";

export const api = {
  token() { return localStorage.getItem("lc.token"); },
  user() { try { return JSON.parse(localStorage.getItem("lc.user") || "null"); } catch { return null; } },
  signIn(body) {
    localStorage.setItem("lc.token", body.token);
    localStorage.setItem("lc.user", JSON.stringify(body.user));
  },
  signOut() { localStorage.removeItem("lc.token"); localStorage.removeItem("lc.user"); },
  async request(method, path, body, headers = {}) {
    const h = { ...headers };
    const token = this.token();
    if (token) h["Authorization"] = `Bearer ${token}`;
    if (body !== undefined) h["Content-Type"] = "application/json";
    const r = await fetch(path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
    if (r.status === 204) return null;
    const data = await r.json().catch(() => null);
    if (!r.ok) {
      const err = new Error((data && data.detail) || `${r.status} ${r.statusText}`);
      err.status = r.status; err.code = data && data.code; err.problem = data;
      throw err;
    }
    return data;
  },
  get(path) { return this.request("GET", path); },
  post(path, body, headers) { return this.request("POST", path, body, headers); },
};

/** Money in the chosen locale (kept for the pages' callers; same as i18n.formatMoney). */
export function money(minor, currency = "USD") {
  return formatMoney(minor, currency);
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c);
  return node;
}

/** The top bar: home, nav links, who is signed in (sign in / sign up / sign out), language.
 *  Call after `await initI18n()`. */
export function header() {
  const user = api.user();
  const here = location.pathname;
  const link = (href, key) => el("a", { href, "aria-current": here === href ? "page" : null, "data-i18n": key }, t(key));
  const links = [link("/", "common.nav_shows")];
  if (user) links.push(link("/account", "common.nav_account"), link("/orders", "common.nav_orders"));
  if (user && (user.role === "host" || user.role === "admin")) links.push(link("/studio", "common.nav_studio"));
  if (user && (user.role === "host" || user.role === "admin")) links.push(link("/earnings", "earnings.nav"));
  if (user && (user.role === "host" || user.role === "admin")) links.push(link("/marketplace", "marketplace.nav"));
  if (user && (user.role === "brand" || user.role === "admin")) links.push(link("/brand", "brand.nav"));
  const next = encodeURIComponent(here);
  const who = user
    ? el("span", { class: "who" },
        el("span", { class: "who-name" }, t("common.signed_in_as", { name: user.display_name, role: t(`common.role_${user.role}`) })),
        el("button", { id: "sign-out", class: "btn small secondary", type: "button",
          onclick: () => { api.signOut(); location.href = "/"; } }, t("common.sign_out")))
    : el("span", { class: "who" },
        el("a", { id: "sign-in", class: "btn small", href: `/login?next=${next}` }, t("common.sign_in")),
        el("a", { id: "sign-up", class: "btn small secondary", href: `/signup?next=${next}` }, t("common.sign_up")));
  const picker = el("select", { id: "lang", "aria-label": t("common.language"),
    onchange: (ev) => setLanguage(ev.target.value) },
    Object.entries(LANGUAGES).map(([code, name]) =>
      el("option", { value: code, lang: code, selected: code === locale() }, name)));
  const bar = el("header", { class: "top" },
    el("a", { class: "skip", href: "#main" }, t("common.skip_to_content")),
    el("a", { class: "brand", href: "/", "aria-label": t("common.brand_home") }, "live", el("span", {}, "commerce")),
    el("nav", { "aria-label": t("common.nav_label") }, links),
    el("div", { class: "top-right" }, who, picker));
  document.body.prepend(bar);
  const main = document.querySelector("main");
  if (main && !main.id) main.id = "main";
}

export function sessionIdFromPath() {
  return Number(location.pathname.split("/").filter(Boolean).pop());
}
