// Shared helpers for the pages: the API client, the signed-in user, the header.
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

export function money(minor, currency = "USD") {
  return new Intl.NumberFormat(undefined, { style: "currency", currency }).format(minor / 100);
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

export function header() {
  const user = api.user();
  const right = user
    ? el("span", { class: "who" }, `${user.display_name} · ${user.role} `,
        el("button", { class: "btn small secondary", onclick: () => { api.signOut(); location.reload(); } }, "Sign out"))
    : el("a", { class: "btn small", href: `/login?next=${encodeURIComponent(location.pathname)}` }, "Sign in");
  const bar = el("header", { class: "top" },
    el("a", { class: "brand", href: "/" }, "live", el("span", {}, "commerce")), right);
  document.body.prepend(bar);
}

export function sessionIdFromPath() {
  return Number(location.pathname.split("/").filter(Boolean).pop());
}
