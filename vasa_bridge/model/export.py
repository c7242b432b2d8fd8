"""`vasa-bridge export RUN -o model.onnx`: the denoiser step D(x, sigma, conditions) to ONNX.

The graph is one preconditioned denoiser evaluation (EDM); the sampler loop, guidance and window
state run in numpy around it (`sampling.py`, `streaming.py`). Batch and window length are dynamic.
The model config travels as metadata (`vasa_bridge.model_config`, JSON), so the .onnx file alone
rebuilds everything (`onnx_runtime.OnnxDenoiser`).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from .. import __version__
from ..errors import ModelError
from .denoiser import Denoiser
from .streaming import make_conditions, Steering
from .train import load_checkpoint

INPUTS = ("x", "sigma", "audio", "context", "emotion", "gaze", "intensity", "keep")
OPSET = 17


def example_inputs(den: Denoiser, batch: int = 2, window: int = 5) -> tuple:
    c = den.config
    rng = np.random.default_rng(0)
    audio = rng.standard_normal((batch, c.context + window + c.lookahead, c.audio_dim))
    context = rng.standard_normal((batch, c.context, c.motion_dim))
    cond = make_conditions(c, audio.astype(np.float32), context.astype(np.float32),
                           Steering(emotion="happy", gaze=(0.1, -0.2), intensity=1.0), True)
    x = rng.standard_normal((batch, window, c.motion_dim)).astype(np.float32)
    sigma = np.full((batch,), 0.7, np.float32)
    return (x, sigma) + cond.as_tuple()


def export_onnx(den: Denoiser, path, extra_metadata: dict | None = None) -> Path:
    """Write the denoiser step graph with the config inside; returns the path."""
    import onnx

    path = Path(path)
    den = den.eval()
    args = tuple(torch.from_numpy(a) for a in example_inputs(den))
    dyn = {"x": {0: "batch", 1: "window"}, "sigma": {0: "batch"},
           "audio": {0: "batch", 1: "tokens"}, "context": {0: "batch"}, "emotion": {0: "batch"},
           "gaze": {0: "batch"}, "intensity": {0: "batch"}, "keep": {0: "batch"},
           "motion": {0: "batch", 1: "window"}}
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(den, args, str(path), input_names=list(INPUTS),
                          output_names=["motion"], dynamic_axes=dyn, opset_version=OPSET,
                          dynamo=False)
    model = onnx.load(str(path))
    meta = {"vasa_bridge.model_config": den.config.to_json(),
            "vasa_bridge.version": __version__,
            "vasa_bridge.inputs": json.dumps(list(INPUTS)),
            **{k: (v if isinstance(v, str) else json.dumps(v))
               for k, v in (extra_metadata or {}).items()}}
    for k, v in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def export_run(run, out, tolerance: float = 1e-3, seal_bias: float | None = None) -> dict:
    """Checkpoint (EMA weights) -> ONNX, then check ONNX Runtime against torch on random inputs.

    `seal_bias` (None: the run's) sets how readily the lip-seal head closes the lips: a setting
    chosen after training on held-out clips, not learned, so it is set at export."""
    den, ck = load_checkpoint(run)
    if seal_bias is not None:
        if not den.config.seal:
            raise ModelError(f"seal_bias {seal_bias}: expected a run with a seal head")
        den.config = replace(den.config, seal_bias=float(seal_bias))
        den.net.config = den.config
    extra = {"vasa_bridge.train_step": ck.get("step", 0),
             "vasa_bridge.history": ck.get("history", [])[-1:] }
    path = export_onnx(den, out, extra)
    err = compare(den, path)
    if err > tolerance:
        raise ModelError(f"ONNX output differs from torch by {err:.2e}: expected <= "
                         f"{tolerance:.0e}")
    return {"path": str(path), "bytes": path.stat().st_size, "max_abs_diff": err,
            "step": ck.get("step", 0)}


def compare(den: Denoiser, path, batch: int = 3, window: int = 7) -> float:
    """Max absolute difference between torch and ONNX Runtime on random inputs."""
    from .onnx_runtime import OnnxDenoiser
    ort = OnnxDenoiser(path)
    inputs = example_inputs(den, batch, window)
    with torch.no_grad():
        ref = den(*(torch.from_numpy(a) for a in inputs)).numpy()
    got = ort.run(*inputs)
    return float(np.abs(ref - got).max())


def denoiser_from_onnx(path=None) -> Denoiser:
    """The torch denoiser whose weights an exported .onnx file carries (None: the shipped model),
    so `train --init model.onnx` can fine-tune a model whose run folder is gone.

    The exporter folds and renames some tensors (linear weights become transposed MatMul
    constants, slices of small parameters become constants of their own), so each parameter is
    found by exporting a copy of the same architecture with distinct random weights and matching
    that copy's initializers by value; the result is checked against the file's own outputs."""
    import tempfile

    import onnx
    from onnx import numpy_helper

    from .config import ModelConfig
    from .onnx_runtime import OnnxDenoiser, default_model_path
    from .train import build

    path = Path(path) if path is not None else default_model_path()
    ship = OnnxDenoiser(path)
    theirs = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(path)).graph.initializer}
    with torch.random.fork_rng(devices=[]):  # seeded probe; the caller's global RNG untouched
        torch.manual_seed(0)
        probe = build(ModelConfig.from_dict(ship.config.as_dict())).eval()
        with torch.no_grad():
            for prm in probe.parameters():
                prm.copy_(torch.randn_like(prm) * 0.05)
    with tempfile.TemporaryDirectory() as tmp:
        export_onnx(probe, Path(tmp) / "probe.onnx")
        mine = {i.name: numpy_helper.to_array(i)
                for i in onnx.load(str(Path(tmp) / "probe.onnx")).graph.initializer}

    def lookup(value: np.ndarray) -> np.ndarray:
        """The file's tensor at the place where the probe holds `value` (as is or transposed)."""
        for v, back in ((value, lambda a: a), (value.T, lambda a: a.T)):
            hits = [n for n, a in mine.items() if a.size == v.size and
                    np.array_equal(a.ravel(), v.ravel())]
            if len(hits) == 1 and hits[0] in theirs:
                return back(theirs[hits[0]].reshape(v.shape))
        raise ModelError(f"{str(path)!r}: no single tensor for a parameter of shape "
                         f"{value.shape}: expected a model exported by this version")

    state = {}
    for name, value in probe.state_dict().items():
        v = value.numpy()
        if name in theirs:
            state[name] = theirs[name]
        elif v.ndim == 2 and v.shape[0] <= 8 and v.shape[1] > 8:  # rows used one by one
            try:
                state[name] = lookup(v)
            except ModelError:
                state[name] = np.stack([lookup(row) for row in v])
        else:
            state[name] = lookup(v)
    probe.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in
                           state.items()})
    probe.eval()
    args = example_inputs(probe)
    with torch.no_grad():
        got = probe(*(torch.from_numpy(a) for a in args)).numpy()
    diff = float(np.abs(got - ship.run(*args)).max())
    if diff > 1e-3:
        raise ModelError(f"{str(path)!r}: weights rebuilt from the ONNX file differ from it by "
                         f"{diff:.2e}: expected <= 1e-3")
    return probe
