"""The exported denoiser through ONNX Runtime (no torch): what `bake` and the runtime serve with.

Providers: CUDA when ONNX Runtime offers it and `device="cuda"`, else the CPU provider. A CUDA
request that falls back to CPU is logged once (ONNX Runtime itself falls back silently).
"""

from __future__ import annotations

import json
import logging
from importlib import resources
from pathlib import Path

import numpy as np

from ..errors import ModelError
from .conditions import Conditions
from .config import ModelConfig, check_sample_rate

log = logging.getLogger(__name__)

DEFAULT_MODEL = "model.onnx"


def default_model_path() -> Path:
    """The trained model shipped inside the package."""
    return Path(str(resources.files("vasa_bridge") / "assets" / "model" / DEFAULT_MODEL))


class OnnxDenoiser:
    """Callable as `denoise_cond(x, sigma_batch, conditions)` for `sampling.guided`."""

    def __init__(self, path=None, threads: int = 1, device: str = "cpu"):
        import onnxruntime as ort

        path = Path(path) if path is not None else default_model_path()
        if not path.is_file():
            raise ModelError(f"no model at {str(path)!r}: expected an .onnx file from "
                             f"`vasa-bridge export`")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.log_severity_level = 3
        providers = ["CPUExecutionProvider"]
        if device == "cuda":
            if "CUDAExecutionProvider" in ort.get_available_providers():
                providers.insert(0, "CUDAExecutionProvider")
            else:
                log.warning("CUDA asked for but ONNX Runtime has no CUDA provider: using CPU")
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=providers)
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
            raise ModelError(f"cannot load {str(path)!r} as an ONNX model: {exc}") from exc
        if device == "cuda" and self.session.get_providers()[0] != "CUDAExecutionProvider":
            log.warning("ONNX Runtime fell back to %s", self.session.get_providers()[0])
        meta = self.session.get_modelmeta().custom_metadata_map
        if "vasa_bridge.model_config" not in meta:
            raise ModelError(f"{str(path)!r} carries no vasa_bridge.model_config metadata: "
                             f"expected a model exported by `vasa-bridge export`")
        self.path = path
        self.metadata = meta
        self.config = ModelConfig.from_json(meta["vasa_bridge.model_config"])
        check_sample_rate(self.config, repr(str(path)))
        self.input_names = json.loads(meta["vasa_bridge.inputs"])

    def run(self, x, sigma, audio, context, emotion, gaze, intensity, keep) -> np.ndarray:
        feeds = dict(zip(self.input_names, (x, sigma, audio, context, emotion, gaze, intensity,
                                            keep)))
        feeds = {k: np.ascontiguousarray(v, np.int64 if k == "emotion" else np.float32)
                 for k, v in feeds.items()}
        return self.session.run(None, feeds)[0]

    def __call__(self, x, sigma, cond: Conditions) -> np.ndarray:
        return self.run(x, sigma, *cond.as_tuple())
