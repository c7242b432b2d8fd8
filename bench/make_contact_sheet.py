"""Contact sheet of every rig group on the astronaut, then a row per other test portrait (both
framings) -> docs/contact_sheet.png.

    python bench/make_contact_sheet.py
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import skimage.data  # noqa: E402

from bench.portraits import PORTRAITS, load  # noqa: E402
from vasa_bridge.face import PortraitConfig  # noqa: E402

from vasa_bridge.motion import MotionFrame  # noqa: E402
from vasa_bridge.render import get_backend  # noqa: E402

ROWS = [
    ("jaw", [{"jawOpen": v} for v in (0, 0.25, 0.5, 0.75, 1.0)] + [{"jawOpen": 1, "mouthClose": 0.8}]),
    ("mouth corners", [{"mouthSmileLeft": 1, "mouthSmileRight": 1}, {"mouthSmileLeft": 1},
                       {"mouthFrownLeft": 1, "mouthFrownRight": 1},
                       {"mouthStretchLeft": 1, "mouthStretchRight": 1},
                       {"mouthDimpleLeft": 1, "mouthDimpleRight": 1}, {"mouthLeft": 1}]),
    ("lips", [{"mouthPucker": 1}, {"mouthFunnel": 1}, {"mouthRollLower": 1, "mouthRollUpper": 1},
              {"mouthPressLeft": 1, "mouthPressRight": 1},
              {"mouthLowerDownLeft": 1, "mouthLowerDownRight": 1},
              {"mouthUpperUpLeft": 1, "mouthUpperUpRight": 1}]),
    ("eyelids", [{"eyeBlinkLeft": 0.5, "eyeBlinkRight": 0.5}, {"eyeBlinkLeft": 1, "eyeBlinkRight": 1},
                 {"eyeBlinkLeft": 1}, {"eyeWideLeft": 1, "eyeWideRight": 1},
                 {"eyeSquintLeft": 1, "eyeSquintRight": 1},
                 {"cheekSquintLeft": 1, "cheekSquintRight": 1}]),
    ("gaze", [{"eyeLookOutLeft": 1, "eyeLookInRight": 1}, {"eyeLookInLeft": 1, "eyeLookOutRight": 1},
              {"eyeLookUpLeft": 1, "eyeLookUpRight": 1}, {"eyeLookDownLeft": 1, "eyeLookDownRight": 1},
              {"eyeLookInLeft": 1, "eyeLookInRight": 1}, {}]),
    ("brows/cheeks/nose", [{"browInnerUp": 1}, {"browDownLeft": 1, "browDownRight": 1},
                           {"browOuterUpLeft": 1, "browOuterUpRight": 1}, {"cheekPuff": 1},
                           {"noseSneerLeft": 1, "noseSneerRight": 1}, {"jawLeft": 1}]),
    ("head", [dict(_rot=(0, -20, 0)), dict(_rot=(0, 20, 0)), dict(_rot=(-15, 0, 0)),
              dict(_rot=(15, 0, 0)), dict(_rot=(0, 0, 15)), dict(_tr=(0.02, 0.01, 0.08))]),
]
# One row per other portrait: rest, speech shapes and a turn.
PORTRAIT_ROW = [{}, {"jawOpen": 0.5}, {"jawOpen": 1.0},
                {"mouthSmileLeft": 1, "mouthSmileRight": 1}, {"eyeBlinkLeft": 1, "eyeBlinkRight": 1},
                dict(_rot=(5, 18, 0), jawOpen=0.3)]


def label(spec: dict) -> str:
    if "_rot" in spec:
        p, y, r = spec["_rot"]
        return f"pitch {p} yaw {y} roll {r}"
    if "_tr" in spec:
        return "translate x.02 y.01 z.08 m"
    if not spec:
        return "rest"
    return " ".join(f"{k.replace('mouth', 'm.').replace('eye', 'e.')}{v:g}" for k, v in spec.items())


def tile(backend, state, spec, cx, cy, half):
    shapes = {k: v for k, v in spec.items() if not k.startswith("_")}
    f = MotionFrame.from_named(shapes, head_rotation=spec.get("_rot", (0, 0, 0)),
                               head_translation=spec.get("_tr", (0, 0, 0)))
    img = backend.render(state, f)
    h, w = img.shape[:2]
    y0, x0 = int(np.clip(cy - half, 0, h - 2 * half)), int(np.clip(cx - half, 0, w - 2 * half))
    img = cv2.resize(img[y0:y0 + 2 * half, x0:x0 + 2 * half], (240, 240),
                     interpolation=cv2.INTER_AREA)
    img = np.ascontiguousarray(img[:, :, ::-1])
    bar = np.full((22, img.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, label(spec)[:38], (3, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (0, 0, 0),
                1, cv2.LINE_AA)
    return np.vstack([bar, img])


def row_of(group, tiles_):
    head = np.full((tiles_[0].shape[0], 110, 3), 235, np.uint8)
    for k, line in enumerate(group.split("\n")):
        cv2.putText(head, line, (4, tiles_[0].shape[0] // 2 + 16 * k), cv2.FONT_HERSHEY_SIMPLEX,
                    0.42, (0, 0, 0), 1, cv2.LINE_AA)
    return np.hstack([head] + tiles_)


def main() -> None:
    backend = get_backend("cpu")
    state = backend.prepare(skimage.data.astronaut())
    lm = state.portrait.landmarks
    cx, cy = int(lm[:, 0].mean()), int(lm[:, 1].mean())
    half = 120
    tiles = [row_of(group, [tile(backend, state, spec, cx, cy, half) for spec in specs])
             for group, specs in ROWS]
    for name in PORTRAITS:
        if name == "astronaut":
            continue
        for framing in ("bust", "head"):
            st = backend.prepare(load(name), PortraitConfig.framed(framing))
            lm = st.portrait.landmarks
            cx, cy = int(lm[:, 0].mean()), int(lm[:, 1].mean())
            half = 256  # the whole frame: the framings differ in what they show
            tiles.append(row_of(f"{name}\n{framing}",
                                [tile(backend, st, spec, cx, cy, half) for spec in PORTRAIT_ROW]))
    sheet = np.vstack(tiles)
    out = ROOT / "docs" / "contact_sheet.png"
    out.parent.mkdir(exist_ok=True)
    cv2.imwrite(str(out), sheet, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f"wrote {out} {sheet.shape[1]}x{sheet.shape[0]}")


if __name__ == "__main__":
    main()
