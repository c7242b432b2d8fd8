"""Cut the extra test portraits from the registry packages that ship them.

    pip download --no-deps --no-binary :all: face_recognition==1.3.0 exifmwg==0.7.0
    apt-get download gramps=5.1.5-1          # Debian 12 (bookworm)
    python bench/make_portrait_fixtures.py face_recognition-1.3.0.tar.gz \\
        exifmwg-0.7.0.tar.gz gramps_5.1.5-1_all.deb

Each is a head-and-shoulders crop (4 face heights, the same centring as `face.portrait`),
512 pixels a side (larger crops are reduced, smaller ones enlarged), JPEG quality 90, written to
tests/fixtures/portraits/. Which photo each one is, and why it is in the public domain:
tests/fixtures/portraits/README.md. Only the packages named on the command line are cut.
"""

from __future__ import annotations

import io
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from vasa_bridge.face.detect import detect_faces  # noqa: E402

# name -> (package file, member path inside it, region (x0, y0, side) of the source to find the
# largest face in (None: the whole photo)[, crop side in face heights when not SIDE_FACES]).
SOURCES = {
    "obama": ("face_recognition-1.3.0.tar.gz",
              "face_recognition-1.3.0/tests/test_images/obama.jpg", None),
    "biden": ("face_recognition-1.3.0.tar.gz",
              "face_recognition-1.3.0/tests/test_images/biden.jpg", None),
    "obama_standing": ("face_recognition-1.3.0.tar.gz",
                       "face_recognition-1.3.0/tests/test_images/obama3.jpg", None),
    "obama_desk": ("exifmwg-0.7.0.tar.gz", "exifmwg-0.7.0/tests/samples/images/sample2.jpg",
                   None),
    # The Situation Room, 1 May 2011: faces of 70-80 source pixels, found in a region each.
    "donilon": ("exifmwg-0.7.0.tar.gz", "exifmwg-0.7.0/tests/samples/images/sample3.jpg",
                (850, 60, 200)),
    # Tight (2.4 face heights): James Clapper stands right behind him, cut by the photo's edge.
    "brennan": ("exifmwg-0.7.0.tar.gz", "exifmwg-0.7.0/tests/samples/images/sample3.jpg",
                (1310, 40, 190), 2.4),
    "dahlgren": ("gramps_5.1.5-1_all.deb",
                 "./usr/share/doc/gramps/example/gramps/E_W_Dahlgren.jpg", None),
}
SIDE_FACES = 4.0  # crop side in face heights
OUT_SIDE = 512


def read_member(package: Path, member: str) -> bytes:
    """One file from an sdist (.tar.gz) or a Debian package (.deb: an ar archive whose
    data.tar.* holds the files)."""
    if package.suffix != ".deb":
        with tarfile.open(package) as tar:
            return tar.extractfile(member).read()
    blob = package.read_bytes()
    if not blob.startswith(b"!<arch>\n"):
        raise ValueError(f"{package} is not a Debian package (no ar header)")
    pos = 8
    while pos + 60 <= len(blob):
        name = blob[pos:pos + 16].decode().strip().rstrip("/")
        size = int(blob[pos + 48:pos + 58].decode().strip())
        body = blob[pos + 60:pos + 60 + size]
        if name.startswith("data.tar"):
            with tarfile.open(fileobj=io.BytesIO(body)) as tar:
                return tar.extractfile(member).read()
        pos += 60 + size + (size & 1)
    raise ValueError(f"{package} has no data.tar member")


def find_face(bgr: np.ndarray, region) -> tuple[float, float, float]:
    """(centre u, centre v, face height) in source pixels of the largest face (in `region`,
    enlarged to 512 pixels for the detector, when given)."""
    if region is None:
        x0, y0, scale = 0, 0, 1.0
        img = bgr
    else:
        x0, y0, side = region
        scale = 512 / side
        img = cv2.resize(bgr[y0:y0 + side, x0:x0 + side], (512, 512),
                         interpolation=cv2.INTER_CUBIC)
    faces = detect_faces(np.ascontiguousarray(img[..., ::-1]), max_faces=4)
    if not faces:
        raise ValueError(f"no face found in region {region}")
    face = max(faces, key=lambda f: (f.bbox[2] - f.bbox[0]) * (f.bbox[3] - f.bbox[1]))
    u0, v0, u1, v1 = face.bbox
    fh = max(v1 - v0, u1 - u0) / scale
    return x0 + (u0 + u1) / 2 / scale, y0 + (v0 + v1) / 2 / scale, fh


def main() -> None:
    packages = {Path(p).name: Path(p) for p in sys.argv[1:]}
    if not packages:
        raise SystemExit(__doc__)
    out = ROOT / "tests" / "fixtures" / "portraits"
    out.mkdir(parents=True, exist_ok=True)
    for name, (package, member, region, *side_faces) in SOURCES.items():
        if package not in packages:
            continue
        data = read_member(packages[package], member)
        bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        h, w = bgr.shape[:2]
        cx, cy, fh = find_face(bgr, region)
        side = int(min((side_faces[0] if side_faces else SIDE_FACES) * fh, w, h))
        cy += 0.45 * fh
        x0 = int(min(max(cx - side / 2, 0), w - side))
        y0 = int(min(max(cy - side / 2, 0), h - side))
        crop = bgr[y0:y0 + side, x0:x0 + side]
        if side != OUT_SIDE:
            crop = cv2.resize(crop, (OUT_SIDE, OUT_SIDE), interpolation=(
                cv2.INTER_AREA if side > OUT_SIDE else cv2.INTER_CUBIC))
        path = out / f"{name}.jpg"
        cv2.imwrite(str(path), crop, [cv2.IMWRITE_JPEG_QUALITY, 90])
        print(f"{path.name}: {member.rsplit('/', 1)[-1]} crop x{x0} y{y0} side {side} -> "
              f"{crop.shape[1]} px, {path.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
