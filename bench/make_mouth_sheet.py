"""Mouth sheet -> docs/mouth_sheet.png: every test portrait x (jawOpen 0.2 / 0.4 / 0.6 / 0.8 and
the visemes PP, FF, OO, AA, EE), the mouth at 3x zoom, the renderer of a git ref (default main)
above this tree's.

    python bench/make_mouth_sheet.py [--ref main] [--out docs/mouth_sheet.png]

The old renderer runs from `git archive REF vasa_bridge` in a subprocess (`--tiles-only`), so no
old code path is kept in the package.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__" and "--tiles-only" not in sys.argv:
    sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

# Visemes: the shapes of the data teacher (`data.visemes.SHAPES`), named as the issue does.
VISEME_NAMES = {"PP": "PP", "FF": "FF", "OO": "U", "AA": "aa", "EE": "I"}
COLUMNS = [f"jawOpen {v}" for v in (0.2, 0.4, 0.6, 0.8)] + list(VISEME_NAMES)
ZOOM = 3.0
CROP_IOD = (1.5, 1.05)  # width, height of the mouth crop in interocular distances
TILE = (int(round(CROP_IOD[0] * 64 * ZOOM)), int(round(CROP_IOD[1] * 64 * ZOOM)))


def frames():
    from vasa_bridge.data.visemes import SHAPES
    from vasa_bridge.motion import MotionFrame

    out = [MotionFrame.from_named({"jawOpen": v}) for v in (0.2, 0.4, 0.6, 0.8)]
    for name in VISEME_NAMES.values():
        out.append(MotionFrame.from_named(dict(SHAPES[name].targets)))
    return out


def tiles(names: list[str]) -> np.ndarray:
    """(P, C, th, tw, 3) uint8 RGB mouth crops rendered by the `vasa_bridge` on sys.path."""
    from bench.portraits import load
    from vasa_bridge.face import mesh as M
    from vasa_bridge.render import get_backend

    backend = get_backend("cpu")
    fs = frames()
    out = np.zeros((len(names), len(fs), TILE[1], TILE[0], 3), np.uint8)
    for p, name in enumerate(names):
        state = backend.prepare(load(name))
        lm = state.portrait.landmarks
        iod = float(np.linalg.norm(lm[list(M.RIGHT_IRIS)[0], :2] - lm[list(M.LEFT_IRIS)[0], :2]))
        c = lm[list(M.OUTER_MOUTH_RING), :2].mean(0) + [0, 0.12 * iod]
        w, h = CROP_IOD[0] * iod, CROP_IOD[1] * iod
        # An affine crop (sub-pixel, border-replicated): same window for old and new.
        s = TILE[0] / w
        a = np.array([[s, 0, TILE[0] / 2 - s * c[0]], [0, s, TILE[1] / 2 - s * c[1]]])
        for k, f in enumerate(fs):
            img = backend.render(state, f)
            out[p, k] = cv2.warpAffine(img, a, TILE, flags=cv2.INTER_CUBIC,
                                       borderMode=cv2.BORDER_REPLICATE)
    return out


def old_tiles(ref: str, names: list[str]) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        tar = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "vasa_bridge"],
                             check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=tar, check=True)
        npz = Path(tmp) / "tiles.npy"
        env_path = f"{tmp}:{ROOT}"  # the old package first; bench.portraits from this tree
        subprocess.run([sys.executable, str(Path(__file__).resolve()), "--tiles-only", str(npz),
                        "--portraits", *names], check=True,
                       env={**__import__("os").environ, "PYTHONPATH": env_path})
        return np.load(npz)


def label(img: np.ndarray, text: str, scale: float = 0.5) -> None:
    cv2.putText(img, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)


def sheet(old: np.ndarray, new: np.ndarray, names: list[str], ref: str) -> np.ndarray:
    head_w = 150
    bar = np.full((24, head_w + TILE[0] * len(COLUMNS), 3), 255, np.uint8)
    for k, col in enumerate(COLUMNS):
        cv2.putText(bar, col, (head_w + k * TILE[0] + 6, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.55,
                    (0, 0, 0), 1, cv2.LINE_AA)
    rows = [bar]
    for p, name in enumerate(names):
        for which, t in ((ref, old), ("this branch", new)):
            head = np.full((TILE[1], head_w, 3), 235, np.uint8)
            cv2.putText(head, name, (6, TILE[1] // 2 - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                        (0, 0, 0), 1, cv2.LINE_AA)
            cv2.putText(head, which, (6, TILE[1] // 2 + 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                        (60, 60, 60), 1, cv2.LINE_AA)
            row = np.hstack([head] + [x[..., ::-1] for x in t[p]])
            rows.append(row)
        rows.append(np.full((6, rows[-1].shape[1], 3), 255, np.uint8))
    return np.vstack(rows)


def main() -> None:
    from bench.portraits import PORTRAITS

    ap = argparse.ArgumentParser()
    ap.add_argument("--ref", default="main")
    ap.add_argument("--out", default=str(ROOT / "docs" / "mouth_sheet.png"))
    ap.add_argument("--portraits", nargs="+", default=list(PORTRAITS))
    ap.add_argument("--tiles-only", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.tiles_only:
        np.save(args.tiles_only, tiles(args.portraits))
        return
    new = tiles(args.portraits)
    old = old_tiles(args.ref, args.portraits)
    img = sheet(old, new, args.portraits, args.ref)
    cv2.imwrite(args.out, img, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f"wrote {args.out} {img.shape[1]}x{img.shape[0]}")


if __name__ == "__main__":
    main()
