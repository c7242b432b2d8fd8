"""The mouth layer's own cost: drawn into a copy of the astronaut's 512^2 frame (float32) minus
the copy, one core, median of N, as a ratio to a cv2.remap of the 512^2 frame timed in between.
Runs against any tree (the layer's call changed: `cpu.draw_mouth` here, `mouth.draw` on main).

    python bench/bench_mouth.py [N]          # N repeats (default 300)
"""
import statistics
import sys
import time

import cv2
import numpy as np
import skimage.data

from vasa_bridge.motion import MotionFrame
from vasa_bridge.render import get_backend
from vasa_bridge.render import cpu as C
cv2.setNumThreads(1)
be = get_backend("cpu"); st = be.prepare(skimage.data.astronaut()); prep = st.cache
fr = np.ascontiguousarray(st.portrait.image); ys, xs = np.mgrid[0:512, 0:512].astype(np.float32)
frames = {"jaw 0.6": MotionFrame.from_named({"jawOpen": 0.6, "eyeBlinkLeft": 0.5}),
          "speech": MotionFrame.from_named({"jawOpen": 0.35, "mouthFunnel": 0.3, "mouthRollLower": 0.3}, head_rotation=(3, 6, -2)),
          "yaw 20 + jaw 0.3": MotionFrame.from_named({"jawOpen": 0.3}, head_rotation=(0, 20, 0))}
new = hasattr(C, "draw_mouth")
for name, f in frames.items():
    uv = C.posed_points(prep, f)[0][:478]
    img = fr.astype(np.float32)
    def draw():
        out = img.copy()
        if new:
            C.draw_mouth(prep, out, uv, f)
        else:
            prep.mouth.draw(out, uv)
    def copy_only():
        img.copy()
    ds, bs = [], []
    for _ in range(int(sys.argv[1]) if len(sys.argv) > 1 else 300):
        a = time.perf_counter(); draw(); b = time.perf_counter(); copy_only(); c = time.perf_counter()
        cv2.remap(fr, xs + 0.3, ys + 0.2, cv2.INTER_LINEAR); d = time.perf_counter()
        ds.append((b - a) - (c - b)); bs.append(d - c)
    m, r = statistics.median(ds) * 1e3, statistics.median(bs) * 1e3
    print(f"{'new' if new else 'main'} {name:18s} mouth layer {m:5.2f} ms = {m / r:4.2f} x remap ({r:.2f} ms)")
