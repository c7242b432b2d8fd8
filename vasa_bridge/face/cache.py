"""Portrait analysis kept on disk, keyed by the photo's pixels: a second start with the same
photo skips mediapipe entirely (its import and graphs cost most of a cold start).

The key hashes the decoded pixels (and alpha), every `PortraitConfig` field, the installed
mediapipe version and `CACHE_VERSION`; bump `CACHE_VERSION` whenever `analyse_portrait` or
`Portrait` changes what they produce. Entries are plain `.npz` files (no pickle), written
atomically; an unreadable or foreign entry is analysed again and overwritten.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import tempfile
from pathlib import Path

import numpy as np

from ..motion.io import read_npz
from .image import LoadedImage, from_array, load_image
from .portrait import Portrait, PortraitConfig, analyse_portrait
from .solver import Measurements

log = logging.getLogger("vasa_bridge.face")

# what analyse_portrait produces; bump when it changes (2: mouth_open; 3: rest_lip_gap)
CACHE_VERSION = 3


def default_cache_dir(environ=os.environ) -> Path:
    """$XDG_CACHE_HOME/vasa-bridge/portraits (~/.cache/vasa-bridge/portraits by default)."""
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "vasa-bridge" / "portraits"


def _mediapipe_version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("mediapipe")
    except PackageNotFoundError:
        return "none"


def cache_key(loaded: LoadedImage, config: PortraitConfig) -> str:
    h = hashlib.blake2b(digest_size=20)
    h.update(f"v{CACHE_VERSION} mediapipe {_mediapipe_version()} ".encode())
    h.update(repr(sorted(dataclasses.asdict(config).items())).encode())
    for a in (loaded.rgb, loaded.alpha):
        if a is not None:
            h.update(repr(a.shape).encode())
            h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _to_arrays(p: Portrait) -> dict[str, np.ndarray]:
    out = {"version": np.array(CACHE_VERSION), "image": p.image, "person_alpha": p.person_alpha,
           "landmarks": p.landmarks, "crop_box": np.array(p.crop_box),
           "num_faces": np.array(p.num_faces), "eyes_closed": np.array(p.eyes_closed),
           "mouth_open": np.array(p.mouth_open),
           # (not "rest_lip_gap": "rest_" + a field name holds `p.rest`'s Measurements)
           "lip_gap_share": np.array(np.nan if p.rest_lip_gap is None else p.rest_lip_gap),
           "warnings": np.array(p.warnings, dtype=str).reshape(-1)}
    for f in dataclasses.fields(Measurements):
        out["rest_" + f.name] = np.asarray(getattr(p.rest, f.name))
    return out


def _check_entry(z) -> None:
    """The arrays a Portrait's users index without checking: a damaged entry is refused here
    (ValueError: analysed again) rather than failing inside the renderer."""
    image, alpha, marks = z["image"], z["person_alpha"], z["landmarks"]
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or min(image.shape) < 1:
        raise ValueError(f"image {image.dtype} {image.shape}: expected (H, W, 3) uint8")
    if alpha.shape != image.shape[:2] or alpha.dtype.kind != "f" or not np.isfinite(alpha).all():
        raise ValueError(f"person_alpha {alpha.dtype} {alpha.shape}: expected finite (H, W)")
    if marks.ndim != 2 or marks.shape[1] != 3 or marks.dtype.kind != "f" \
            or not np.isfinite(marks).all():
        raise ValueError(f"landmarks {marks.dtype} {marks.shape}: expected finite (N, 3)")
    if z["crop_box"].shape != (4,):
        raise ValueError(f"crop_box {z['crop_box'].shape}: expected 4 numbers")


def _from_arrays(z) -> Portrait:
    if int(z["version"]) != CACHE_VERSION:
        raise ValueError(f"cache version {int(z['version'])}: expected {CACHE_VERSION}")
    rest = {}
    for f in dataclasses.fields(Measurements):
        v = z["rest_" + f.name]
        rest[f.name] = float(v) if v.ndim == 0 else v
    _check_entry(z)
    return Portrait(image=z["image"], person_alpha=z["person_alpha"], landmarks=z["landmarks"],
                    rest=Measurements(**rest), crop_box=tuple(int(v) for v in z["crop_box"]),
                    num_faces=int(z["num_faces"]), eyes_closed=bool(z["eyes_closed"]),
                    mouth_open=bool(z["mouth_open"]),
                    warnings=tuple(str(w) for w in z["warnings"]),
                    rest_lip_gap=None if np.isnan(gap := float(z["lip_gap_share"])) else gap)


class PortraitCache:
    """`analyse(image, config)`: `analyse_portrait` through the disk cache in `folder`."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.hits = self.misses = 0

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.npz"

    def load(self, key: str) -> Portrait | None:
        path = self.path(key)
        if not path.is_file():
            return None
        try:  # sizes checked before reading: a damaged entry cannot claim terabytes
            return _from_arrays(read_npz(path))
        except (OSError, ValueError, KeyError, TypeError, IndexError) as e:
            log.warning("portrait cache entry %s is unreadable (%s): analysing again", path, e)
            return None

    def save(self, key: str, portrait: Portrait) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **_to_arrays(portrait))
            os.replace(tmp, self.path(key))
        except OSError as e:  # a read-only or full disk costs speed, not the start
            log.warning("cannot write the portrait cache in %s (%s): the next start analyses "
                        "the photo again", self.folder, e)

    def analyse(self, image: str | Path | np.ndarray | LoadedImage,
                config: PortraitConfig = PortraitConfig(), quiet: bool = False) -> Portrait:
        """`quiet`: the warnings in `Portrait.warnings` only, as `analyse_portrait`'s."""
        if isinstance(image, LoadedImage):
            loaded = image
        elif isinstance(image, np.ndarray):
            loaded = from_array(image)
        else:
            loaded = load_image(image)
        key = cache_key(loaded, config)
        portrait = self.load(key)
        if portrait is not None:
            self.hits += 1
            for msg in () if quiet else portrait.warnings:  # as a fresh analysis says them
                log.warning("%s: %s", loaded.source, msg)
            return portrait
        self.misses += 1
        portrait = analyse_portrait(loaded, config, quiet=quiet)
        self.save(key, portrait)
        return portrait
