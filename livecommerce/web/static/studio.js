// /studio: a host schedules shows (title, description, time, lineup from the catalog), edits
// them before they go live, and sees upcoming and past shows with their numbers. The live
// console stays /host/{session}.
import { api, el, header } from "/static/app.js";
import { formatDate, formatMoney as money, formatNumber, initI18n, t } from "/static/i18n.js";

await initI18n();
header();
const $ = (id) => document.getElementById(id);
const user = api.user();

let editing = null;   // the session being edited, or null when scheduling a new one
let lineup = [];      // the products of the form's lineup, in order
let searchSeq = 0;    // answers to older searches are dropped

if (!user || !["host", "admin"].includes(user.role)) {
  $("gate-message").textContent = t(user ? "studio.hosts_only" : "studio.sign_in_first");
  $("gate").hidden = false;
} else {
  $("studio").hidden = false;
  search("");
  loadShows();
}

// --- the form ----------------------------------------------------------------------
const FIELDS = { title: "title", description: "description", scheduled_at: "when", product_ids: "lineup" };

/** The API's message for one entry of a problem's `errors`, in the page's language. */
function describe(field, e) {
  const known = {
    title: { string_too_short: "studio.error_title_required", string_too_long: "studio.error_title_too_long" },
    description: { string_too_long: "studio.error_description_too_long" },
    scheduled_at: { past_time: "studio.error_past" },
    product_ids: { duplicate: "studio.error_duplicate" },
  }[field] || {};
  if (known[e.type]) return t(known[e.type]);
  if (field === "scheduled_at") return t("studio.error_when_invalid");
  if (field === "product_ids" && e.type === "not_found") {
    const product = lineup[Number(e.loc[2])];
    return t("studio.error_product_gone", { name: product ? product.name : "?" });
  }
  return e.msg;
}

function clearErrors() {
  for (const id of Object.values(FIELDS)) {
    $(`${id}-error`).textContent = "";
    $(id)?.removeAttribute("aria-invalid");
  }
  $("form-status").textContent = "";
  $("form-status").className = "error";
  renderLineup();
}

/** Each error of a problem+json next to its field; what was typed stays as it was. */
function showProblem(err) {
  const errors = (err.problem && err.problem.errors) || [];
  let first = null;
  for (const e of errors) {
    const field = e.loc[1];
    const id = FIELDS[field];
    if (!id) continue;
    const message = describe(field, e);
    if (field === "product_ids" && e.loc.length > 2) {
      const item = $("lineup").children[Number(e.loc[2])];
      if (item) {
        item.classList.add("invalid");
        item.querySelector(".item-error").textContent = message;
      }
      $("lineup-error").textContent = t("studio.error_lineup");
      first = first || item?.querySelector("button.remove");
    } else {
      $(`${id}-error`).textContent = message;
      $(id)?.setAttribute("aria-invalid", "true");
      first = first || $(id === "lineup" ? "search" : id);
    }
  }
  if (first) first.focus();
  else $("form-status").textContent = err.message;
}

function whenIso() {
  const value = $("when").value;
  return value ? new Date(value).toISOString() : null;
}

function localInput(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  const two = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(d.getHours())}:${two(d.getMinutes())}`;
}

$("show-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  clearErrors();
  const body = { title: $("title").value, description: $("description").value, scheduled_at: whenIso() };
  const productIds = lineup.map((p) => p.id);
  $("save").disabled = true;
  try {
    let saved;
    if (editing) {
      saved = await api.request("PATCH", `/api/sessions/${editing.id}`, body);
      const before = editing.lineup.map((p) => p.id);
      if (before.join() !== productIds.join()) {
        saved = await api.request("PUT", `/api/sessions/${editing.id}/lineup`, { product_ids: productIds });
      }
      editing = saved;
    } else {
      if (body.scheduled_at === null) delete body.scheduled_at;
      saved = await api.post("/api/sessions", { ...body, product_ids: productIds });
    }
    resetForm();
    $("form-status").className = "ok";
    $("form-status").textContent = t("studio.saved", { title: saved.title });
    await loadShows();
  } catch (err) {
    showProblem(err);
  } finally {
    $("save").disabled = false;
  }
});

function resetForm() {
  editing = null;
  $("show-form").reset();
  lineup = [];
  clearErrors();
  $("form-heading").textContent = t("studio.new_show");
  $("save").textContent = t("studio.schedule");
  $("cancel-edit").hidden = true;
  search($("search").value);
}

$("cancel-edit").addEventListener("click", () => { resetForm(); $("title").focus(); });

function edit(session) {
  clearErrors();
  editing = session;
  $("title").value = session.title;
  $("description").value = session.description;
  $("when").value = localInput(session.scheduled_at);
  lineup = [...session.lineup];
  renderLineup();
  markResults();
  $("form-heading").textContent = t("studio.edit_show", { title: session.title });
  $("save").textContent = t("studio.save_changes");
  $("cancel-edit").hidden = false;
  $("show-form").scrollIntoView({ block: "start" });
  $("title").focus();
}

// --- the lineup ------------------------------------------------------------------
function thumb(p) { return el("img", { src: p.images[0] || "", alt: "" }); }

function renderLineup() {
  $("lineup-empty").hidden = lineup.length > 0;
  $("lineup").replaceChildren(...lineup.map((p, i) => el("li", { "data-product-id": p.id },
    thumb(p),
    el("div", {}, el("b", {}, p.name), " ", el("span", { class: "muted" }, money(p.price_minor, p.currency))),
    el("div", { class: "tools" },
      el("button", { class: "icon up", type: "button", disabled: i === 0, "aria-label": t("studio.move_up", { name: p.name }),
        onclick: () => move(i, -1) }, "↑"),
      el("button", { class: "icon down", type: "button", disabled: i === lineup.length - 1,
        "aria-label": t("studio.move_down", { name: p.name }), onclick: () => move(i, 1) }, "↓"),
      el("button", { class: "icon remove", type: "button", "aria-label": t("studio.remove", { name: p.name }),
        onclick: () => { lineup.splice(i, 1); renderLineup(); markResults(); $("search").focus(); } }, "✕")),
    el("div", { class: "item-error error" }))));
}

function move(i, by) {
  const [p] = lineup.splice(i, 1);
  lineup.splice(i + by, 0, p);
  renderLineup();
  $("lineup").children[i + by]?.querySelector(by < 0 ? "button.up" : "button.down")?.focus();
}

// --- catalog search ------------------------------------------------------------------
let results = [];
async function search(q) {
  const seq = ++searchSeq;
  const query = q.trim() ? `&q=${encodeURIComponent(q.trim())}` : "";
  let page;
  try { page = await api.get(`/api/products?limit=20${query}`); } catch (err) {
    if (seq === searchSeq) $("results").replaceChildren(el("li", { class: "error" }, err.message));
    return;
  }
  if (seq !== searchSeq) return;
  results = page.items.filter((p) => p.is_active);
  if (!results.length) {
    $("results").replaceChildren(el("li", { class: "muted" }, t("studio.no_results")));
    return;
  }
  // The button says Add (or Added); the product's name and price describe it.
  $("results").replaceChildren(...results.map((p) => el("li", { "data-product-id": p.id },
    thumb(p),
    el("div", { id: `result-${p.id}` }, el("b", {}, p.name), " ",
      el("span", { class: "muted" }, money(p.price_minor, p.currency))),
    el("button", { class: "btn small secondary add", type: "button", "aria-describedby": `result-${p.id}`,
      onclick: () => { lineup.push(p); renderLineup(); markResults(); } }, t("studio.add_short")))));
  markResults();
}

function markResults() {
  const chosen = new Set(lineup.map((p) => p.id));
  for (const li of $("results").querySelectorAll("li[data-product-id]")) {
    const inLineup = chosen.has(Number(li.dataset.productId));
    const add = li.querySelector("button.add");
    add.disabled = inLineup;
    add.textContent = inLineup ? t("studio.added") : t("studio.add_short");
  }
}

let searchTimer = null;
$("search").addEventListener("input", () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => search($("search").value), 250);
});
$("search").addEventListener("keydown", (ev) => {
  if (ev.key !== "Enter") return;
  ev.preventDefault();  // Enter searches; it does not submit the show
  clearTimeout(searchTimer);
  search($("search").value);
});

// --- upcoming and past shows ---------------------------------------------------------
async function loadShows() {
  const mine = `host_id=${user.id}&limit=50`;
  const [upcoming, past] = await Promise.all([
    api.get(`/api/sessions?${mine}&status=upcoming`),
    api.get(`/api/sessions?${mine}&status=ended`),
  ]);
  past.items.sort((a, b) => (b.ended_at || "").localeCompare(a.ended_at || ""));
  await Promise.all([renderShows($("upcoming"), upcoming.items, "studio.no_upcoming"),
    renderShows($("past"), past.items, "studio.no_past")]);
}

async function renderShows(box, sessions, emptyKey) {
  if (!sessions.length) {
    box.replaceChildren(el("p", { class: "muted" }, t(emptyKey)));
    return;
  }
  // Numbers for shows that have been on air (a scheduled one has none yet).
  const summaries = await Promise.all(sessions.map((s) => s.status === "scheduled" ? null
    : api.get(`/api/sessions/${s.id}/summary`).catch(() => null)));
  box.replaceChildren(...sessions.map((s, i) => showRow(s, summaries[i])));
}

function when(s) {
  if (s.status === "live") return t("studio.live_since", { when: formatDate(s.started_at) });
  if (s.status === "ended") return t("studio.ended_at", { when: formatDate(s.ended_at) });
  return s.scheduled_at ? formatDate(s.scheduled_at) : t("studio.not_scheduled");
}

function showRow(s, summary) {
  const currency = (summary && summary.currency) || (s.lineup[0] && s.lineup[0].currency) || "USD";
  const figure = (key, value, name) => el("div", { "data-num": name }, el("dt", {}, t(key)), el("dd", {}, value));
  const figures = summary ? el("dl", { class: "figures" },
    figure("studio.orders", formatNumber(summary.orders), "orders"),
    figure("studio.units", formatNumber(summary.units_sold), "units"),
    figure("studio.revenue", money(summary.gmv_minor, currency), "revenue"),
    figure("studio.peak_viewers", summary.viewers_peak === null ? t("common.no_value") : formatNumber(summary.viewers_peak), "peak"))
    : null;
  const links = [el("a", { class: "btn small secondary", href: `/watch/${s.id}` }, t("studio.watch"))];
  if (s.status !== "ended") links.unshift(el("a", { class: "btn small", href: `/host/${s.id}` }, t("studio.console")));
  if (s.status === "scheduled") {
    links.push(el("button", { class: "btn small secondary edit", type: "button",
      "aria-label": t("studio.edit_named", { title: s.title }), onclick: () => edit(s) }, t("studio.edit")));
  }
  return el("article", { class: "show-row", "data-session": s.id, "aria-label": s.title },
    el("div", { class: "head" },
      el("span", { class: `badge ${s.status}` }, t(`common.status_${s.status}`)),
      el("span", { class: "name" }, s.title),
      el("span", { class: "muted" }, when(s))),
    el("div", { class: "muted lineup-count" }, t("studio.products", { count: formatNumber(s.lineup.length) })),
    figures,
    el("div", { class: "row" }, links));
}
