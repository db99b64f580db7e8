// /moderate/{session}: live numbers (pushed every second), chat with delete/mute/ban,
// slow mode, blocked words, end stream, and the audit log.
import { api, el, header, sessionIdFromPath } from "/static/app.js";
import { Hub } from "/static/live.js";
import { renderNumbers } from "/static/numbers.js";
import { formatDate, formatNumber, initI18n, t } from "/static/i18n.js";

await initI18n();
header();
const sessionId = sessionIdFromPath();
const $ = (id) => document.getElementById(id);
const fail = (err) => { $("error").textContent = err ? err.message || String(err) : ""; };
if (!api.user()) location.href = `/login?next=${encodeURIComponent(location.pathname)}`;

const clock = (when) => formatDate(new Date(when), { timeStyle: "medium" });
// The durations of the two pickers, in the page's language.
for (const option of document.querySelectorAll("#slow option, #mute-minutes option")) {
  const seconds = Number(option.value) * (option.parentElement.id === "slow" ? 1 : 60);
  if (!seconds) continue;
  const [unit, count] = seconds % 3600 === 0 ? ["hours", seconds / 3600] : seconds % 60 === 0 ? ["minutes", seconds / 60] : ["seconds", seconds];
  option.textContent = t(`moderate.${unit}`, { count: formatNumber(count) });
}

const show = await api.get(`/api/sessions/${sessionId}`);
$("title").removeAttribute("data-i18n");
$("title").textContent = show.title;
document.title = `${show.title} — livecommerce`;
setState(show.status);

function setState(status) { $("state").textContent = t(`common.status_${status}`); $("state").className = `badge ${status}`; }

function numbers(d) {
  renderNumbers($("numbers"), d);
  setState(d.status);
  $("updated").textContent = t("moderate.updated", { time: clock(d.at_ms) });
}

const hub = new Hub(sessionId, {
  onStatus: (s) => { $("conn").textContent = s; },
  onEvent(e) {
    switch (e.type) {
      case "snapshot": setState(e.status); $("chat").replaceChildren(); e.chat.forEach(addChat); break;
      case "chat": addChat(e); break;
      case "chat_deleted": document.querySelector(`[data-message-id="${e.message_id}"]`)?.remove(); break;
      case "session_state": setState(e.status); break;
      case "dashboard": numbers(e); break;
    }
  },
});

async function moderate(body) {
  fail("");
  try {
    const ack = await hub.request("moderate", { session: sessionId, ...body });
    logLine(ack.moderation, true);
    if (["mute", "unmute", "ban", "unban"].includes(body.action)) refreshRestricted();
    return ack.moderation;
  } catch (err) { fail(err); return null; }
}

function addChat(m) {
  if (document.querySelector(`[data-message-id="${m.message_id}"]`)) return;
  const tools = el("span", { class: "tools" },
    el("button", { class: "btn small secondary delete", type: "button", title: t("moderate.delete_title"),
      onclick: () => moderate({ action: "delete_message", message_id: m.message_id }) }, t("moderate.delete")),
    el("button", { class: "btn small secondary mute", type: "button", title: t("moderate.mute_title"),
      onclick: () => moderate({ action: "mute", user_id: m.user_id, minutes: Number($("mute-minutes").value) }) }, t("moderate.mute")),
    el("button", { class: "btn small secondary ban", type: "button", title: t("moderate.ban_title"),
      onclick: () => { if (confirm(t("moderate.ban_confirm", { name: m.name }))) moderate({ action: "ban", user_id: m.user_id }); } }, t("moderate.ban")));
  names.set(m.user_id, m.name);
  const box = $("chat");
  box.append(el("div", { class: "msg", "data-message-id": m.message_id, "data-user-id": m.user_id },
    tools, el("b", {}, m.name), m.text));
  while (box.children.length > 300) box.firstChild.remove();
  box.scrollTop = box.scrollHeight;
}

const names = new Map();  // user id → display name, learnt from the chat

async function refreshRestricted() {
  let st;
  try { st = await api.get(`/api/sessions/${sessionId}/moderation`); } catch { return; }
  const who = (id) => `${names.get(id) || t("moderate.user")} (#${id})`;
  const rows = [
    ...st.muted.map((m) => el("div", { class: "row", "data-muted": m.user_id },
      el("span", { class: "grow" }, t("moderate.muted_until", { who: who(m.user_id), time: clock(m.until_ms) })),
      el("button", { class: "btn small secondary", type: "button", onclick: () => moderate({ action: "unmute", user_id: m.user_id }) }, t("moderate.unmute")))),
    ...st.banned.map((id) => el("div", { class: "row", "data-banned": id },
      el("span", { class: "grow" }, t("moderate.banned", { who: who(id) })),
      el("button", { class: "btn small secondary", type: "button", onclick: () => moderate({ action: "unban", user_id: id }) }, t("moderate.unban")))),
  ];
  $("restricted").replaceChildren(...(rows.length ? rows : [el("span", {}, t("moderate.nobody"))]));
}
setInterval(refreshRestricted, 15000);

function logLine(r, prepend) {
  if (!r) return;
  const what = t(`moderate.action_${r.action}`)
    + (r.target_user_id ? ` ${t("moderate.user_id", { id: r.target_user_id })}` : "")
    + (r.details.minutes ? ` ${t("moderate.for_minutes", { count: formatNumber(r.details.minutes) })}` : "")
    + (r.details.seconds !== undefined ? ` ${t("moderate.seconds", { count: formatNumber(r.details.seconds) })}` : "")
    + (r.details.words ? `: ${r.details.words.join(", ")}` : "")
    + (r.details.text ? ` “${r.details.text}”` : "");
  const line = el("div", {}, `${clock(r.created_at)} · ${t("moderate.user_id", { id: r.actor_id })} · ${what}`);
  if (prepend) $("log").prepend(line); else $("log").append(line);
}

$("slow").addEventListener("change", () => moderate({ action: "slow_mode", seconds: Number($("slow").value) }));
$("words-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  moderate({ action: "blocked_words", words: $("words").value.split(",").map((w) => w.trim()).filter(Boolean) });
});
$("end-stream").addEventListener("click", () => {
  if (confirm(t("moderate.end_confirm"))) moderate({ action: "end_stream" });
});

try {
  const [state, log, dash] = await Promise.all([
    api.get(`/api/sessions/${sessionId}/moderation`),
    api.get(`/api/sessions/${sessionId}/moderation/log?limit=50`),
    api.get(`/api/sessions/${sessionId}/dashboard`),
  ]);
  $("slow").value = String(state.slow_mode_s);
  $("words").value = state.blocked_words.join(", ");
  log.items.forEach((r) => logLine(r, false));
  numbers(dash);
  refreshRestricted();
} catch (err) { fail(err); }
