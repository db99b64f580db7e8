// The signed-in user's own live events on /ws (docs/protocol.md): after `auth`, the hub sends
// `{"type":"order_status","order_id","status","ts"}` whenever one of the user's orders is
// created or changes status. Nothing is replayed: after a reconnect, refetch the orders.
import { api } from "/static/app.js";

export class OrdersFeed {
  /** `onStatus(frame)` for each order_status frame; `onResync()` after each (re)connect
   *  once signed in (refetch what is shown). */
  constructor({ onStatus = () => {}, onResync = () => {} } = {}) {
    this.onStatus = onStatus;
    this.onResync = onResync;
    this.authed = false;     // true once the hub accepted our token (the browser test waits on it)
    this.connects = 0;
    this.backoff = 500;
    this.closed = false;
    this.connect();
  }

  connect() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${proto}//${location.host}/ws`);
    this.ws = ws;
    ws.onopen = () => {
      ws.send(JSON.stringify({ type: "auth", id: "auth", token: api.token() }));
      // the hub closes a connection idle for HUB_IDLE_TIMEOUT_S (60 s): say something
      this.pinger = setInterval(() => ws.send(JSON.stringify({ type: "ping" })), 20000);
    };
    ws.onmessage = (m) => {
      const frame = JSON.parse(m.data);
      for (const f of frame.type === "batch" ? frame.events : [frame]) this.dispatch(f);
    };
    ws.onclose = () => {
      clearInterval(this.pinger);
      this.authed = false;
      if (this.closed) return;
      setTimeout(() => this.connect(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, 5000);
    };
  }

  dispatch(frame) {
    if (frame.id === "auth" && frame.type === "ack") {
      this.authed = true;
      this.backoff = 500;
      if (this.connects++ > 0) this.onResync();  // missed frames are gone: refetch
    } else if (frame.id === "auth" && frame.type === "error") {
      this.close();  // the token is no good: the page's own requests will say so
    } else if (frame.type === "order_status") {
      this.onStatus(frame);
    }
  }

  close() { this.closed = true; this.ws.close(); }
}
