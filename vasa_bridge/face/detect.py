"""mediapipe 0.10.21 wrappers: the 478-point face mesh (with irises) and selfie segmentation.

The models ship inside the mediapipe wheel; nothing is downloaded. Graphs are built once per
process and mode and reused (building one costs ~10 ms, its first frame ~80 ms).
"""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass

import numpy as np

from ..native_log import quiet_native
from .mesh import NUM_LANDMARKS

os.environ.setdefault("GLOG_minloglevel", "2")  # mediapipe's C++ start-up chatter

_lock = threading.Lock()
_meshes: dict[tuple[bool, int], object] = {}
_segmenters: dict[int, object] = {}
_ran: set = set()  # graphs past their first frame (TensorFlow Lite and absl talk until then)


def _quiet_until_run(key):
    """Native chatter held back from building a graph to the end of its first frame: one span,
    since the graph's own threads log while it starts."""
    return contextlib.nullcontext() if key in _ran else quiet_native()


@dataclass(frozen=True)
class DetectedFace:
    landmarks: np.ndarray  # (478, 3) pixels: u right, v down, depth (towards camera < 0), pixels

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """(u0, v0, u1, v1) of the surface landmarks."""
        p = self.landmarks
        return (float(p[:, 0].min()), float(p[:, 1].min()), float(p[:, 0].max()),
                float(p[:, 1].max()))

    @property
    def width(self) -> float:
        u0, _, u1, _ = self.bbox
        return u1 - u0

    @property
    def area(self) -> float:
        u0, v0, u1, v1 = self.bbox
        return (u1 - u0) * (v1 - v0)


def _face_mesh(static: bool, max_faces: int):
    key = (static, max_faces)
    with _lock:
        if key not in _meshes:
            import mediapipe as mp
            _meshes[key] = mp.solutions.face_mesh.FaceMesh(
                static_image_mode=static, max_num_faces=max_faces, refine_landmarks=True,
                min_detection_confidence=0.5, min_tracking_confidence=0.5)
        return _meshes[key]


def detect_faces(rgb: np.ndarray, *, max_faces: int = 4, static: bool = True) -> list[DetectedFace]:
    """All faces in an (H, W, 3) uint8 RGB image, largest first.

    `static=False` runs mediapipe in video mode (tracking between calls): use it for consecutive
    frames of one video, from one thread.
    """
    h, w = rgb.shape[:2]
    key = ("mesh", static, max_faces)
    with _quiet_until_run(key):
        mesh = _face_mesh(static, max_faces)
        with _lock:
            result = mesh.process(np.ascontiguousarray(rgb))
        _ran.add(key)
    faces = []
    for lm in result.multi_face_landmarks or ():
        a = np.array([(p.x * w, p.y * h, p.z * w) for p in lm.landmark], np.float64)
        if a.shape != (NUM_LANDMARKS, 3):  # refine_landmarks=True always gives 478
            continue
        faces.append(DetectedFace(a))
    faces.sort(key=lambda f: -f.area)
    return faces


def segment_person(rgb: np.ndarray) -> np.ndarray:
    """Soft person mask (H, W) float32 in [0, 1] from mediapipe's selfie segmentation (general
    model, 256x256 input, upsampled by mediapipe)."""
    with _quiet_until_run("segment"), _lock:
        if 0 not in _segmenters:
            import mediapipe as mp
            _segmenters[0] = mp.solutions.selfie_segmentation.SelfieSegmentation(
                model_selection=0)
        mask = _segmenters[0].process(np.ascontiguousarray(rgb)).segmentation_mask
        _ran.add("segment")
    return np.clip(np.asarray(mask, np.float32), 0.0, 1.0)
