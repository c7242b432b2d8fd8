"""Audio in: file reading (`io`) and the motion model's features (`features`)."""

from .features import FeatureConfig, FeatureStream, extract, prepare_audio

__all__ = ["FeatureConfig", "FeatureStream", "extract", "prepare_audio"]
