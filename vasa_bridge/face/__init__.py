"""Portrait analysis (mediapipe face mesh with irises, person segmentation) and the geometric
solver that turns face-mesh landmarks into ARKit blendshapes and head pose."""

from .detect import DetectedFace, detect_faces, segment_person
from .image import LoadedImage, decode_image, from_array, load_image
from .portrait import Portrait, PortraitConfig, analyse_portrait
from .solver import Reference, SolverConfig, calibrate, measure, solve

__all__ = ["DetectedFace", "detect_faces", "segment_person", "LoadedImage", "decode_image",
           "from_array", "load_image", "Portrait", "PortraitConfig", "analyse_portrait",
           "Reference", "SolverConfig", "calibrate", "measure", "solve"]
