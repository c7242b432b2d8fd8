// The face player shared by the overlay and the panel: a WebSocket that reconnects by itself,
// frames decoded off the main thread's critical path, sound scheduled with Web Audio, and both
// tied to one clock by pts (media time): a frame with pts P is painted when the audio whose first
// sample has pts P starts playing.
"use strict";

const VASA_TOKEN = new URLSearchParams(location.search).get("token");

function vasaUrl(path, params = {}) {
  const u = new URL(path, location.href);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  if (VASA_TOKEN) u.searchParams.set("token", VASA_TOKEN);
  return u;
}

function vasaWsUrl(params) {
  const u = vasaUrl("/ws", params);
  u.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  return u.toString();
}

// [u32 LE header length][JSON header][payload] (vasa_bridge/web/codec.py)
const _decoder = new TextDecoder();
function unpackPacket(buf) {
  const n = new DataView(buf).getUint32(0, true);
  const header = JSON.parse(_decoder.decode(new Uint8Array(buf, 4, n)));
  return [header, new Uint8Array(buf, 4 + n)];
}

const MIME = { jpeg: "image/jpeg", webp: "image/webp", png: "image/png" };

class FacePlayer {
  constructor(canvas, opts = {}) {
    this.canvas = canvas;
    this.g = canvas.getContext("2d");
    this.stream = opts.stream || "default";
    this.params = Object.assign({ stream: this.stream, media: "1" }, opts.params || {});
    // How far behind arrival we play, seconds: must cover the audio output latency (~30 ms in
    // Chromium) and the arrival jitter of frames; it is kept after the later of a frame and its sound.
    this.bufferS = opts.bufferS ?? 0.06;
    this.onJson = opts.onJson || (() => {});
    this.onState = opts.onState || (() => {});
    this.sound = opts.sound ?? true;
    this.ctx = null;
    this.offset = null; // media time (s) -> clock time (s): clock = pts/1e9 + offset
    this.clockKind = null;
    this.lastPts = null;
    this.queue = []; // decoded frames waiting for their time, sorted by pts
    this.stats = {
      connects: 0, disconnects: 0, framesReceived: 0, framesPainted: 0, framesSkipped: 0,
      framesLate: 0, audioChunks: 0, audioSamples: 0, audioScheduled: 0, audioLate: 0, audioPeak: 0,
      resyncs: 0, adjusts: 0, lastCodec: null, lastAlpha: null, lastSize: null, audioState: "off",
    };
    this.paints = []; // {seq, pts, sent, drawn, presented} wall-clock ms, for the bench
    this.backoff = 250;
    this.connect();
    requestAnimationFrame((t) => this._tick(t));
  }

  enableSound() { // needs a user gesture in a normal browser; OBS and the tests allow autoplay
    if (!this.sound) return;
    if (!this.ctx) this.ctx = new AudioContext({ latencyHint: "interactive" });
    if (this.ctx.state !== "running") this.ctx.resume();
  }

  setStream(stream) {
    this.stream = this.params.stream = stream;
    this.queue = [];
    this.offset = null;
    if (this.ws) this.ws.close();
  }

  connect() {
    const ws = new WebSocket(vasaWsUrl(this.params));
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.onopen = () => { this.stats.connects++; this.backoff = 250; this.onState("open"); };
    ws.onclose = () => {
      this.stats.disconnects++;
      this.onState("closed");
      if (this.ws === ws) this.ws = null;
      setTimeout(() => this.connect(), this.backoff); // web server restarted: try again
      this.backoff = Math.min(this.backoff * 2, 2000);
    };
    ws.onmessage = (ev) => {
      if (typeof ev.data === "string") { this.onJson(JSON.parse(ev.data)); return; }
      const [h, payload] = unpackPacket(ev.data);
      if (h.kind === "audio") this._audio(h, payload);
      else if (h.kind === "frame") this._frame(h, payload);
    };
  }

  // -- the clock ----------------------------------------------------------------------------
  now() {
    if (this.ctx && this.ctx.state === "running") return ["audio", this.ctx.currentTime];
    return ["wall", performance.now() / 1000];
  }

  _due(pts) { // clock time at which media time `pts` plays; (re)syncs when needed
    const [kind, now] = this.now();
    const t = pts / 1e9;
    const restarted = this.lastPts !== null && pts < this.lastPts - 5e8; // runtime restarted
    if (this.offset === null || kind !== this.clockKind || restarted ||
        t + this.offset > now + 2 || t + this.offset < now - 1) {
      if (this.offset !== null) this.stats.resyncs++;
      this.offset = now + this.bufferS - t;
      this.clockKind = kind;
      this.minSlack = Infinity; this.slackCount = 0;
      if (restarted) this.queue = [];
    }
    this.lastPts = pts;
    const due = t + this.offset;
    this._trackSlack(due - now);
    return due;
  }

  // The clock a sync was taken on can stall (an AudioContext's time stands still while its device
  // starts), and arrival times wander: every 50 packets, move the offset so that the packet that
  // arrived with the least time to spare had exactly bufferS. Leaves a smooth stream alone.
  _trackSlack(slack) {
    this.minSlack = Math.min(this.minSlack ?? Infinity, slack);
    this.slackCount = (this.slackCount || 0) + 1;
    if (this.slackCount < 50) return;
    const error = this.minSlack - this.bufferS;
    if (error > 0.02 || error < -0.01) { this.offset -= error; this.stats.adjusts++; }
    this.minSlack = Infinity;
    this.slackCount = 0;
  }

  // -- sound --------------------------------------------------------------------------------
  _audio(h, payload) {
    this.stats.audioChunks++;
    this.stats.audioSamples += h.samples;
    const due = this._due(h.pts);
    const ctx = this.ctx;
    this.stats.audioState = ctx ? ctx.state : "off";
    if (ctx) this.stats.outputLatency = ctx.outputLatency || ctx.baseLatency || 0;
    if (!ctx || ctx.state !== "running" || this.clockKind !== "audio") return;
    // Start the sound one output latency early, so it is *heard* when its frame is painted.
    const start = due - (ctx.outputLatency || ctx.baseLatency || 0);
    if (start < ctx.currentTime) { this.stats.audioLate++; return; }
    const pcm = new Int16Array(payload.buffer, payload.byteOffset, h.samples * h.channels);
    const buf = ctx.createBuffer(h.channels, h.samples, h.rate);
    let peak = 0;
    for (let c = 0; c < h.channels; c++) {
      const ch = buf.getChannelData(c);
      for (let i = 0; i < h.samples; i++) {
        const v = pcm[i * h.channels + c] / 32768;
        ch[i] = v;
        if (v > peak) peak = v;
      }
    }
    this.stats.audioPeak = Math.max(this.stats.audioPeak, peak);
    const src = ctx.createBufferSource();
    src.buffer = buf;
    src.connect(ctx.destination);
    src.start(start);
    this.stats.audioScheduled++;
  }

  // -- pictures -----------------------------------------------------------------------------
  async _frame(h, payload) {
    this.stats.framesReceived++;
    const arrived = performance.timeOrigin + performance.now();
    let image;
    if (h.codec === "raw") {
      const px = new Uint8ClampedArray(payload.buffer, payload.byteOffset, h.width * h.height * 4);
      image = new ImageData(px, h.width, h.height);
    } else {
      image = await createImageBitmap(new Blob([payload], { type: MIME[h.codec] }));
    }
    const item = { h, image, arrived, decoded: performance.timeOrigin + performance.now(), due: this._due(h.pts) };
    const q = this.queue;
    let i = q.length;
    while (i > 0 && q[i - 1].h.pts > h.pts) i--;
    q.splice(i, 0, item);
    while (q.length > 50) { this._release(q.shift()); this.stats.framesSkipped++; }
  }

  _release(item) { if (item.image.close) item.image.close(); }

  _tick(t) {
    requestAnimationFrame((t2) => this._tick(t2));
    const pending = this._presented;
    if (pending) { pending.presented = performance.timeOrigin + t; this._presented = null; }
    if (!this.queue.length) return;
    const [, now] = this.now();
    let pick = -1;
    for (let i = 0; i < this.queue.length && this.queue[i].due <= now; i++) pick = i;
    if (pick < 0) return;
    for (let i = 0; i < pick; i++) { this._release(this.queue[i]); this.stats.framesSkipped++; }
    const item = this.queue[pick];
    this.queue.splice(0, pick + 1);
    if (now - item.due > 0.1) this.stats.framesLate++;
    this._paint(item);
  }

  _paint({ h, image, arrived, decoded }) {
    const c = this.canvas;
    if (c.width !== h.width || c.height !== h.height) { c.width = h.width; c.height = h.height; }
    if (image instanceof ImageData) this.g.putImageData(image, 0, 0); // replaces alpha too
    else {
      if (h.alpha) this.g.clearRect(0, 0, c.width, c.height);
      this.g.drawImage(image, 0, 0);
      image.close();
    }
    const s = this.stats;
    s.framesPainted++;
    s.lastCodec = h.codec; s.lastAlpha = h.alpha; s.lastSize = [h.width, h.height];
    s.lastPts = h.pts;
    const rec = { seq: h.seq, pts: h.pts, sent: h.sent / 1e6, arrived, decoded, drawn: performance.timeOrigin + performance.now(), presented: null };
    this.paints.push(rec);
    if (this.paints.length > 3000) this.paints.splice(0, 1000);
    this._presented = rec; // the next animation frame is when it reaches the screen
  }
}
