"""The real pages in headless Chromium (Debian's `chromium`), driven over the DevTools protocol,
against a real runtime in-process: the overlay moves, is transparent where the frames are, plays
sound, survives restarts; the panel steers the runtime and shows refusals."""

import base64
import time

import numpy as np
import pytest

from vasa_bridge.motion.names import INDEX
from vasa_bridge.transport import ControlClient, Subscriber, SubscriberConfig
from vasa_bridge.web.cdp import Browser, find_chromium
from vasa_bridge.web.app import start_in_thread
from vasa_bridge.web.testing import LiveRuntime, prepared, tone

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(find_chromium() is None, reason="Chromium is not installed "
                                 "(apt-get install chromium): the browser tests need it")]

CANVAS = """(() => {{ const c = document.getElementById('face');
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let s = ''; const step = {step};
  const out = new Uint8Array(Math.ceil(d.length / 4 / step) * 4);
  for (let i = 0, j = 0; i < d.length; i += 4 * step, j += 4) out.set(d.subarray(i, i + 4), j);
  for (let i = 0; i < out.length; i += 8192) s += String.fromCharCode(...out.subarray(i, i + 8192));
  return [c.width, c.height, btoa(s)]; }})()"""


def canvas_pixels(browser, step=1):
    """(H, W, 4) RGBA of the face canvas (every `step`-th pixel when step > 1: (N, 4))."""
    w, h, data = browser.eval(CANVAS.format(step=step))
    px = np.frombuffer(base64.b64decode(data), np.uint8).reshape(-1, 4)
    return px.reshape(h, w, 4) if step == 1 else px


@pytest.fixture(scope="module")
def browser():
    with Browser(width=1400, height=900) as b:
        yield b


@pytest.fixture(scope="module")
def opaque_face():
    return prepared(192, alpha=False)


ANY = "tcp://127.0.0.1:*"  # ZeroMQ binds a free port; the bound address is read back


def stats(browser, obj="vasaOverlay"):
    return browser.eval(f"{obj}.stats")


def test_overlay_moves_plays_sound_and_survives_restarts(browser, opaque_face):
    rt = LiveRuntime(ANY, ANY, opaque_face)
    pub, ctl = rt.pub.endpoint, rt.control.endpoint  # the restarts below reuse these
    web = start_in_thread("127.0.0.1:0", pub, ctl)
    port = int(web.url.rsplit(":", 1)[1])
    try:
        browser.goto(web.url + "/overlay?stream=default")
        browser.wait_for("vasaOverlay.stats.framesPainted > 10")
        with ControlClient(ctl) as client:
            client.speak(tone(1.5, level=0.4), 16000)
        first = canvas_pixels(browser)
        assert first.shape == (192, 192, 4) and (first[..., 3] == 255).all()
        assert first[..., :3].std() > 20  # a picture, not a blank canvas
        time.sleep(1.2)
        second = canvas_pixels(browser)
        changed = np.abs(second.astype(int) - first).max(axis=2) > 12
        assert changed.mean() > 0.002  # the mouth and head move
        s = browser.wait_for("vasaOverlay.stats.audioPeak > 0.2 && vasaOverlay.stats")
        assert s["audioState"] == "running" and s["audioScheduled"] > 20
        assert s["lastCodec"] == "jpeg" and s["framesLate"] <= s["framesPainted"] * 0.1
        # The runtime restarts on the same endpoints: pts start again at 0.
        painted = s["framesPainted"]
        rt.close()
        time.sleep(0.5)
        rt = LiveRuntime(pub, ctl, opaque_face)
        browser.wait_for(f"vasaOverlay.stats.framesPainted > {painted + 20}", timeout=15)
        s = stats(browser)
        assert s["resyncs"] >= 1 and s["lastPts"] < 3e9  # painting the new runtime's frames
        # The web server restarts on the same port: the page reconnects by itself.
        web.close()
        time.sleep(0.3)
        painted = s["framesPainted"]
        web = start_in_thread(f"127.0.0.1:{port}", pub, ctl)
        browser.wait_for(f"vasaOverlay.stats.framesPainted > {painted + 20}", timeout=15)
        assert stats(browser)["connects"] >= 2
    finally:
        web.close()
        rt.close()


def test_overlay_is_transparent_where_the_frames_are(browser):
    face = prepared(192, alpha=True)
    with LiveRuntime(ANY, ANY, face, alpha=True) as rt, \
            Subscriber(SubscriberConfig(endpoint=rt.pub.endpoint, kinds=("frame",))) as sub, \
            start_in_thread("127.0.0.1:0", rt.pub.endpoint, rt.control.endpoint,
                            token="t0k3n") as web:
        msg = None
        deadline = time.time() + 10
        while msg is None and time.time() < deadline + 10:
            msg = sub.recv(timeout_ms=200)
        wire_alpha = msg.image()[..., 3]
        assert 0.1 < (wire_alpha == 0).mean() < 0.9  # the frames really are cut out
        browser.goto(web.page_url("/overlay"))  # with ?token=: scripts and feed carry it too
        browser.wait_for("vasaOverlay.stats.framesPainted > 5", timeout=30)
        page = canvas_pixels(browser)
        assert stats(browser)["lastCodec"] == "raw"
        clear_wire, clear_page = wire_alpha < 128, page[..., 3] < 128
        iou = (clear_wire & clear_page).sum() / (clear_wire | clear_page).sum()
        assert iou > 0.9  # transparent where the runtime's frames are (the head moves a little)
        assert (page[..., 3][~clear_wire] > 0).mean() > 0.95  # and the face is opaque
        shot = browser.eval("document.body.style.background")  # nothing painted behind it
        assert shot in ("", "transparent")


def test_panel_steers_the_runtime_and_shows_refusals(browser, opaque_face, tmp_path):
    with LiveRuntime(ANY, ANY, opaque_face) as rt, \
            Subscriber(SubscriberConfig(endpoint=rt.pub.endpoint, kinds=("motion",),
                                        stream="default")) as sub, \
            start_in_thread("127.0.0.1:0", rt.pub.endpoint, rt.control.endpoint) as web, \
            ControlClient(rt.control.endpoint) as client:
        browser.goto(web.url + "/")
        browser.wait_for("vasaPanel.status && vasaPanel.status.runtime && vasaPanel.motion")
        assert browser.wait_for("document.querySelectorAll('#bars b').length") == 52

        def smile_while_speaking():
            client.speak(tone(0.8, level=0.4), 16000)
            values, deadline = [], time.time() + 6
            while time.time() < deadline:
                m = sub.recv(timeout_ms=200)
                if m is None:
                    continue
                if m.header.get("speaking"):
                    values.append(m.motion_frame().blendshapes[INDEX["mouthSmileLeft"]])
                elif values:
                    break
            return max(values)

        assert smile_while_speaking() < 0.05  # neutral
        browser.eval("(() => { const e = document.getElementById('emotion'); e.value = 'happy';"
                     " e.dispatchEvent(new Event('change')); })()")
        browser.wait_for("document.getElementById('set-msg').textContent.includes('happy')")
        assert smile_while_speaking() > 0.2  # the runtime published a smile

        browser.eval("(() => { const e = document.getElementById('gaze-x'); e.value = '0.5';"
                     " e.dispatchEvent(new Event('input')); })()")
        deadline = time.time() + 5
        while rt.commands.status()["conditions"]["gaze"][0] != 0.5 and time.time() < deadline:
            time.sleep(0.1)
        assert rt.commands.status()["conditions"]["gaze"] == [0.5, 0.0]

        drop = """(async () => {{ const dt = new DataTransfer();
          dt.items.add(new File([{content}], '{name}', {{type: '{mime}'}}));
          const ev = new DragEvent('drop', {{dataTransfer: dt, bubbles: true, cancelable: true}});
          document.getElementById('drop').dispatchEvent(ev); }})()"""
        # A text file: its bytes are refused, not the type the browser guessed from its name
        # (a raw text/plain body answered "body has Content-Type 'text/plain'").
        browser.eval(drop.format(content="'not an image at all'", name="notes.txt",
                                 mime="text/plain"))
        text = browser.wait_for("document.querySelector('#portrait-msg.error') && "
                                "document.getElementById('portrait-msg').textContent")
        assert "notes.txt refused" in text and "expected encoded PNG/JPEG/WebP" in text

        import skimage.data
        from PIL import Image
        path = tmp_path / "p.png"
        Image.fromarray(skimage.data.astronaut()[:, ::-1].copy()).save(path)
        b64 = base64.b64encode(path.read_bytes()).decode()
        browser.eval(f"""(() => {{ const dt = new DataTransfer();
          dt.items.add(new File([Uint8Array.from(atob('{b64}'), c => c.charCodeAt(0))],
                                'mirror.png', {{type: 'image/png'}}));
          const input = document.getElementById('portrait-file');
          input.files = dt.files; input.dispatchEvent(new Event('change')); }})()""")
        text = browser.wait_for("document.querySelector('#portrait-msg.ok') && document."
                                "getElementById('portrait-msg').textContent.includes('192') && "
                                "document.getElementById('portrait-msg').textContent", timeout=20)
        assert "loaded" in text
        # choosing the same file again (with another framing) must fire `change` again
        assert browser.eval("document.getElementById('portrait-file').value") == ""


def test_panel_microphone_source_drives_the_face(browser, opaque_face):
    """Chromium's fake capture device (a beep) -> 250 ms clips through /api/speak -> the runtime
    speaks: the published motion says so, and the jaw opens."""
    with LiveRuntime(ANY, ANY, opaque_face) as rt, \
            Subscriber(SubscriberConfig(endpoint=rt.pub.endpoint, kinds=("motion",),
                                        stream="default")) as sub, \
            start_in_thread("127.0.0.1:0", rt.pub.endpoint, rt.control.endpoint) as web:
        browser.goto(web.url + "/")
        browser.wait_for("vasaPanel.status && vasaPanel.status.runtime")
        browser.eval("document.querySelector('input[name=src][value=mic]').click()")
        text = browser.wait_for("document.getElementById('source-msg').textContent")
        assert "microphone on" in text, text
        jaw, deadline = [], time.time() + 8
        while time.time() < deadline and sum(j > 0.1 for j in jaw) < 5:
            m = sub.recv(timeout_ms=200)
            if m is not None and m.header.get("speaking"):
                jaw.append(m.motion_frame()["jawOpen"])
        browser.eval("document.querySelector('input[name=src][value=stream]').click()")
        assert sum(j > 0.1 for j in jaw) >= 5


# --- pages of other origins cannot drive the avatar (issue #16) -------------------------------

ATTACK = """<!doctype html><meta charset="utf-8"><body>
<iframe name="sink" style="display:none"></iframe>
<form id="form" method="POST" enctype="text/plain" target="sink" action="TARGET/api/set">
  <input name='{"emotion":"sad","pad":"' value='"}'></form>
<script>
"use strict";
window.results = {};
const target = "TARGET";
const wav = Uint8Array.from(atob("WAV"), c => c.charCodeAt(0));
async function attempt(name, fn) {
  try { const r = await fn(); results[name] = "answered " + r.status + " " + r.type; }
  catch (e) { results[name] = "blocked " + e.name; }
}
(async () => {
  const post = (path, init) => fetch(target + path, { method: "POST", ...init });
  await attempt("set_text_plain", () => post("/api/set", {
    body: '{"emotion":"sad"}', headers: { "Content-Type": "text/plain" } }));
  await attempt("set_no_cors", () => post("/api/set", { mode: "no-cors",
    body: '{"emotion":"sad"}', headers: { "Content-Type": "text/plain" } }));
  await attempt("set_json", () => post("/api/set", {
    body: '{"emotion":"sad"}', headers: { "Content-Type": "application/json" } }));
  await attempt("speak", () => post("/api/speak?stream=attack", { mode: "no-cors",
    body: new Blob([wav], { type: "audio/wav" }) }));
  await attempt("speak_text", () => post("/api/speak?stream=attack", { mode: "no-cors",
    body: new Blob([wav], { type: "text/plain" }) }));
  await attempt("stop", () => post("/api/stop", { mode: "no-cors" }));
  results.ws = await new Promise((done) => {
    const ws = new WebSocket(target.replace("http", "ws") + "/ws?panel=1&media=0");
    ws.onopen = () => { done("open"); ws.close(); };
    ws.onerror = () => done("refused");
  });
  document.getElementById("form").submit();
  await new Promise((r) => setTimeout(r, 500));
  results.done = true;
  if (window.parent !== window) window.parent.postMessage(results, "*");
})();
</script>"""

HOST_PAGE = """<!doctype html><body>
<iframe sandbox="allow-scripts allow-forms" src="/attack.html"></iframe>
<script>window.frameResults = null;
addEventListener("message", (e) => { window.frameResults = e.data; });</script>
<script src="/attack.js"></script>"""


def _serve_dir(directory):
    """A plain HTTP server for `directory` on its own port: another origin than the panel."""
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _refused(web):
    import json
    import urllib.request
    with urllib.request.urlopen(web.url + "/api/status", timeout=10) as r:
        return json.loads(r.read())["web"].get("refused", {}).get("origin", 0)


def test_pages_of_other_origins_cannot_drive_the_avatar(browser, opaque_face, tmp_path):
    """A `file:` page, a page of another origin and a sandboxed iframe in it (Origin: null) try
    every way to steer the runtime: text/plain and no-cors posts, JSON (preflighted), speech
    uploads, stop, a text/plain form, the WebSocket. The server refuses each (counted in
    /api/status) and nothing changes; then the panel's own page steers it."""
    from vasa_bridge.web.testing import wav_bytes
    with LiveRuntime(ANY, ANY, opaque_face) as rt, \
            start_in_thread("127.0.0.1:0", rt.pub.endpoint, rt.control.endpoint) as web:
        attack = ATTACK.replace("TARGET", web.url).replace(
            "WAV", base64.b64encode(wav_bytes(tone(0.3))).decode())
        (tmp_path / "attack.html").write_text(attack)
        script = attack.split('<script>\n"use strict";', 1)[1].rsplit("</script>", 1)[0]
        (tmp_path / "attack.js").write_text(script.replace(
            'document.getElementById("form").submit();', ""))
        (tmp_path / "host.html").write_text(HOST_PAGE)
        other = _serve_dir(tmp_path)
        before = _refused(web)
        try:
            browser.goto((tmp_path / "attack.html").as_uri())  # file: -> Origin: null
            from_file = browser.wait_for("window.results.done && window.results", timeout=20)
            browser.goto(f"http://127.0.0.1:{other.server_address[1]}/host.html")
            from_frame = browser.wait_for("window.frameResults", timeout=20)
            from_other = browser.wait_for("window.results.done && window.results", timeout=20)
        finally:
            other.shutdown()
        for results in (from_file, from_frame, from_other):
            assert results["ws"] == "refused", results
            # A CORS request fails in the page; a no-cors one gets an opaque answer it cannot
            # read: neither tells the page anything. The server's count says they arrived.
            assert results["set_text_plain"] == "blocked TypeError", results
            assert results["set_no_cors"] == "answered 0 opaque", results
        # file + sandboxed frame + the other origin's page: 7 requests each reach the server
        # (the JSON post stops at its preflight; the other origin's page sends no form).
        assert _refused(web) - before >= 20
        status = rt.commands.status()
        assert status["conditions"].get("emotion", "neutral") == "neutral"
        assert "attack" not in status["streams"] and rt.thread.is_alive()

        browser.goto(web.url + "/")  # the panel's own page still works
        browser.wait_for("vasaPanel.status && vasaPanel.status.runtime")
        reply = browser.eval("api('/api/set', {emotion: 'sad'})")
        assert reply["ok"] is True and rt.commands.status()["conditions"]["emotion"] == "sad"
        refused = browser.eval("fetch('/api/set', {method: 'POST', body: '{\"emotion\":\"happy\"}',"
                               " headers: {'Content-Type': 'text/plain'}}).then(r => r.json())")
        assert refused["code"] == "unsupported_media_type" and "application/json" in \
            refused["error"]
        assert rt.commands.status()["conditions"]["emotion"] == "sad"
def test_panel_text_box_sends_the_words_with_the_audio_file(browser, opaque_face):
    """Audio file source with the words typed beside it: the runtime aligns them (a real
    recording, "go forward ten meters"), the panel shows that they were used; wrong words show
    the fallback message."""
    from pathlib import Path

    from vasa_bridge.web.testing import wav_bytes
    pcm = Path("/usr/share/pocketsphinx/test/data/goforward.raw").read_bytes()
    b64 = base64.b64encode(wav_bytes(np.frombuffer(pcm, "<i2").astype(np.float32) / 32768))
    send = """(() => {{ document.getElementById('speech-text').value = '{text}';
      const dt = new DataTransfer();
      dt.items.add(new File([Uint8Array.from(atob('{b64}'), c => c.charCodeAt(0))], 'go.wav',
                            {{type: 'audio/wav'}}));
      const input = document.getElementById('speech-file');
      input.files = dt.files; input.dispatchEvent(new Event('change')); }})()"""
    with LiveRuntime(ANY, ANY, opaque_face) as rt, \
            start_in_thread("127.0.0.1:0", rt.pub.endpoint, rt.control.endpoint) as web:
        browser.goto(web.url + "/")
        browser.wait_for("vasaPanel.status && vasaPanel.status.runtime")
        browser.eval("document.querySelector('input[name=src][value=file]').click()")
        assert browser.eval("document.getElementById('file-row').hidden") is False
        browser.eval(send.format(text="go forward ten meters", b64=b64.decode()))
        text = browser.wait_for("document.getElementById('source-msg').textContent.includes("
                                "'go.wav') && document.getElementById('source-msg').textContent",
                                timeout=30)
        assert "transcript aligned (4 words" in text, text
        browser.eval(send.format(text="seven of clubs", b64=b64.decode()))
        text = browser.wait_for("document.querySelector('#source-msg.error') && "
                                "document.getElementById('source-msg').textContent", timeout=30)
        assert "does not fit the audio" in text, text
        browser.eval(send.format(text="word " * 900, b64=b64.decode()))  # over 4000 characters
        text = browser.wait_for("document.getElementById('source-msg').textContent.includes("
                                "'limit') && document.getElementById('source-msg').textContent")
        assert "4500 characters" in text, text
        # After a refusal, choosing the same file again (with a shorter text) sends it again.
        assert browser.eval("document.getElementById('speech-file').value") == ""


def test_panel_keeps_an_npc_streams_values_and_says_when_things_are_gone(browser, opaque_face):
    """Viewing an NPC stream, the controls snapped back to the main face's values (the status
    reports those) two seconds after a change; once the runtime was gone the status line kept
    its last numbers; with the web server gone a control change failed silently."""
    rt = LiveRuntime(ANY, ANY, opaque_face)
    web = start_in_thread("127.0.0.1:0", rt.pub.endpoint, rt.control.endpoint)
    try:
        with ControlClient(rt.control.endpoint) as client:
            client.speak(tone(0.5), 16000, stream="npc1")
        browser.goto(web.url + "/")
        browser.wait_for("vasaPanel.status && vasaPanel.status.runtime && [...document."
                         "getElementById('stream').options].some(o => o.value === 'npc1')")
        browser.eval("""(() => { const s = document.getElementById('stream'); s.value = 'npc1';
          s.dispatchEvent(new Event('change'));
          const e = document.getElementById('emotion'); e.value = 'angry';
          e.dispatchEvent(new Event('change'));
          window.settled = 0; const shown = onStatus;  // statuses after the edit's grace period
          onStatus = (m) => { shown(m); if (performance.now() - lastEdit > 2000) settled++; };
          })()""")
        assert "angry" in browser.wait_for("document.getElementById('set-msg').textContent")
        browser.wait_for("window.settled >= 2", timeout=20)
        assert rt.commands.status()["conditions"]["emotion"] == "neutral"  # the main face's
        assert browser.eval("document.getElementById('emotion').value") == "angry"

        rt.close()
        text = browser.wait_for("document.getElementById('status-line').textContent.startsWith("
                                "'no status') && document.getElementById('status-line')"
                                ".textContent", timeout=20)
        assert "could not send" in text and "pictures" not in text, text
        web.close()
        browser.eval("(() => { const e = document.getElementById('emotion'); e.value = 'sad';"
                     " e.dispatchEvent(new Event('change')); })()")
        text = browser.wait_for("document.querySelector('#set-msg.error') && "
                                "document.getElementById('set-msg').textContent")
        assert "web server not reachable" in text, text
    finally:
        web.close()
        rt.close()


STREAM_OPTIONS = ("[...document.getElementById('stream').options]"
                  ".map(o => o.value + '=' + o.textContent).join(',')")


def _choose_stream(browser, stream):
    browser.eval(f"""(() => {{ const s = document.getElementById('stream'); s.value = '{stream}';
      s.dispatchEvent(new Event('change')); }})()""")


def test_panel_stream_list_follows_the_runtimes_streams(browser, opaque_face):
    """The stream list is the runtime's streams now: a runtime restarted without its NPCs lists
    only the main face. The stream being watched stays listed, marked, until another is chosen."""
    rt = LiveRuntime(ANY, ANY, opaque_face)
    pub, ctl = rt.pub.endpoint, rt.control.endpoint  # the restart below reuses these
    web = start_in_thread("127.0.0.1:0", pub, ctl)
    try:
        with ControlClient(ctl) as client:
            client.speak(tone(0.3), 16000, stream="npc1")
            client.speak(tone(0.3), 16000, stream="npc2")
        browser.goto(web.url + "/")
        browser.wait_for(f"{STREAM_OPTIONS} === 'default=default,npc1=npc1,npc2=npc2'")
        _choose_stream(browser, "npc2")

        rt.close()
        time.sleep(0.5)  # the old sockets release the ports
        rt = LiveRuntime(pub, ctl, opaque_face)  # same endpoints, only the main face
        browser.wait_for(f"{STREAM_OPTIONS} === 'default=default,npc2=npc2 (not published)'")
        assert browser.eval("document.getElementById('stream').value") == "npc2"

        _choose_stream(browser, "default")  # the ended stream goes at the next hello
        browser.wait_for(f"{STREAM_OPTIONS} === 'default=default'")
    finally:
        web.close()
        rt.close()


def test_panel_watches_the_main_face_whatever_its_name(browser, opaque_face):
    """`serve --stream face`: the panel watched "default", which nothing published (a blank face,
    listed as "default (not published)"); until the user picks a stream it watches the main face
    the hello lists first."""
    with LiveRuntime(ANY, ANY, opaque_face, stream="face") as rt:
        web = start_in_thread("127.0.0.1:0", rt.pub.endpoint, rt.control.endpoint)
        try:
            browser.goto(web.url + "/")
            browser.wait_for(f"{STREAM_OPTIONS} === 'face=face'")
            assert browser.eval("window.vasaPanel.player.stream") == "face"
        finally:
            web.close()
