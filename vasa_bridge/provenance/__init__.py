"""Responsible use: invisible watermark, visible label, content credentials (C2PA), verification.

Every frame that leaves `render` or `serve` goes through, in this order:

    frame = watermarker.embed(label(frame))   # label optional for serve; the mark is last

with one `Watermarker(WatermarkConfig(payload=new_session_payload()))` per session.
The modules load on first use (cv2 and scipy.fft are not needed to build the command line).
"""

_WHERE = {"label": "label", "GENERATOR_VASA_BRIDGE": "payload", "Payload": "payload",
          "new_session_payload": "payload", "Detection": "watermark", "Detector": "watermark",
          "WatermarkConfig": "watermark", "Watermarker": "watermark", "psnr": "watermark"}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        import importlib
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
