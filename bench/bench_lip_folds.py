"""Triangles of the warp that turn over within one lip, per portrait and viseme: where a lip's
red shears into a sawtooth of lip and skin instead of moving as a band (docs/renderer.md, "The
red of a lip moves as one band").

A triangle counts when all its corners are points of one lip (its outer and inner rings, less
the corners, and the mesh points between them) and it turned over between the rest frame and
the viseme's (`warp.fold_triangles`). Runs against any tree (the portraits come from this
script's folder):

    python bench/bench_lip_folds.py [--portraits astronaut obama ...] [--visemes PP FF U aa]
    PYTHONPATH=OTHER_TREE python bench/bench_lip_folds.py     # e.g. a `git archive` of a commit
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from vasa_bridge.data.visemes import SHAPES
from vasa_bridge.face import mesh as M
from vasa_bridge.motion import MotionFrame
from vasa_bridge.render import cpu as C
from vasa_bridge.render import get_backend
from vasa_bridge.render.warp import fold_triangles

sys.path.insert(0, str(Path(__file__).resolve().parent))  # this script's portraits.py
from portraits import PORTRAITS, load  # noqa: E402

CORNERS = {61, 291, 78, 308}


def lip_points(rest: np.ndarray) -> tuple[set[int], set[int]]:
    """(upper, lower) mesh points of each lip at rest positions (478, 2): the rings less the
    corners, and the points inside the red (between the outer and the inner ring)."""
    upper = set(M.LIPS_OUTER_UPPER + M.LIPS_INNER_UPPER) - CORNERS
    lower = set(M.LIPS_OUTER_LOWER + M.LIPS_INNER_LOWER) - CORNERS
    rings = set(M.OUTER_MOUTH_RING) | set(M.INNER_MOUTH_RING)
    outer = rest[list(M.OUTER_MOUTH_RING)].astype(np.float32)
    inner = rest[list(M.INNER_MOUTH_RING)].astype(np.float32)
    upper_y = np.interp(rest[:, 0], *_sorted(rest, M.LIPS_INNER_UPPER))
    lower_y = np.interp(rest[:, 0], *_sorted(rest, M.LIPS_INNER_LOWER))
    for i in range(M.NUM_LANDMARKS):
        p = (float(rest[i, 0]), float(rest[i, 1]))
        if i in rings or cv2.pointPolygonTest(outer, p, False) < 0 \
                or cv2.pointPolygonTest(inner, p, False) >= 0:
            continue
        (upper if rest[i, 1] < 0.5 * (upper_y[i] + lower_y[i]) else lower).add(i)
    return upper, lower


def _sorted(points: np.ndarray, ring) -> tuple[np.ndarray, np.ndarray]:
    p = points[list(ring)]
    order = np.argsort(p[:, 0])
    return p[order, 0], p[order, 1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--portraits", nargs="+", default=list(PORTRAITS), choices=list(PORTRAITS))
    ap.add_argument("--visemes", nargs="+", default=["PP", "FF", "U", "O", "aa", "I"],
                    choices=list(SHAPES))
    args = ap.parse_args()
    backend = get_backend("cpu")
    print(f"{'portrait':16s}" + "".join(f"{v:>6s}" for v in args.visemes) + "   (lip triangles)")
    for name in args.portraits:
        prep = backend.prepare(load(name)).cache
        rest = prep.rest_uv[:, :2]
        upper, lower = lip_points(rest[:M.NUM_LANDMARKS])
        tri = prep.grid.triangles
        within = np.array([set(t) <= upper or set(t) <= lower for t in tri.tolist()])
        counts = []
        for viseme in args.visemes:
            uv = C.posed_points(prep, MotionFrame.from_named(SHAPES[viseme].targets))[0][:, :2]
            counts.append(len(fold_triangles(tri[within], rest, uv)))
        print(f"{name:16s}" + "".join(f"{c:6d}" for c in counts) + f"   ({int(within.sum())})")


if __name__ == "__main__":
    main()
