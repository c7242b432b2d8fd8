"""Cut the extra test portraits from face_recognition 1.3.0's source distribution (PyPI).

    pip download --no-deps --no-binary :all: face_recognition==1.3.0
    python bench/make_portrait_fixtures.py face_recognition-1.3.0.tar.gz

Each is a head-and-shoulders crop (4 face heights, the same centring as `face.portrait`),
at most 512 pixels a side, JPEG quality 90, written to tests/fixtures/portraits/. The photos are
official White House photographs (works of the US federal government: public domain); see
tests/fixtures/portraits/README.md.
"""

from __future__ import annotations

import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from vasa_bridge.face.detect import detect_faces  # noqa: E402

SOURCES = {"obama": "obama.jpg", "biden": "biden.jpg", "obama_standing": "obama3.jpg"}
SIDE_FACES = 4.0  # crop side in face heights
MAX_SIDE = 512


def main() -> None:
    sdist = Path(sys.argv[1])
    out = ROOT / "tests" / "fixtures" / "portraits"
    out.mkdir(parents=True, exist_ok=True)
    with tarfile.open(sdist) as tar:
        for name, member in SOURCES.items():
            f = tar.extractfile(f"face_recognition-1.3.0/tests/test_images/{member}")
            bgr = cv2.imdecode(np.frombuffer(f.read(), np.uint8), cv2.IMREAD_COLOR)
            h, w = bgr.shape[:2]
            face = detect_faces(np.ascontiguousarray(bgr[..., ::-1]), max_faces=1)[0]
            u0, v0, u1, v1 = face.bbox
            fh = max(v1 - v0, u1 - u0)
            side = int(min(SIDE_FACES * fh, w, h))
            cx, cy = (u0 + u1) / 2, (v0 + v1) / 2 + 0.45 * fh
            x0 = int(min(max(cx - side / 2, 0), w - side))
            y0 = int(min(max(cy - side / 2, 0), h - side))
            crop = bgr[y0:y0 + side, x0:x0 + side]
            if side > MAX_SIDE:
                crop = cv2.resize(crop, (MAX_SIDE, MAX_SIDE), interpolation=cv2.INTER_AREA)
            path = out / f"{name}.jpg"
            cv2.imwrite(str(path), crop, [cv2.IMWRITE_JPEG_QUALITY, 90])
            print(f"{path.name}: {member} crop x{x0} y{y0} side {side} -> {crop.shape[1]} px, "
                  f"{path.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
