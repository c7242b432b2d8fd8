"""Audio in: the contract between stages (`pcm`: one sample rate, s16 <-> float), file reading
(`io`), live sources and their ring buffer (`sources`, `ringbuffer`), and the motion model's
features (`features`)."""

from .features import FeatureConfig, FeatureStream, extract, prepare_audio
from .pcm import SAMPLE_RATE, from_s16, to_s16

__all__ = ["FeatureConfig", "FeatureStream", "SAMPLE_RATE", "extract", "from_s16",
           "prepare_audio", "to_s16"]
