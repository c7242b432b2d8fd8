"""Audio in: file reading (`io`), live sources and their ring buffer (`sources`, `ringbuffer`),
and the motion model's features (`features`)."""

from .features import FeatureConfig, FeatureStream, extract, prepare_audio

__all__ = ["FeatureConfig", "FeatureStream", "extract", "prepare_audio"]
