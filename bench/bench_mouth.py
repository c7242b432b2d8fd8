"""The mouth layer's own cost: drawn into a copy of the astronaut's 512^2 frame (float32) minus
the copy, one core, median of N, as a ratio to a cv2.remap of the 512^2 frame timed in between.
"smile 0.7" raises the upper lip off her teeth (the photo's teeth go on up under it). The last
frames are on a photo with closed lips (biden): a closed-lip smile (the corners'
creases) and the viseme O (lips pushed forward: their shadows reach further in).
Runs against any tree (the layer's call changed: `cpu.draw_mouth` here, `mouth.draw` on main):

    python bench/bench_mouth.py [N]                       # N repeats (default 300)
    cd ../main && python ../mouth/bench/bench_mouth.py    # the same against another tree
"""

import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import skimage.data

from vasa_bridge.data.visemes import SHAPES
from vasa_bridge.motion import MotionFrame
from vasa_bridge.render import cpu as C
from vasa_bridge.render import get_backend

FRAMES = {
    "jaw 0.6": MotionFrame.from_named({"jawOpen": 0.6, "eyeBlinkLeft": 0.5}),
    "speech": MotionFrame.from_named({"jawOpen": 0.35, "mouthFunnel": 0.3,
                                      "mouthRollLower": 0.3}, head_rotation=(3, 6, -2)),
    "yaw 20 + jaw 0.3": MotionFrame.from_named({"jawOpen": 0.3}, head_rotation=(0, 20, 0)),
    "PP (lips sealed)": MotionFrame.from_named(SHAPES["PP"].targets),
    "smile 0.7 (lip raised)": MotionFrame.from_named({"mouthSmileLeft": 0.7,
                                                      "mouthSmileRight": 0.7}),
}
CLOSED = {"smile 0.7 (biden)": MotionFrame.from_named({"mouthSmileLeft": 0.7,
                                                        "mouthSmileRight": 0.7}),
          "O (biden)": MotionFrame.from_named(SHAPES["O"].targets)}


def main() -> None:
    repeat = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    cv2.setNumThreads(1)
    backend = get_backend("cpu")
    sys.path.insert(0, str(Path(__file__).resolve().parent))  # this script's portraits.py
    from portraits import load

    ys, xs = np.mgrid[0:512, 0:512].astype(np.float32)
    this_tree = hasattr(C, "draw_mouth")
    for image, frames in ((skimage.data.astronaut(), FRAMES), (load("biden"), CLOSED)):
        state = backend.prepare(image)
        measure(state.cache, np.ascontiguousarray(state.portrait.image), frames, repeat,
                this_tree, xs, ys)


def measure(prep, photo, frames, repeat, this_tree, xs, ys) -> None:
    for name, f in frames.items():
        uv = C.posed_points(prep, f)[0][:478]
        img = photo.astype(np.float32)

        def draw():
            out = img.copy()
            if this_tree:
                C.draw_mouth(prep, out, uv, f)
            else:
                prep.mouth.draw(out, uv)

        layer, base = [], []
        for _ in range(repeat):
            t0 = time.perf_counter()
            draw()
            t1 = time.perf_counter()
            img.copy()
            t2 = time.perf_counter()
            cv2.remap(photo, xs + 0.3, ys + 0.2, cv2.INTER_LINEAR)
            t3 = time.perf_counter()
            layer.append((t1 - t0) - (t2 - t1))
            base.append(t3 - t2)
        ms, remap = statistics.median(layer) * 1e3, statistics.median(base) * 1e3
        print(f"{'this tree' if this_tree else 'older tree'} {name:18s} mouth layer {ms:5.2f} ms "
              f"= {ms / remap:4.2f} x remap ({remap:.2f} ms)")


if __name__ == "__main__":
    main()
