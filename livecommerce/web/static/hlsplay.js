// HLS playback for the watch and replay pages: hls.js (from npm: scripts/install_web puts it
// in node_modules/, the server serves it at /static/vendor/hls.min.mjs) where the browser has
// Media Source Extensions, the browser's own HLS (Safari) otherwise.

/** The player failed to start: `code` is `hls_missing` (hls.js is not installed on the
 *  server) or `hls_unsupported` (this browser plays HLS neither way). */
export class HlsError extends Error {
  constructor(code, message) { super(message); this.code = code; }
}

let loading = null;
function loadHlsJs() {
  if (!loading) loading = import("/static/vendor/hls.min.mjs").then((m) => m.default, () => null);
  return loading;
}

/**
 * Play the HLS playlist `url` in `video`. Resolves with
 * `{kind, playingDate(), load(url), stop()}`: `playingDate()` is the program date-time
 * (unix ms, from EXT-X-PROGRAM-DATE-TIME) of the frame on screen, or null before it is known.
 * `live`: a live show (low-latency mode; a playlist not there yet is asked for again).
 */
export async function hlsPlay(video, url, { live = false, onState = () => {} } = {}) {
  const Hls = await loadHlsJs();
  if (Hls && Hls.isSupported()) {
    // No worker: the pages' CSP allows scripts from 'self' only, not blob: workers.
    const hls = new Hls({ enableWorker: false, lowLatencyMode: live });
    let current = url, retry = null;
    hls.on(Hls.Events.MANIFEST_PARSED, () => { onState("playing"); video.play().catch(() => {}); });
    hls.on(Hls.Events.ERROR, (_event, data) => {
      if (!data.fatal) return;
      if (data.type === Hls.ErrorTypes.MEDIA_ERROR) { hls.recoverMediaError(); return; }
      // The live playlist is not there yet (the packager starts with the first keyframe),
      // or the network dropped: ask again shortly.
      onState("waiting");
      clearTimeout(retry);
      retry = setTimeout(() => hls.loadSource(current), 2000);
    });
    hls.loadSource(url);
    hls.attachMedia(video);
    return {
      kind: "hls.js",
      playingDate: () => (hls.playingDate ? hls.playingDate.getTime() : null),
      load(next) { current = next; hls.loadSource(next); },
      stop() { clearTimeout(retry); hls.destroy(); },
    };
  }
  if (video.canPlayType("application/vnd.apple.mpegurl")) {
    video.src = url;
    video.play().catch(() => {});
    return {
      kind: "native",
      playingDate() {
        const start = video.getStartDate ? video.getStartDate().getTime() : NaN;
        return Number.isFinite(start) ? start + video.currentTime * 1000 : null;
      },
      load(next) { video.src = next; video.play().catch(() => {}); },
      stop() { video.removeAttribute("src"); video.load(); },
    };
  }
  throw Hls
    ? new HlsError("hls_unsupported", "this browser cannot play HLS")
    : new HlsError("hls_missing", "hls.js is not installed on this server");
}

/**
 * Hold events about products until the HLS playhead shows the moment they belong to
 * (`pdt_ms`, docs/protocol.md "Stream positions"); `apply(event)` gets them in order.
 * `playingDate()` is the player's; while it is null nothing is released.
 */
export class EventDelay {
  constructor(playingDate, apply) {
    this.playingDate = playingDate;
    this.apply = apply;
    this.held = [];
    this.timer = setInterval(() => this.release(), 100);
  }
  push(event) { this.held.push(event); this.release(); }
  clear() { this.held = []; }
  release() {
    const now = this.playingDate();
    if (now === null) return;
    while (this.held.length && this.held[0].pdt_ms <= now) this.apply(this.held.shift());
  }
  /** Apply everything held at once (the player is gone). */
  flush() { const held = this.held; this.held = []; held.forEach((e) => this.apply(e)); }
  stop() { clearInterval(this.timer); }
}
