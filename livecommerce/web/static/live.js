// The live parts shared by the watch, host and moderate pages: the hub WebSocket
// (auto-reconnect with `join {since}`), WHIP publishing and WHEP playback.
import { api } from "/static/app.js";
import { formatCountdown, t } from "/static/i18n.js";

/** One WebSocket to /ws joined to one session. `onEvent(frame)` gets every session
 *  event (batches unwrapped), snapshots and dashboard frames, each once and in order;
 *  `onStatus(text)` gets the connection's state as text in the page's language. */
export class Hub {
  constructor(sessionId, { onEvent = () => {}, onStatus = () => {} } = {}) {
    this.sessionId = sessionId;
    this.onEvent = onEvent;
    this.onStatus = onStatus;
    this.seq = null;        // last session seq seen: sent as `since` on reconnect
    this.nextId = 1;
    this.pending = new Map();
    this.backoff = 500;
    this.closed = false;
    this.connect();
  }

  connect() {
    const token = api.token();
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${proto}//${location.host}/ws${token ? `?token=${encodeURIComponent(token)}` : ""}`);
    this.ws = ws;
    this.onStatus(t("live.conn_connecting"));
    ws.onopen = () => {
      const body = { session: this.sessionId };
      if (this.seq !== null) body.since = this.seq;
      this.request("join", body).then((ack) => { this.lastJoin = ack; this.backoff = 500; this.onStatus(t("live.conn_live")); })
        .catch((err) => this.onStatus(t("live.conn_error", { message: err.message })));
    };
    ws.onmessage = (m) => {
      const frame = JSON.parse(m.data);
      if (frame.type === "batch") frame.events.forEach((e) => this.dispatch(e));
      else this.dispatch(frame);
    };
    ws.onclose = () => {
      for (const [, p] of this.pending) p.reject(new Error("connection lost"));
      this.pending.clear();
      if (this.closed) return;
      this.onStatus(t("live.conn_reconnecting"));
      setTimeout(() => this.connect(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, 5000);
    };
  }

  dispatch(frame) {
    if ((frame.type === "ack" || frame.type === "error") && this.pending.has(frame.id)) {
      const p = this.pending.get(frame.id);
      this.pending.delete(frame.id);
      if (frame.type === "ack") p.resolve(frame);
      else p.reject(Object.assign(new Error(frame.message), { code: frame.code }));
      return;
    }
    if (frame.type === "snapshot") this.seq = frame.seq;
    else if (typeof frame.seq === "number") {
      if (this.seq !== null && frame.seq <= this.seq) return;  // already seen
      this.seq = frame.seq;
    }
    this.onEvent(frame);
  }

  /** Send a request; resolves with its `ack`, rejects with its `error` (err.code). */
  request(type, body = {}) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.ws.readyState !== WebSocket.OPEN) { reject(new Error("not connected")); return; }
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ type, id, ...body }));
    });
  }

  close() { this.closed = true; this.ws.close(); }
}

function gathered(pc, timeoutMs = 3000) {
  // No trickle ICE: the offer is sent once with every candidate in it.
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { if (pc.iceGatheringState === "complete") resolve(); };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, timeoutMs);
  });
}

async function exchange(pc, url, token) {
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc);
  const headers = { "Content-Type": "application/sdp" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const r = await fetch(url, { method: "POST", headers, body: pc.localDescription.sdp });
  if (r.status !== 201) {
    const problem = await r.json().catch(() => ({}));
    throw new Error(problem.detail || `${url}: ${r.status}`);
  }
  const resource = r.headers.get("Location");
  await pc.setRemoteDescription({ type: "answer", sdp: await r.text() });
  return resource;
}

/** WHIP: publish `stream` (from getUserMedia) as the session's video. */
export async function whipPublish(sessionId, stream) {
  const pc = new RTCPeerConnection();
  for (const track of stream.getTracks()) {
    pc.addTransceiver(track, { direction: "sendonly", streams: [stream] });
  }
  const resource = await exchange(pc, `/whip/${sessionId}`, api.token());
  return {
    pc,
    async stop() {
      pc.close();
      if (resource) await fetch(resource, { method: "DELETE", headers: { Authorization: `Bearer ${api.token()}` } }).catch(() => {});
    },
  };
}

/** WHEP: play the session into `video`; retries by itself when the connection drops. */
export function whepPlay(sessionId, video, onState = () => {}) {
  let pc = null, resource = null, stopped = false, timer = null;
  const retry = (ms) => { clearTimeout(timer); if (!stopped) timer = setTimeout(start, ms); };
  async function start() {
    if (pc) pc.close();
    pc = new RTCPeerConnection();
    const stream = new MediaStream();
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.addTransceiver("audio", { direction: "recvonly" });
    pc.ontrack = (e) => { stream.addTrack(e.track); video.srcObject = stream; video.play().catch(() => {}); };
    pc.onconnectionstatechange = () => {
      onState(pc.connectionState);
      if (pc.connectionState === "failed" || pc.connectionState === "closed") retry(2000);
    };
    try {
      onState("connecting");
      resource = await exchange(pc, `/whep/${sessionId}`);
    } catch (err) {
      onState(`offline (${err.message})`);
      retry(3000);
    }
  }
  start();
  return {
    restart: () => retry(0),
    stop() {
      stopped = true; clearTimeout(timer);
      if (pc) pc.close();
      if (resource) fetch(resource, { method: "DELETE" }).catch(() => {});
    },
  };
}

/** Time left until `endsAtMs` as m:ss in the page's locale. */
export function countdown(endsAtMs) {
  return formatCountdown((endsAtMs - Date.now()) / 1000);
}

export function newKey() {
  return (crypto.randomUUID && crypto.randomUUID()) || `${Date.now()}-${Math.random().toString(16).slice(2)}`;
}
