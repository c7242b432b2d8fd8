"""Web overlay costs: frame codecs, publish-to-paint delay in Chromium, and the runtime-side CPU
of feeding one overlay at 512², 25 fps.

    python bench/bench_web.py [--seconds 10] [--size 512] [--skip-browser]

1. Codecs on a real rendered 512² frame (opaque and cut out): encode ms and size, Pillow vs cv2.
2. Delay from ZeroMQ publish (`sent`) to the frame drawn on the overlay's canvas and to the next
   animation frame (≈ on screen), p50/p95, with the default 60 ms A/V buffer and with none.
3. CPU of the runtime process (runtime + in-process web server, as `serve --http`) with no viewer
   and with one overlay viewer: the ratio is the cost of feeding it. Chromium is not counted.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vasa_bridge.motion import MotionFrame
from vasa_bridge.web.testing import LiveRuntime, free_port, prepared


def timed(fn, n):
    fn()
    t0 = time.perf_counter()
    for _ in range(n):
        out = fn()
    return (time.perf_counter() - t0) * 1000 / n, len(out)


def bench_codecs(size: int, n: int) -> None:
    import cv2
    from PIL import Image
    print(f"\n## Codecs, one {size}² frame (mean of {n})\n")
    print("| frame | codec | encode ms | KiB |\n|---|---|---|---|")
    for alpha in (False, True):
        renderer, state, _ = prepared(size, alpha)
        img = renderer.render(state, MotionFrame.from_named({"jawOpen": 0.4}))
        if img.shape[2] == 3:
            img = np.concatenate([img, np.full(img.shape[:2] + (1,), 255, np.uint8)], 2)
        rgb = np.ascontiguousarray(img[..., :3])
        bgr, bgra = rgb[..., ::-1].copy(), img[..., [2, 1, 0, 3]].copy()

        def pil(im, fmt, **kw):
            def f():
                out = io.BytesIO()
                im.save(out, fmt, **kw)
                return out.getvalue()
            return f
        if not alpha:
            cases = [
                ("JPEG q80 (cv2, chosen)", lambda: cv2.imencode(
                    ".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 80])[1]),
                ("JPEG q80 (Pillow)", pil(Image.fromarray(rgb), "JPEG", quality=80)),
                ("WebP q80 (Pillow, method 0)", pil(Image.fromarray(rgb), "WEBP", quality=80,
                                                   method=0)),
                ("WebP q80 (cv2)", lambda: cv2.imencode(
                    ".webp", bgr, [cv2.IMWRITE_WEBP_QUALITY, 80])[1]),
            ]
        else:
            cases = [
                ("raw RGBA (chosen)", lambda: img.tobytes()),
                ("PNG level 1 (Pillow)", pil(Image.fromarray(img), "PNG", compress_level=1)),
                ("PNG level 1 (cv2)", lambda: cv2.imencode(
                    ".png", bgra, [cv2.IMWRITE_PNG_COMPRESSION, 1])[1]),
                ("WebP q80 + lossless alpha (Pillow, m0)", pil(Image.fromarray(img), "WEBP",
                                                               quality=80, method=0)),
            ]
        for name, fn in cases:
            ms, nbytes = timed(fn, n)
            print(f"| {'RGBA cut out' if alpha else 'opaque'} | {name} | {ms:.2f} | "
                  f"{nbytes / 1024:.0f} |")


def pct(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))]


def bench_browser(size: int, seconds: float, alpha: bool) -> None:
    from vasa_bridge.web.cdp import Browser
    from vasa_bridge.web.app import STATE, start_in_thread
    pub, ctl = f"tcp://127.0.0.1:{free_port()}", f"tcp://127.0.0.1:{free_port()}"
    face = prepared(size, alpha)
    label = "RGBA cut out, raw" if alpha else "opaque, JPEG"
    with LiveRuntime(pub, ctl, face, alpha=alpha) as rt, \
            start_in_thread("127.0.0.1:0", pub, ctl) as web, Browser() as browser:
        time.sleep(2)  # warm up: portrait prepared, runtime at pace
        cpu0, wall0 = time.process_time(), time.monotonic()
        time.sleep(seconds)
        base_cpu = (time.process_time() - cpu0) / (time.monotonic() - wall0)
        results = {}
        for buffer_s in (0.06, 0.0):
            browser.goto(web.url + f"/overlay?buffer={buffer_s}")
            browser.wait_for("vasaOverlay.stats.framesPainted > 10")
            browser.eval("vasaOverlay.paints.length = 0")
            enc0 = (web.app[STATE].bridge.encode_ms,
                    web.app[STATE].bridge.stats["frames_encoded"])
            cpu0, wall0 = time.process_time(), time.monotonic()
            time.sleep(seconds)
            cpu = (time.process_time() - cpu0) / (time.monotonic() - wall0)
            b = web.app[STATE].bridge
            enc = (b.encode_ms - enc0[0]) / max(1, b.stats["frames_encoded"] - enc0[1])
            paints = browser.eval("vasaOverlay.paints.filter(p => p.presented)")
            drawn = [p["drawn"] - p["sent"] for p in paints]
            shown = [p["presented"] - p["sent"] for p in paints]
            s = browser.eval("vasaOverlay.stats")
            results[buffer_s] = (drawn, shown, cpu, enc, s)
        status = rt.commands.status()
    print(f"\n## Overlay in Chromium: {size}², 25 fps, {label}, {seconds:g} s per run\n")
    print(f"runtime alone: fps {status['fps']}, render p50 {status['stage_ms']['render']} ms; "
          f"process CPU without a viewer {base_cpu:.1%} of a core\n")
    print("| A/V buffer | frames painted | publish→drawn p50 / p95 ms | publish→screen p50 / "
          "p95 ms "
          "| process CPU with one overlay | ratio vs no viewer | encode ms/frame | audio output "
          "latency ms | audio chunks late |")
    print("|---|---|---|---|---|---|---|---|---|")
    for buffer_s, (drawn, shown, cpu, enc, s) in results.items():
        print(f"| {buffer_s * 1000:.0f} ms | {len(drawn)} | {pct(drawn, .5):.1f} / "
              f"{pct(drawn, .95):.1f} | {pct(shown, .5):.1f} / {pct(shown, .95):.1f} | "
              f"{cpu:.1%} | {cpu / base_cpu:.2f}× | {enc:.2f} | "
              f"{1000 * s.get('outputLatency', 0):.0f} | {s['audioLate']} |")


def screenshots(out: Path, size: int) -> None:
    """docs/web-panel.png (mid-speech, happy, a minute of plots so far) and docs/web-overlay.png
    (the cut-out face on a transparent page, as OBS composites it)."""
    from vasa_bridge.samples import example_track_path
    from vasa_bridge.motion.io import load
    from vasa_bridge.provenance.stamp import Stamp, StampConfig
    from vasa_bridge.transport import ControlClient
    from vasa_bridge.web.cdp import Browser
    from vasa_bridge.web.app import start_in_thread
    speech = load(example_track_path()).audio
    out.mkdir(parents=True, exist_ok=True)
    for alpha in (False, True):
        pub, ctl = f"tcp://127.0.0.1:{free_port()}", f"tcp://127.0.0.1:{free_port()}"
        stamp = Stamp(StampConfig(label=False, credentials=False))
        with LiveRuntime(pub, ctl, prepared(size, alpha), alpha=alpha, stamp=stamp), \
                start_in_thread("127.0.0.1:0", pub, ctl) as web, ControlClient(ctl) as client:
            if not alpha:
                with Browser(width=1400, height=900) as b:
                    b.goto(web.url + "/")
                    client.call("set", emotion="happy", gaze=[0.3, 0.1])
                    time.sleep(12)  # some history in the plots, a watermark check
                    client.speak(speech, 16000)
                    time.sleep(2.2)
                    b.screenshot(out / "web-panel.png")
            else:
                with Browser(width=size, height=size) as b:
                    b.goto(web.url + "/overlay")
                    b.wait_for("vasaOverlay.stats.framesPainted > 20")
                    client.speak(speech, 16000)
                    time.sleep(1.5)
                    b.screenshot(out / "web-overlay.png", transparent=True)
            from PIL import Image
            face = Image.open(out / "web-overlay.png").convert("RGBA")
            yy, xx = np.indices(face.size[::-1])
            tile = ((yy // 24 + xx // 24) % 2 * 30 + 40).astype(np.uint8)
            checker = Image.fromarray(np.dstack([tile] * 3 + [np.full_like(tile, 255)]))
            Image.alpha_composite(checker, face).convert("RGB").save(
                out / "web-overlay-on-checker.png")
    print(f"wrote {out / 'web-panel.png'} and {out / 'web-overlay.png'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--skip-browser", action="store_true")
    ap.add_argument("--screenshots", metavar="DIR", help="only take the docs' screenshots")
    args = ap.parse_args()
    import logging
    logging.disable(logging.WARNING)
    if args.screenshots:
        screenshots(Path(args.screenshots), args.size)
        return
    bench_codecs(args.size, 20)
    if not args.skip_browser:
        for alpha in (False, True):
            bench_browser(args.size, args.seconds, alpha)
    print("\n(the machine: " + _machine() + ")")


def _machine() -> str:
    import os
    import platform
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"


if __name__ == "__main__":
    main()
