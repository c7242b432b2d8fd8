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


EXPECTED = "expected a model exported by `vasa-bridge export`"


def _config(path: Path, text: str) -> ModelConfig:
    """The model config from the export's metadata, refused as a whole when it does not parse."""
    try:
        doc = json.loads(text)
        if not isinstance(doc, dict):
            raise TypeError(f"a JSON {type(doc).__name__}, not an object")
        return ModelConfig.from_dict(doc)
    except ModelError as e:
        raise ModelError(f"{str(path)!r}: its model config is inconsistent ({e}): "
                         f"{EXPECTED}") from None
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError,
            RecursionError) as e:
        raise ModelError(f"{str(path)!r}: its model config metadata is unreadable "
                         f"({type(e).__name__}: {str(e)[:200]}): {EXPECTED}") from None


def _input_names(path: Path, text: str, session) -> list[str]:
    """The metadata's input order (what `run` feeds), which must name the graph's inputs."""
    graph = sorted(i.name for i in session.get_inputs())
    try:
        names = json.loads(text)
    except (ValueError, RecursionError):
        names = None
    if not isinstance(names, list) or sorted(map(str, names)) != graph or len(names) != 8:
        raise ModelError(f"{str(path)!r}: its input list metadata is {text[:120]!r}: expected "
                         f"the 8 graph inputs {graph} in the order x, sigma, audio, context, "
                         f"emotion, gaze, intensity, keep")
    return names


def _check_shapes(path: Path, config: ModelConfig, session) -> None:
    """Fixed sizes of the graph's inputs must be those the config implies, or the first window
    would fail inside ONNX Runtime instead of here."""
    want = {"x": {2: config.motion_dim}, "audio": {2: config.audio_dim},
            "context": {1: config.context, 2: config.motion_dim}}
    for node in session.get_inputs():
        for axis, size in want.get(node.name, {}).items():
            got = node.shape[axis] if len(node.shape) > axis else None
            if isinstance(got, int) and got != size:
                raise ModelError(f"{str(path)!r}: input {node.name!r} has size {got} on axis "
                                 f"{axis} but its model config implies {size}: {EXPECTED} "
                                 f"(graph and config from one run)")


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
            reason = " ".join(str(exc).split())[:300]  # one line
            raise ModelError(f"cannot load {str(path)!r} as an ONNX model ({reason}): "
                             f"{EXPECTED}") from exc
        if device == "cuda" and self.session.get_providers()[0] != "CUDAExecutionProvider":
            log.warning("ONNX Runtime fell back to %s", self.session.get_providers()[0])
        meta = self.session.get_modelmeta().custom_metadata_map
        for key in ("vasa_bridge.model_config", "vasa_bridge.inputs"):
            if key not in meta:
                raise ModelError(f"{str(path)!r} carries no {key} metadata: expected a model "
                                 f"exported by `vasa-bridge export`")
        self.path = path
        self.metadata = meta
        self.config = _config(path, meta["vasa_bridge.model_config"])
        check_sample_rate(self.config, repr(str(path)))
        self.input_names = _input_names(path, meta["vasa_bridge.inputs"], self.session)
        _check_shapes(path, self.config, self.session)

    def run(self, x, sigma, audio, context, emotion, gaze, intensity, keep) -> np.ndarray:
        feeds = dict(zip(self.input_names, (x, sigma, audio, context, emotion, gaze, intensity,
                                            keep)))
        feeds = {k: np.ascontiguousarray(v, np.int64 if k == "emotion" else np.float32)
                 for k, v in feeds.items()}
        return self.session.run(None, feeds)[0]

    def __call__(self, x, sigma, cond: Conditions) -> np.ndarray:
        return self.run(x, sigma, *cond.as_tuple())
