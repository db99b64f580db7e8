// /moderate/{session}: live numbers (pushed every second), chat with delete/mute/ban,
// slow mode, blocked words, end stream, and the audit log.
import { api, el, header, sessionIdFromPath } from "/static/app.js";
import { Hub } from "/static/live.js";
import { renderNumbers } from "/static/numbers.js";
import { initI18n } from "/static/i18n.js";

await initI18n();
header();
const sessionId = sessionIdFromPath();
const $ = (id) => document.getElementById(id);
const fail = (err) => { $("error").textContent = err ? err.message || String(err) : ""; };
if (!api.user()) location.href = `/login?next=${encodeURIComponent(location.pathname)}`;

const show = await api.get(`/api/sessions/${sessionId}`);
$("title").textContent = show.title;
setState(show.status);

function setState(status) { $("state").textContent = status; $("state").className = `badge ${status}`; }

function numbers(d) {
  renderNumbers($("numbers"), d);
  setState(d.status);
  $("updated").textContent = `updated ${new Date(d.at_ms).toLocaleTimeString()}`;
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
    el("button", { class: "btn small secondary delete", type: "button", title: "Delete message",
      onclick: () => moderate({ action: "delete_message", message_id: m.message_id }) }, "Delete"),
    el("button", { class: "btn small secondary mute", type: "button", title: "Mute user",
      onclick: () => moderate({ action: "mute", user_id: m.user_id, minutes: Number($("mute-minutes").value) }) }, "Mute"),
    el("button", { class: "btn small secondary ban", type: "button", title: "Ban user",
      onclick: () => { if (confirm(`Ban ${m.name} from this show's chat?`)) moderate({ action: "ban", user_id: m.user_id }); } }, "Ban"));
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
  const who = (id) => `${names.get(id) || "user"} (#${id})`;
  const rows = [
    ...st.muted.map((m) => el("div", { class: "row", "data-muted": m.user_id },
      el("span", { class: "grow" }, `${who(m.user_id)} muted until ${new Date(m.until_ms).toLocaleTimeString()}`),
      el("button", { class: "btn small secondary", type: "button", onclick: () => moderate({ action: "unmute", user_id: m.user_id }) }, "Unmute"))),
    ...st.banned.map((id) => el("div", { class: "row", "data-banned": id },
      el("span", { class: "grow" }, `${who(id)} banned`),
      el("button", { class: "btn small secondary", type: "button", onclick: () => moderate({ action: "unban", user_id: id }) }, "Unban"))),
  ];
  $("restricted").replaceChildren(...(rows.length ? rows : [el("span", {}, "Nobody")]));
}
setInterval(refreshRestricted, 15000);

function logLine(r, prepend) {
  if (!r) return;
  const what = r.action.replace("_", " ")
    + (r.target_user_id ? ` user ${r.target_user_id}` : "")
    + (r.details.minutes ? ` for ${r.details.minutes} min` : "")
    + (r.details.seconds !== undefined ? ` ${r.details.seconds} s` : "")
    + (r.details.words ? `: ${r.details.words.join(", ")}` : "")
    + (r.details.text ? ` “${r.details.text}”` : "");
  const line = el("div", {}, `${new Date(r.created_at).toLocaleTimeString()} · user ${r.actor_id} · ${what}`);
  if (prepend) $("log").prepend(line); else $("log").append(line);
}

$("slow").addEventListener("change", () => moderate({ action: "slow_mode", seconds: Number($("slow").value) }));
$("words-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  moderate({ action: "blocked_words", words: $("words").value.split(",").map((w) => w.trim()).filter(Boolean) });
});
$("end-stream").addEventListener("click", () => {
  if (confirm("End this stream for everyone?")) moderate({ action: "end_stream" });
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
