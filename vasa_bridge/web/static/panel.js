// The control panel: live face, sources, sliders -> control `set`, portrait drop -> `load_portrait`,
// the last minute of runtime status as plots, blendshapes as bars, provenance state.
"use strict";

const $ = (id) => document.getElementById(id);
const history = []; // {t, status}
let latestMotion = null;
let lastStatus = null;
let lastEdit = -Infinity;
let mainStream = "default"; // status `conditions` are this stream's; an NPC stream's are its own

function message(el, text, ok) {
  el.textContent = text;
  el.className = "msg " + (ok ? "ok" : "error");
}

async function api(path, body, opts = {}) {
  const init = { method: "POST", headers: {} };
  if (body instanceof FormData) init.body = body; // the browser sets the multipart boundary
  else if (body instanceof Blob) { init.body = body; init.headers["Content-Type"] = body.type || "application/octet-stream"; }
  else if (body !== undefined) { init.body = JSON.stringify(body); init.headers["Content-Type"] = "application/json"; }
  let r;
  try { r = await fetch(vasaUrl(path, opts.params || {}), init); }
  catch (e) { return { ok: false, error: `web server not reachable (${e.message}): nothing was sent` }; }
  let reply;
  try { reply = await r.json(); } catch (e) { reply = { ok: false, error: `HTTP ${r.status}: ${await r.text()}` }; }
  return reply;
}

// -- the face ---------------------------------------------------------------------------------
const player = new FacePlayer($("face"), {
  params: { motion: "1", panel: "1" },
  onJson: onJson,
  onState: (s) => { if (s === "closed") setConn(false, "web server unreachable, retrying…"); },
});
window.vasaPanel = { player, history, get motion() { return latestMotion; }, get status() { return lastStatus; } };
$("sound").onclick = () => { player.enableSound(); $("sound").textContent = "sound on"; };
$("overlay-link").href = vasaUrl("/overlay").toString();

function setConn(on, text) {
  const b = $("conn");
  b.className = "badge " + (on ? "on" : "off");
  b.textContent = text;
}

function onJson(m) {
  if (m.type === "motion") latestMotion = m;
  else if (m.type === "status") onStatus(m);
  else if (m.type === "hello") onHello(m);
  else if (m.type === "event" && m.name === "portrait_loaded" && !$("portrait-msg").textContent.includes("loaded")) {
    message($("portrait-msg"), "portrait loaded" + (m.data && m.data.size ? ` (${m.data.size.join("×")})` : ""), true);
  }
}

// The list is the runtime's streams now (a runtime restarted with fewer NPCs lists fewer). The
// stream being watched stays, marked, until another is chosen: the face never switches by itself.
let picked = false; // the user chose a stream: the face then never switches by itself
function onHello(h) {
  mainStream = h.streams[0] || mainStream; // the publisher lists the main face first
  // Until then, the main face whatever its name (`serve --stream face` has no "default").
  if (!picked && h.streams.length && !h.streams.includes(player.stream)) player.setStream(mainStream);
  const sel = $("stream"), watched = player.stream;
  const want = h.streams.map((s) => [s, s]);
  if (!h.streams.includes(watched)) want.push([watched, watched + " (not published)"]);
  const have = [...sel.options].map((o) => [o.value, o.textContent]);
  if (JSON.stringify(want) === JSON.stringify(have)) return; // an open list stays open
  sel.replaceChildren(...want.map(([value, text]) => new Option(text, value)));
  sel.value = watched;
}
$("stream").onchange = (e) => {
  picked = true;
  player.setStream(e.target.value);
  $("overlay-link").href = vasaUrl("/overlay", { stream: e.target.value }).toString();
};

// -- status, plots, provenance ------------------------------------------------------------------
function onStatus(m) {
  lastStatus = m;
  if (m.history) { history.length = 0; history.push(...m.history); }
  else if (m.runtime) history.push({ t: Date.now() / 1000, status: m.runtime });
  while (history.length && history[0].t < Date.now() / 1000 - 60) history.shift();
  if (m.connected && m.control) setConn(true, "runtime connected");
  else if (m.connected) setConn(true, "receiving (no control: " + (m.error || "?") + ")");
  else setConn(false, m.error ? "runtime not reachable: " + m.error : "waiting for the runtime…");
  const r = m.runtime;
  // Follow the values in force (another panel or a script may change them), unless the user is
  // moving a control right now.
  if (r && player.stream === mainStream && performance.now() - lastEdit > 2000) showConditions(r.conditions);
  if (!r) $("status-line").textContent = "no status from the runtime" + (m.error ? ": " + m.error : "");
  else {
    $("status-line").textContent =
      `pictures ${r.fps}/s${r.picture && r.picture.reason ? ` (${r.picture.reason})` : ""}  latency p50 ${r.latency_ms.p50} ms p95 ${r.latency_ms.p95} ms  ` +
      `drops ${r.drops.frames}  cpu ${(r.cpu * 100).toFixed(0)}%  streams ${r.streams.join(", ")}\n` +
      // docs/streaming.md: the microphone's Sync Offset in OBS
      `sound in → its frame out ${r.av_delay_ms ?? "-"} ms (mic Sync Offset in OBS)\n` +
      `web: ${m.web.viewers} viewer(s), encode ${m.web.encode_ms_mean ?? "-"} ms/frame, codecs ${m.web.codec.opaque}/${m.web.codec.alpha}`;
  }
  const p = m.provenance, wm = p.watermark;
  const wmText = wm == null ? "not checked yet" : wm.present
    ? `<b>present</b> in the received frames (payload ${wm.payload}, confidence ${wm.confidence})`
    : `<b>not found</b> in the received frames (confidence ${wm.confidence})`;
  const label = p.label == null ? "not reported by the runtime" : p.label ? "<b>on</b> (visible “AI-generated” mark)" : "<b>off</b>";
  $("provenance").innerHTML = `watermark: ${wmText}<br>label: ${label}`;
  drawPlots();
}

function showConditions(c) {
  if (!c) return;
  $("emotion").value = c.emotion;
  $("gaze-x").value = c.gaze[0]; $("gaze-y").value = c.gaze[1];
  $("head-motion").value = c.head_motion;
  for (const id of ["gaze-x", "gaze-y", "head-motion"]) $(id).nextElementSibling.value = $(id).value;
}

const COLORS = ["#4fa3ff", "#ff9f43", "#5fd38d", "#c38bff", "#ff6b9a", "#e8d44d"];
function plot(canvas, series, fixedMax) {
  const g = canvas.getContext("2d"), W = canvas.width, H = canvas.height;
  g.clearRect(0, 0, W, H);
  const now = Date.now() / 1000;
  let max = fixedMax || 1;
  for (const s of series) for (const [, v] of s) if (v != null && v > max) max = v;
  g.fillStyle = "#8a8f98"; g.font = "10px sans-serif";
  g.fillText(max.toFixed(max < 10 ? 1 : 0), 2, 10); g.fillText("-60 s", 2, H - 2); g.fillText("now", W - 22, H - 2);
  series.forEach((s, k) => {
    g.strokeStyle = COLORS[k % COLORS.length]; g.lineWidth = 1.5; g.beginPath();
    let started = false;
    for (const [t, v] of s) {
      if (v == null) { started = false; continue; }
      const x = W * (1 - (now - t) / 60), y = H - 2 - (H - 14) * (v / max);
      if (started) g.lineTo(x, y); else { g.moveTo(x, y); started = true; }
    }
    g.stroke();
  });
}

function drawPlots() {
  const pts = (f) => history.map((e) => [e.t, e.status ? f(e.status) : null]);
  plot($("plot-latency"), [pts((s) => s.latency_ms.p50), pts((s) => s.latency_ms.p95),
    pts((s) => s.stage_ms.render), pts((s) => s.stage_ms.motion), pts((s) => s.stage_ms.publish),
    pts((s) => s.stage_ms.model_ahead)]);
  plot($("plot-fps"), [pts((s) => s.fps)], 30);
  const drops = history.map((e, i) => {
    const prev = history[i - 1];
    if (!prev || !prev.status || !e.status) return [e.t, null];
    return [e.t, Math.max(0, e.status.drops.frames - prev.status.drops.frames) / Math.max(e.t - prev.t, 1e-3)];
  });
  plot($("plot-drops"), [drops], 1);
  plot($("plot-cpu"), [pts((s) => s.cpu * 100)], 100);
}

// -- blendshape bars ----------------------------------------------------------------------------
const bars = {};
function drawBars() {
  requestAnimationFrame(drawBars);
  const m = latestMotion;
  if (!m) return;
  const box = $("bars");
  m.names.forEach((name, i) => {
    let b = bars[name];
    if (!b) {
      const label = document.createElement("span"); label.textContent = name;
      const track = document.createElement("div"); b = document.createElement("b"); track.appendChild(b);
      box.append(label, track); bars[name] = b;
    }
    b.style.width = (100 * m.values[i]).toFixed(1) + "%";
  });
  const [p, y, r] = m.head_rotation;
  $("head").textContent = `pitch ${p.toFixed(1)}° yaw ${y.toFixed(1)}° roll ${r.toFixed(1)}°` + (m.speaking ? " · speaking" : "");
}
requestAnimationFrame(drawBars);

// -- steering -----------------------------------------------------------------------------------
let setTimer = null;
function sendSet() {
  lastEdit = performance.now();
  clearTimeout(setTimer);
  setTimer = setTimeout(async () => {
    const body = {
      emotion: $("emotion").value,
      gaze: [parseFloat($("gaze-x").value), parseFloat($("gaze-y").value)],
      head_motion: parseFloat($("head-motion").value),
      stream: player.stream,
    };
    const r = await api("/api/set", body);
    if (r.ok) message($("set-msg"), "in force: " + JSON.stringify(r.result), true);
    else message($("set-msg"), r.error, false);
  }, 60);
}
for (const id of ["gaze-x", "gaze-y", "head-motion"]) {
  $(id).addEventListener("input", (e) => { e.target.nextElementSibling.value = e.target.value; sendSet(); });
}
$("emotion").addEventListener("change", sendSet);

// -- portrait by drag and drop ------------------------------------------------------------------
// A file the user picked goes as a multipart form: the server reads its bytes whatever type the
// browser guessed from its name (a raw body typed text/* would be refused for that type alone).
function formOf(file) {
  const form = new FormData();
  form.append("file", file);
  return form;
}

async function uploadPortrait(file) {
  $("portrait-msg").textContent = "";
  message($("portrait-msg"), `loading ${file.name}…`, true);
  const r = await api("/api/load_portrait", formOf(file), { params: { framing: $("framing").value } });
  if (r.ok) message($("portrait-msg"), `portrait ${file.name} loaded (${r.result.size.join("×")})` +
    (r.result.warnings && r.result.warnings.length ? " — " + r.result.warnings.join("; ") : ""), true);
  else message($("portrait-msg"), `${file.name} refused: ${r.error}`, false);
}
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault(); drop.classList.remove("over");
  const f = e.dataTransfer.files[0];
  if (f) uploadPortrait(f);
});
$("portrait-file").onchange = async (e) => {
  const f = e.target.files[0];
  e.target.value = ""; // choosing the same file again (another framing, after a refusal) sends it again
  if (f) await uploadPortrait(f);
};

// -- sources: the runtime's own input, this browser's microphone, or a file ----------------------
function wavOf(samples, rate) { // mono float32 -> 16-bit WAV blob
  const buf = new ArrayBuffer(44 + samples.length * 2), v = new DataView(buf);
  const str = (o, s) => [...s].forEach((c, i) => v.setUint8(o + i, c.charCodeAt(0)));
  str(0, "RIFF"); v.setUint32(4, 36 + samples.length * 2, true); str(8, "WAVE"); str(12, "fmt ");
  v.setUint32(16, 16, true); v.setUint16(20, 1, true); v.setUint16(22, 1, true);
  v.setUint32(24, rate, true); v.setUint32(28, rate * 2, true); v.setUint16(32, 2, true);
  v.setUint16(34, 16, true); str(36, "data"); v.setUint32(40, samples.length * 2, true);
  for (let i = 0; i < samples.length; i++) v.setInt16(44 + 2 * i, Math.max(-1, Math.min(1, samples[i])) * 32767, true);
  return new Blob([buf], { type: "audio/wav" });
}

async function speak(blob, text = "", language = "en") {
  let body = blob instanceof File ? formOf(blob) : blob;
  if (text.trim()) { // the words spoken travel with the clip: their alignment drives the mouth
    body = formOf(blob);
    body.append("text", text);
    body.append("language", language);
  }
  const r = await api("/api/speak", body, { params: { stream: player.stream } });
  if (!r.ok) message($("source-msg"), r.error, false);
  return r;
}

let mic = null;
async function startMic() {
  const media = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: true } });
  const ctx = new AudioContext();
  const node = ctx.createScriptProcessor(4096, 1, 1);
  let chunk = [];
  node.onaudioprocess = (e) => {
    chunk.push(new Float32Array(e.inputBuffer.getChannelData(0)));
    if (chunk.length * 4096 >= ctx.sampleRate * 0.25) { // ~250 ms per request
      const all = new Float32Array(chunk.reduce((n, c) => n + c.length, 0));
      let o = 0; for (const c of chunk) { all.set(c, o); o += c.length; }
      chunk = [];
      speak(wavOf(all, ctx.sampleRate));
    }
  };
  const src = ctx.createMediaStreamSource(media);
  src.connect(node); node.connect(ctx.destination);
  mic = { media, ctx };
  message($("source-msg"), `microphone on (${ctx.sampleRate} Hz, sent in 250 ms clips)`, true);
}
function stopMic() {
  if (!mic) return;
  mic.media.getTracks().forEach((t) => t.stop()); mic.ctx.close(); mic = null;
}
for (const radio of document.querySelectorAll("input[name=src]")) {
  radio.addEventListener("change", async (e) => {
    stopMic();
    $("file-row").hidden = e.target.value !== "file";
    if (e.target.value === "mic") {
      try { await startMic(); } catch (err) { message($("source-msg"), "microphone refused: " + err.message, false); }
    } else if (e.target.value === "stream") message($("source-msg"), "the runtime's own input (serve --mic / --audio / clips)", true);
    else message($("source-msg"), "choose a WAV, FLAC or OGG file", true);
  });
}
$("speech-file").onchange = async (e) => {
  const f = e.target.files[0];
  e.target.value = ""; // choosing the same file again (after a refusal too) sends it again
  if (!f) return;
  const r = await speak(f, $("speech-text").value, $("speech-language").value);
  if (!r.ok) return;
  const t = r.result.text;
  message($("source-msg"), `${f.name}: ${r.result.duration.toFixed(1)} s queued on ${r.result.stream}` +
    (t ? ` · ${t.message}` : ""), !t || (t.used && !(t.unspoken || []).length));  // words left out: a warning
};

$("stop").onclick = async () => {
  if (!confirm("Stop the runtime?")) return;
  const r = await api("/api/stop");
  setConn(false, r.ok ? "runtime stopped" : r.error);
};
