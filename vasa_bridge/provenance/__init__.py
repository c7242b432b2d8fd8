"""Responsible use: invisible watermark, visible label, content credentials (C2PA), verification.

Every frame that leaves `render` or `serve` goes through, in this order:

    frame = watermarker.embed(label(frame))   # label optional for serve; the mark is last

with one `Watermarker(WatermarkConfig(payload=new_session_payload()))` per session.
"""

from .label import label
from .payload import GENERATOR_VASA_BRIDGE, Payload, new_session_payload
from .watermark import Detection, Detector, WatermarkConfig, Watermarker, psnr

__all__ = ["GENERATOR_VASA_BRIDGE", "Detection", "Detector", "Payload", "WatermarkConfig",
           "Watermarker", "label", "new_session_payload", "psnr"]
