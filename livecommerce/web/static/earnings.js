// /earnings: a creator's commission (pending, payable, paid, reversed per currency, per show
// and per share link with its clicks), their payouts with each one's statement, and the
// latest ledger entries. Everything comes from /api/me/earnings and /api/me/payouts
// (docs/api.md, "Earnings and payouts").
import { api, el, header } from "/static/app.js";
import { formatDate, formatMoney, formatNumber, initI18n, t, tn } from "/static/i18n.js";
import { requireSignIn, signedIn } from "/static/signedin.js";

await initI18n();
header();
await requireSignIn();
const $ = (id) => document.getElementById(id);
const FIGURES = ["pending", "payable", "paid", "reversed"];

/** A table named by its section's heading (`labelledby`), or by a caption of its own. */
function table(caption, columns, rows, id, labelledby) {
  return el("table", { class: "items", id, "aria-labelledby": labelledby },
    labelledby ? null : el("caption", {}, caption),
    el("thead", {}, el("tr", {}, columns.map((c) => el("th", { scope: "col" }, c)))),
    el("tbody", {}, rows));
}

const money = (minor, currency) => formatMoney(minor, currency);
// A link that has sold nothing yet has no currency: its figures are a dash.
const figureCells = (g) => FIGURES.map((f) => el("td", { "data-figure": f },
  g.currency === null ? "—" : money(g[`${f}_minor`], g.currency)));
const figureHeads = () => FIGURES.map((f) => t(`earnings.${f}`));

function totals(e) {
  const currencies = Object.keys(e.totals).sort();
  $("none").hidden = currencies.length > 0;
  if (!currencies.length) return [];
  const rows = currencies.map((c) => el("tr", { "data-currency": c },
    el("th", { scope: "row" }, c),
    FIGURES.map((f) => el("td", { "data-figure": f }, money(e[f][c] ?? 0, c))),
    el("td", {}, money(e.totals[c], c))));
  return [table(t("earnings.totals"), [t("earnings.currency"), ...figureHeads(), t("earnings.net")], rows, "totals-table", "totals-heading")];
}

function byShow(e) {
  const rows = e.by_show.map((g) => el("tr", { "data-show": g.session_id ?? "" },
    el("th", { scope: "row" }, g.session_id === null ? t("earnings.no_show")
      : el("a", { href: `/watch/${g.session_id}` }, t("earnings.show", { id: g.session_id }))),
    figureCells(g), el("td", {}, formatNumber(g.orders))));
  return rows.length ? [table(t("earnings.by_show"), [t("earnings.show_col"), ...figureHeads(), t("earnings.orders")], rows, "shows-table", "shows-heading")]
    : [el("p", { class: "muted" }, t("earnings.none_yet"))];
}

function byLink(e) {
  const rows = e.by_link.map((g) => el("tr", { "data-link": g.link_id ?? "" },
    el("th", { scope: "row" }, g.code === null ? t("earnings.no_link") : el("a", { href: `/l/${g.code}` }, `/l/${g.code}`)),
    el("td", {}, formatNumber(g.clicks)), el("td", {}, formatNumber(g.unique_visitors)),
    el("td", {}, formatNumber(g.orders)),
    el("td", {}, formatNumber(g.conversion, { style: "percent", maximumFractionDigits: 1 })),
    figureCells(g)));
  const heads = [t("earnings.link"), t("earnings.clicks"), t("earnings.uniques"), t("earnings.orders"),
    t("earnings.conversion"), ...figureHeads()];
  return rows.length ? [table(t("earnings.by_link"), heads, rows, "links-table", "links-heading")] : [el("p", { class: "muted" }, t("earnings.none_yet"))];
}

const statusText = (s) => t(`earnings.status_${s}`);
const kindText = (k) => t(`earnings.kind_${k}`);

function entryRows(entries) {
  return entries.map((x) => el("tr", { "data-entry": x.id, "data-status": x.status },
    el("th", { scope: "row" }, formatDate(x.created_at, { dateStyle: "medium" })),
    el("td", {}, el("a", { href: `/orders/${encodeURIComponent(x.order_id)}` }, x.order_id.slice(0, 8))),
    el("td", {}, kindText(x.kind)), el("td", {}, statusText(x.status)),
    el("td", {}, formatDate(x.payable_at, { dateStyle: "medium" })),
    el("td", {}, money(x.amount_minor, x.currency))));
}

const entryHeads = () => [t("earnings.date"), t("earnings.order"), t("earnings.kind"), t("earnings.status"),
  t("earnings.payable_on"), t("earnings.amount")];

async function showStatement(payout, button) {
  button.disabled = true;
  try {
    const s = await signedIn(api.get(`/api/me/payouts/${encodeURIComponent(payout.id)}`));
    $("statement").replaceChildren(table(
      t("earnings.statement_of", { amount: money(s.amount_minor, s.currency), date: formatDate(s.created_at, { dateStyle: "medium" }) }),
      entryHeads(), entryRows(s.entries), "statement-table"));
  } catch (err) {
    $("error").textContent = err.message;
  } finally {
    button.disabled = false;
  }
}

function payoutRow(p) {
  const button = el("button", { class: "btn small secondary", type: "button", "data-payout": p.id },
    t("earnings.statement"));
  button.addEventListener("click", () => showStatement(p, button));
  return el("li", { class: "row-item", "data-payout-id": p.id, "data-status": p.status },
    el("span", {}, formatDate(p.created_at, { dateStyle: "medium" })),
    el("strong", {}, money(p.amount_minor, p.currency)),
    el("span", {}, tn("earnings.entry_count", p.entry_count)),
    el("span", { class: "badge" }, statusText(p.status)),
    button);
}

async function load() {
  try {
    const [e, payouts] = await Promise.all([
      signedIn(api.get("/api/me/earnings")),
      signedIn(api.get("/api/me/payouts?limit=100")),
    ]);
    $("totals").replaceChildren(...totals(e));
    $("by-show").replaceChildren(...byShow(e));
    $("by-link").replaceChildren(...byLink(e));
    $("payouts").replaceChildren(...payouts.items.map(payoutRow));
    $("no-payouts").hidden = payouts.items.length > 0;
    $("entries").replaceChildren(e.entries.length
      ? table(t("earnings.entries"), entryHeads(), entryRows(e.entries), "entries-table", "entries-heading")
      : el("p", { class: "muted" }, t("earnings.none_yet")));
    $("earnings").hidden = false;
  } catch (err) {
    $("error").textContent = err.message;
  } finally {
    $("loading").remove();
    document.body.dataset.ready = "1";
  }
}

await load();
