// The pages' languages: message catalogs and Intl formatting in the chosen locale.
// The server picks the language per request (cookie `lang`, else Accept-Language, else
// English) and writes it into <html lang>; this module reads it from there.
export const LANGUAGES = {
  en: "English", tr: "Türkçe", de: "Deutsch", id: "Bahasa Indonesia", it: "Italiano", fr: "Français",
};

let chosen = "en";
let messages = {};   // the chosen language's catalog
let english = {};    // the fallback for a key the chosen catalog lacks

async function load(lang) {
  const r = await fetch(`/static/i18n/${lang}.json`);
  if (!r.ok) throw new Error(`catalog ${lang}: ${r.status}`);
  return r.json();
}

/** Load the catalog of the page's language (and English, the fallback). Call once, first. */
export async function initI18n() {
  const lang = (document.documentElement.lang || "en").toLowerCase().split("-")[0];
  chosen = lang in LANGUAGES ? lang : "en";
  const [en, own] = await Promise.all([load("en"), chosen === "en" ? null : load(chosen).catch(() => null)]);
  english = en;
  messages = own || en;
  if (!own) chosen = "en";
  document.documentElement.lang = chosen;
  translatePage();
}

/** The message `key` with `{name}` placeholders filled from `vars`; English, then the key, if missing. */
export function t(key, vars = {}) {
  const text = messages[key] ?? english[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

/** The plural form of `key` for `count`: the catalog's `<key>_<rule>` (Intl.PluralRules), else `<key>_other`.
 *  `{count}` is filled with the count in the locale's digits. */
export function tn(key, count, vars = {}) {
  const rule = new Intl.PluralRules(chosen).select(count);
  const own = `${key}_${rule}`;
  const found = own in messages || own in english ? own : `${key}_other`;
  return t(found, { count: formatNumber(count), ...vars });
}

/** Text of every [data-i18n] and the attributes named by data-i18n-attr="attr:key;attr:key". */
export function translatePage(root = document) {
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of node.dataset.i18nAttr.split(";")) {
      const [attr, key] = pair.split(":").map((s) => s.trim());
      if (attr && key) node.setAttribute(attr, t(key));
    }
  }
}

/** The BCP-47 tag of the chosen language. */
export function locale() { return chosen; }

export function formatMoney(minor, currency = "USD") {
  return new Intl.NumberFormat(chosen, { style: "currency", currency }).format(minor / 100);
}

export function formatNumber(n, opts = {}) {
  return new Intl.NumberFormat(chosen, opts).format(n);
}

export function formatDate(value, opts = { dateStyle: "medium", timeStyle: "short" }) {
  const date = value instanceof Date ? value : new Date(value);
  return new Intl.DateTimeFormat(chosen, opts).format(date);
}

/** Seconds left as m:ss (h:mm:ss from an hour), digits in the locale's numbering. */
export function formatCountdown(seconds) {
  const left = Math.max(0, Math.round(seconds));
  const h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60), s = left % 60;
  const two = (n) => formatNumber(n, { minimumIntegerDigits: 2, useGrouping: false });
  const first = formatNumber(h ? h : m, { useGrouping: false });
  return h ? `${first}:${two(m)}:${two(s)}` : `${first}:${two(s)}`;
}

/** Remember `lang` for a year and reload the page in it. */
export function setLanguage(lang) {
  document.cookie = `lang=${encodeURIComponent(lang)}; path=/; max-age=31536000; samesite=lax`;
  location.reload();
}
