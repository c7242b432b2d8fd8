"""Build the canonical face (`assets/canonical_face.npy`) from one detected face.

mediapipe 0.10.21's wheel does not ship its canonical face model, so we make ours: the test
portrait's mesh (skimage's astronaut), frontalised and made mirror-symmetric (averaged with its
own mirror image, the left/right point pairs found by nearest neighbours). Only its rigid points
(`mesh.RIGID`) serve as the PnP model, so the subject's expression does not matter.

Regenerate with `python -m vasa_bridge.face.canonical` (needs scikit-image for the portrait).
"""

from __future__ import annotations

import numpy as np

from . import mesh as M


def _procrustes_rotation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rotation R (3, 3) minimising |a @ R - b| for centred (N, 3) point sets."""
    u, _, vt = np.linalg.svd(a.T @ b)
    d = np.sign(np.linalg.det(u @ vt))
    return u @ np.diag([1.0, 1.0, d]) @ vt


def mirror_pairs(points: np.ndarray) -> np.ndarray:
    """(478,) index of each point's mirror partner in a roughly frontal face-frame mesh."""
    mirrored = points * np.array([-1.0, 1.0, 1.0])
    d = np.linalg.norm(mirrored[:, None, :2] - points[None, :, :2], axis=-1)
    return d.argmin(axis=1)


def build_canonical(landmarks: np.ndarray, iterations: int = 4) -> np.ndarray:
    """(478, 3) pixel landmarks of a roughly frontal face -> (478, 3) symmetric frontal face in
    the face frame (origin between the eye centres, unit = interocular distance)."""
    p = M.to_points3d(landmarks)
    r, l = M.eye_centres(p)
    x = (l - r) / np.linalg.norm(l - r)
    up = p[M.FOREHEAD] - p[M.CHIN]
    y = up - x * (up @ x)
    y /= np.linalg.norm(y)
    z = np.cross(x, y)
    q = (p - (r + l) / 2) @ np.stack([x, y, z], axis=1) / np.linalg.norm(l - r)
    pairs = mirror_pairs(q)
    flip = np.array([-1.0, 1.0, 1.0])
    for _ in range(iterations):
        sym = (q + (q * flip)[pairs]) / 2
        c = q.mean(0)
        q = (q - c) @ _procrustes_rotation(q - c, sym - sym.mean(0)) + sym.mean(0)
    q = (q + (q * flip)[pairs]) / 2
    r, l = M.eye_centres(q)
    return (q - (r + l) / 2) / np.linalg.norm(l - r)


def main() -> None:  # pragma: no cover - a one-off asset build
    import skimage.data

    from .detect import detect_faces
    from .solver import ASSETS

    faces = detect_faces(skimage.data.astronaut())
    canonical = build_canonical(faces[0].landmarks).astype(np.float32)
    ASSETS.mkdir(exist_ok=True)
    np.save(ASSETS / "canonical_face.npy", canonical)
    pairs = mirror_pairs(canonical)
    mutual = float(np.mean(pairs[pairs] == np.arange(len(pairs))))
    print(f"wrote {ASSETS / 'canonical_face.npy'}: {canonical.shape}, mutual mirror pairs "
          f"{mutual:.1%}")


if __name__ == "__main__":
    main()
