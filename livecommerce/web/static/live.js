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
    throw Object.assign(new Error(problem.detail || `${url}: ${r.status}`), { status: r.status, code: problem.code, problem });
  }
  const resource = r.headers.get("Location");
  await pc.setRemoteDescription({ type: "answer", sdp: await r.text() });
  return resource;
}

/** WHIP: publish `stream` (from getUserMedia) as the session's video. Publishes again by
 * itself when the connection fails or drops, or the server's receiver reports stop for
 * 2.5 s (the node it published to died): any node answers once the show's origin lease
 * has lapsed (docs/streaming.md, "Several nodes"). Rejects only if the first offer is
 * refused. */
export async function whipPublish(sessionId, stream, onState = () => {}) {
  let pc = null, resource = null, stopped = false, timer = null;
  const retry = (ms) => { clearTimeout(timer); if (!stopped) timer = setTimeout(start, ms); };
  async function start() {
    if (pc) pc.close();
    if (resource) fetch(resource, { method: "DELETE", headers: { Authorization: `Bearer ${api.token()}` } }).catch(() => {});
    resource = null;
    const mine = pc = new RTCPeerConnection();
    for (const track of stream.getTracks()) {
      pc.addTransceiver(track, { direction: "sendonly", streams: [stream] });
    }
    pc.onconnectionstatechange = () => {
      if (mine !== pc) return;
      onState(pc.connectionState);
      // "disconnected" after a node's death turns "failed" only ~30 s later: go again now.
      if (["failed", "disconnected"].includes(pc.connectionState)) retry(500);
    };
    try {
      onState("connecting");
      resource = await exchange(pc, `/whip/${sessionId}`, api.token());
    } catch (err) {
      onState(`offline (${err.message})`);
      if (first) { stopped = true; throw err; }  // the page shows why; the host tries again
      retry(1000);  // 503/502: the origin's lease has not lapsed yet; 409: the old publisher is idle
    }
  }
  let first = true;
  await start();
  first = false;
  // The server's RTCP receiver reports arrive about every second while it lives; Chromium
  // calls the connection "disconnected" only some seconds after they stop.
  let heard = "", since = Date.now(), alive = false;
  const watchdog = setInterval(async () => {
    if (!pc || stopped || pc.connectionState !== "connected") return;
    const mine = pc;
    let now = "";
    (await mine.getStats().catch(() => new Map())).forEach((s) => {
      if (s.type === "remote-inbound-rtp") now += `${s.timestamp}:${s.packetsLost}:${s.jitter};`;
    });
    if (mine !== pc) return;
    if (now !== heard) { heard = now; since = Date.now(); alive = now !== ""; return; }
    if (alive && Date.now() - since > 2500) { alive = false; heard = ""; onState("stalled"); retry(0); }
  }, 500);
  return {
    get pc() { return pc; },
    async stop() {
      stopped = true; clearTimeout(timer); clearInterval(watchdog);
      if (pc) pc.close();
      if (resource) await fetch(resource, { method: "DELETE", headers: { Authorization: `Bearer ${api.token()}` } }).catch(() => {});
    },
  };
}

/** WHEP: play the session into `video`; plays again by itself when the connection fails
 * or its video stops for 1 s (the node serving it died): a new offer through the load
 * balancer reaches a live node (docs/streaming.md, "Several nodes"). When the show's
 * WebRTC viewers are full (503 `webrtc_full`) it stops and calls `onFull(problem)`:
 * `problem.hls_url` is the show's HLS playlist. `wake()` (the show went live) offers
 * again at once only if it has no connection up or being made: one that waits for the
 * host gets the video where it is. */
export function whepPlay(sessionId, video, onState = () => {}, { onFull = null } = {}) {
  let pc = null, resource = null, stopped = false, timer = null, watchdog = null;
  let offering = false;  // the current connection's offer is on its way
  const retry = (ms) => { clearTimeout(timer); if (!stopped) timer = setTimeout(start, ms); };
  async function start() {
    if (pc) pc.close();
    if (resource) fetch(resource, { method: "DELETE" }).catch(() => {});
    resource = null;
    offering = true;
    const mine = pc = new RTCPeerConnection();
    const stream = new MediaStream();
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.addTransceiver("audio", { direction: "recvonly" });
    pc.ontrack = (e) => { stream.addTrack(e.track); video.srcObject = stream; video.play().catch(() => {}); };
    pc.onconnectionstatechange = () => {
      if (mine !== pc) return;
      onState(pc.connectionState);
      if (pc.connectionState === "failed" || pc.connectionState === "closed") retry(500);
    };
    try {
      onState("connecting");
      const answered = await exchange(mine, `/whep/${sessionId}`);
      if (mine !== pc) {  // replaced (and closed) meanwhile: free its resource
        fetch(answered, { method: "DELETE" }).catch(() => {});
        return;
      }
      resource = answered;
    } catch (err) {
      if (mine !== pc) return;  // a newer connection is the player's now: leave it be
      if (err.code === "webrtc_full" && onFull) {
        stopped = true; clearInterval(watchdog); pc.close();
        onState("full");
        onFull(err.problem);
        return;
      }
      onState(`offline (${err.message})`);
      retry(1000);
    } finally {
      if (mine === pc) offering = false;
    }
  }
  // Video that stopped on a connection that had it: its node is gone (a host that
  // stopped publishing keeps the connection silent too; a new one then just waits).
  let packets = 0, since = 0, flowing = false;
  watchdog = setInterval(async () => {
    if (!pc || stopped) return;
    const mine = pc;
    let now = 0;
    (await mine.getStats().catch(() => new Map())).forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === "video") now = s.packetsReceived || 0;
    });
    if (mine !== pc) { packets = 0; flowing = false; return; }
    if (now > packets) { packets = now; since = Date.now(); flowing = true; return; }
    if (now < packets) { packets = now; flowing = false; return; }  // a new connection
    if (flowing && Date.now() - since > 1000) { flowing = false; packets = 0; onState("stalled"); retry(0); }
  }, 250);
  start();
  return {
    wake() {
      if (stopped || offering) return;
      if (resource && pc && ["new", "connecting", "connected"].includes(pc.connectionState)) return;
      retry(0);
    },
    stop() {
      stopped = true; clearTimeout(timer); clearInterval(watchdog);
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
