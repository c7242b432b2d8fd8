"""The portraits the renderer is checked on: the built-in astronaut (scikit-image) and public-
domain photographs cut from registry packages (tests/fixtures/portraits/README.md).

    from bench.portraits import PORTRAITS, load
    rgb = load("biden")                      # (H, W, 3) uint8 RGB
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "portraits"

# name -> what it brings to the set
PORTRAITS = {
    "astronaut": "scikit-image's astronaut: smiling, upper teeth showing at rest, lit from the left",
    "obama": "darker skin, broad smile with both rows of teeth at rest",
    "biden": "older face, closed mouth at rest, slight turn and head tilt",
    "obama_standing": "darker skin, closed mouth at rest, soft (upscaled) crop",
    "obama_desk": "darker skin, head bowed and turned over a desk, eyes looking down, closed mouth",
    "donilon": "older face, closed mouth, slight turn, small face in a group photo (soft)",
    "brennan": "glasses (thin rims), older face, closed mouth, slight turn; a ~80-pixel face "
               "enlarged (soft), James Clapper's face beside it",
    "dahlgren": "beard and moustache, older face, slight turn; an old sepia print (grain, low contrast)",
}


def load(name: str) -> np.ndarray:
    """(H, W, 3) uint8 RGB of one of `PORTRAITS`."""
    if name not in PORTRAITS:
        raise ValueError(f"unknown portrait {name!r}: expected one of {sorted(PORTRAITS)}")
    if name == "astronaut":
        import skimage.data

        return skimage.data.astronaut()
    bgr = cv2.imread(str(FIXTURES / f"{name}.jpg"), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(f"{FIXTURES / (name + '.jpg')} is missing: run "
                                f"bench/make_portrait_fixtures.py")
    return np.ascontiguousarray(bgr[..., ::-1])
