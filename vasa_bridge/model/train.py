"""Training: `vasa-bridge train --data DIR --out RUN`.

AdamW with warm-up and cosine decay, an EMA of the weights (what is exported), validation loss on
fixed windows of held-out speakers, checkpoints that carry their config (`RUN/checkpoint.pt`),
resume from it, a tqdm bar. The same code runs on a GPU (`device="cuda"`).
"""

from __future__ import annotations

import copy
import json
import math
import textwrap
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from ..errors import ModelError
from .conditions import Conditions
from .config import CLOSE, JAW, MOUTH, SEAL_APERTURE, ModelConfig, check_sample_rate
from .denoiser import Denoiser, edm_loss
from .model import MotionTransformer
from .windows import ClipData, DropoutConfig, WindowSampler, clip_data, motion_stats

CHECKPOINT = "checkpoint.pt"


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 3000  # optimiser steps in total (a resumed run continues to this)
    batch: int = 64  # windows per step
    lr: float = 6e-4  # peak learning rate
    weight_decay: float = 0.01
    warmup: int = 150  # steps of linear warm-up
    ema: float = 0.998  # EMA decay per step
    grad_clip: float = 1.0
    velocity: float = 1.0  # weight of the frame-difference loss (see denoiser.edm_loss)
    closure: float = 0.0  # weight of the lip-aperture loss (jawOpen - mouthClose, in 0.1 units)
    seal: float = 1.0  # weight of the seal head's cross-entropy (models with config.seal)
    seal_events: float = 0.0  # extra weight of brief closures (/p b m/) in that cross-entropy
    init: str = ""  # a new run starts from this run's weights (new modules start fresh)
    only: str = ""  # train only the parameters whose names start with this (e.g. net.seal_head)
    band_shift: int = 0  # augmentation: shift each window's mel bands by up to this many (voices)
    feature_noise: float = 0.0  # augmentation: std of noise added to the normalised log-mel
    short_windows: float = 0.0  # share of batches with 1-3 frame windows (the live setting)
    eval_every: int = 250  # steps between validation losses and checkpoints
    val_batches: int = 8  # fixed validation batches (of `batch` windows)
    max_minutes: float = 0.0  # stop (and checkpoint) after this wall time; 0 = no limit
    threads: int = 2  # torch CPU threads
    device: str = "cpu"
    seed: int = 0
    dropout: DropoutConfig = field(default_factory=DropoutConfig)

    def __post_init__(self) -> None:
        if isinstance(self.dropout, dict):
            object.__setattr__(self, "dropout", DropoutConfig(**self.dropout))
        if self.steps < 1 or self.batch < 1:
            raise ModelError(f"steps {self.steps} / batch {self.batch}: expected >= 1")


# --- checkpoints ---------------------------------------------------------------------------------


def build(config: ModelConfig) -> Denoiser:
    return Denoiser(MotionTransformer(config))


def load_checkpoint(path, ema: bool = True, device: str = "cpu") -> tuple[Denoiser, dict]:
    """RUN folder or checkpoint file -> (denoiser in eval mode, the checkpoint dict)."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT
    if not path.is_file():
        raise ModelError(f"no checkpoint at {str(path)!r}: expected a RUN folder made by "
                         f"`vasa-bridge train` or its {CHECKPOINT}")
    expected = f"expected a {CHECKPOINT} written by `vasa-bridge train`"
    try:
        # weights_only: tensors, numbers, strings and containers only. A checkpoint is a pickle,
        # and a full unpickler would run whatever code a downloaded one carries.
        ck = torch.load(path, map_location=device, weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch raises RuntimeError, UnpicklingError, zip, EOF...
        raise ModelError(f"{str(path)!r} is not a training checkpoint (torch could not read it: "
                         f"{_torch_reason(e)}): {expected}") from None
    if not isinstance(ck, dict) or not isinstance(ck.get("model_config"), dict):
        raise ModelError(f"{str(path)!r} has no model_config: {expected}")
    try:
        config = ModelConfig.from_dict(ck["model_config"])
        check_sample_rate(config, repr(str(path)))
        den = build(config).to(device)
        den.load_state_dict(ck["ema" if ema else "model"])
    except ModelError as e:
        raise ModelError(f"{str(path)!r}: {e}") from None
    except (KeyError, TypeError, ValueError, RuntimeError) as e:  # load_state_dict: RuntimeError
        reason = " ".join(str(e).split())[:200]
        raise ModelError(f"{str(path)!r} does not match its own model_config ({type(e).__name__}:"
                         f" {reason}): {expected}") from None
    den.eval()
    return den, ck


def _torch_reason(e: Exception) -> str:
    """The first sentence of torch's error, which goes on for a paragraph of advice; for a pickle
    that `weights_only` refused, the object it refused."""
    text = " ".join(str(e).split("WeightsUnpickler error:")[-1].split())
    first = textwrap.shorten(text.split(". ")[0].rstrip("."), 200, placeholder=" ...")
    return f"{type(e).__name__}: {first}" if first else type(e).__name__


def save_checkpoint(path: Path, den: Denoiser, ema: Denoiser, opt, step: int,
                    train_config: TrainConfig, history: list, extra: dict) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save({"model_config": den.config.as_dict(), "train_config": asdict(train_config),
                "model": den.state_dict(), "ema": ema.state_dict(), "optim": opt.state_dict(),
                "step": step, "history": history, **extra}, tmp)
    tmp.replace(path)


# --- data ----------------------------------------------------------------------------------------


def load_corpus(root, split: str, config: ModelConfig, limit: int | None = None,
                progress: bool = False) -> list[ClipData]:
    from ..data.dataset import open_dataset
    ds = open_dataset(root, split)
    n = len(ds) if limit is None else min(limit, len(ds))
    it = range(n)
    if progress:
        from tqdm import tqdm
        it = tqdm(it, desc=f"features ({split})", leave=False)
    return [clip_data(ds[i], config.features) for i in it]


def _to_torch(x0: np.ndarray, cond: Conditions, device: str):
    return torch.from_numpy(x0).to(device), cond.map(lambda a: torch.from_numpy(a).to(device))


def _window_sizes(rng: np.random.Generator, max_window: int, count: int) -> np.ndarray:
    return rng.integers(1, max_window + 1, size=count)


# --- the loop ------------------------------------------------------------------------------------


def train(train_clips: list[ClipData], val_clips: list[ClipData], config: ModelConfig,
          tc: TrainConfig, out, log=print, progress: bool = True, resume: bool = True) -> dict:
    """Train (or resume) into folder `out`; returns a summary with the loss history."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(tc.threads)
    torch.manual_seed(tc.seed)
    ck_path = out / CHECKPOINT
    history: list[dict] = []
    step = 0
    if resume and ck_path.is_file():
        ck = torch.load(ck_path, map_location=tc.device, weights_only=True)
        config = ModelConfig.from_dict(ck["model_config"])
        den = build(config).to(tc.device)
        den.load_state_dict(ck["model"])
        ema = build(config).to(tc.device)
        ema.load_state_dict(ck["ema"])
        step, history = ck["step"], ck["history"]
        log(f"[train] resuming {ck_path} at step {step}")
    else:
        init_src = _load_init(tc.init) if tc.init else None  # loaded once, used twice below
        if init_src is not None:  # the weights were trained on the init run's normalisation
            src = init_src.config
            config = replace(config, motion_mean=src.motion_mean, motion_std=src.motion_std,
                             intensity_ref=src.intensity_ref)
        else:
            if config.motion_std == (1.0,) * 58:
                mean, std = motion_stats(train_clips)
                config = config.with_motion_stats(mean, std)
            speeds = [c.speed for c in train_clips]
            config = replace(config, intensity_ref=float(np.mean(speeds)) or 1.0)
        if config.seal and not config.seal_jaw:
            config = replace(config, seal_jaw=sealed_jaw(train_clips))
        den = build(config).to(tc.device)
        if init_src is not None:
            _init_from(den, init_src, tc.init, log)
        ema = copy.deepcopy(den)
        ck = None
    ema.requires_grad_(False)
    (out / "config.json").write_text(json.dumps({"model": config.as_dict(),
                                                 "train": asdict(tc)}, indent=1))
    if tc.only:
        for name, p in den.named_parameters():
            p.requires_grad_(name.startswith(tc.only))
        if not any(p.requires_grad for p in den.parameters()):
            raise ModelError(f"--only {tc.only!r} matches no parameter: expected a prefix such "
                             f"as 'net.seal_head'")
    opt = torch.optim.AdamW([p for p in den.parameters() if p.requires_grad], lr=tc.lr,
                            weight_decay=tc.weight_decay, betas=(0.9, 0.99))
    if ck is not None:
        opt.load_state_dict(ck["optim"])
    log(f"[train] {den.net.num_parameters():,} parameters; {len(train_clips)} train clips "
        f"({sum(len(c.motion) for c in train_clips) / config.fps / 3600:.2f} h), "
        f"{len(val_clips)} validation clips")

    sampler = WindowSampler(train_clips, config, tc.dropout, seed=tc.seed * 1000 + step)
    size_rng = np.random.default_rng(tc.seed * 7919 + step)
    aug_rng = np.random.default_rng(tc.seed * 104729 + step)
    val = _validation_set(val_clips, config, tc)
    weights = _loss_weights(config, tc.device)
    aperture = _aperture_loss(config, tc.closure) if tc.closure else None

    def lr_at(s: int) -> float:
        if s < tc.warmup:
            return tc.lr * (s + 1) / tc.warmup
        p = (s - tc.warmup) / max(1, tc.steps - tc.warmup)
        return tc.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(p, 1.0))))

    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=tc.steps, initial=step, desc="train", smoothing=0.05)
    t0 = time.monotonic()
    gen = torch.Generator(device=tc.device).manual_seed(tc.seed + step)
    running = None
    den.train()
    while step < tc.steps:
        if size_rng.random() < tc.short_windows:
            n = int(size_rng.integers(1, min(3, config.max_window) + 1))
        else:
            n = int(_window_sizes(size_rng, config.max_window, 1)[0])
        x0, cond = sampler.batch(tc.batch, n)
        if tc.band_shift or tc.feature_noise:
            cond = replace(cond, audio=augment_features(cond.audio, config, tc, aug_rng))
        x0, cond = _to_torch(x0, cond, tc.device)
        loss = edm_loss(den, x0, cond, gen, weights, tc.velocity, aperture, tc.seal,
                        tc.seal_events)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for p in den.parameters() if p.requires_grad],
                                       tc.grad_clip)
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        opt.step()
        with torch.no_grad():
            decay = min(tc.ema, (1 + step) / (10 + step))
            for pe, p in zip(ema.parameters(), den.parameters()):
                pe.lerp_(p, 1 - decay)
        step += 1
        running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
        if bar:
            bar.update(1)
            bar.set_postfix(loss=f"{running:.4f}", lr=f"{lr_at(step):.1e}")
        timed_out = tc.max_minutes and (time.monotonic() - t0) > tc.max_minutes * 60
        if step % tc.eval_every == 0 or step == tc.steps or timed_out:
            vl = validation_loss(ema, val, tc.device)
            history.append({"step": step, "train_loss": running, "val_loss": vl,
                            "minutes": (time.monotonic() - t0) / 60})
            seal_note = ""
            if config.seal:
                history[-1].update(validation_seal(ema, val, tc.device))
                seal_note = (f"; seal recall {history[-1]['seal_recall']:.2f} precision "
                             f"{history[-1]['seal_precision']:.2f}")
            log(f"[train] step {step}: train {running:.4f} validation (EMA) {vl:.4f}{seal_note}")
            save_checkpoint(ck_path, den, ema, opt, step, tc, history, {})
            with open(out / "history.jsonl", "a") as fh:  # strict JSON: no validation, null
                fh.write(json.dumps({k: None if isinstance(v, float) and not math.isfinite(v)
                                     else v for k, v in history[-1].items()},
                                    allow_nan=False) + "\n")
        if timed_out:
            log(f"[train] stopping after {tc.max_minutes} minutes at step {step}")
            break
    if bar:
        bar.close()
    return {"steps": step, "history": history, "config": config, "checkpoint": str(ck_path)}


def _load_init(run) -> Denoiser:
    """A run folder, its checkpoint, or an exported .onnx file (weights rebuilt from it)."""
    if str(run).endswith(".onnx"):
        from .export import denoiser_from_onnx
        return denoiser_from_onnx(run)
    return load_checkpoint(run, ema=True)[0]


def _init_from(den: Denoiser, src: Denoiser, run, log) -> None:
    """Copy the weights of `src` (loaded from `run` by _load_init) whose names and shapes match;
    say which modules start fresh."""
    theirs = src.state_dict()
    mine = den.state_dict()
    taken = {k: v for k, v in theirs.items() if k in mine and mine[k].shape == v.shape}
    if not taken:
        raise ModelError(f"{str(run)!r} shares no weights with this model: expected a run of the "
                         f"same width and layers")
    den.load_state_dict({**mine, **taken})
    fresh = sorted({k.rsplit(".", 2)[0] for k in mine if k not in taken})
    log(f"[train] initialised {len(taken)}/{len(mine)} tensors from {run}; fresh: "
        f"{', '.join(fresh) or 'none'}")


def augment_features(audio: np.ndarray, config: ModelConfig, tc: TrainConfig,
                     rng: np.random.Generator) -> np.ndarray:
    """(B, T, A) features -> a new voice, roughly: each window's log-mel bands shifted by up to
    `band_shift` bands (a formant/pitch shift of a few per cent per band), plus noise."""
    fc = config.features
    b, t, _ = audio.shape
    x = audio.reshape(b, t, fc.stack, fc.n_mels + 1).copy()
    mel = x[..., :fc.n_mels]
    if tc.band_shift:
        for i, k in enumerate(rng.integers(-tc.band_shift, tc.band_shift + 1, size=b)):
            if k > 0:
                mel[i, ..., k:] = mel[i, ..., :-k].copy()
                mel[i, ..., :k] = mel[i, ..., k:k + 1]
            elif k < 0:
                mel[i, ..., :k] = mel[i, ..., -k:].copy()
                mel[i, ..., k:] = mel[i, ..., k - 1:k]
    if tc.feature_noise:
        mel += rng.normal(0.0, tc.feature_noise, mel.shape).astype(np.float32)
    return x.reshape(audio.shape)


def sealed_jaw(clips: list[ClipData]) -> float:
    """The jaw opening lips are sealed on in the corpus: the median jawOpen over the sealed frames
    (aperture < SEAL_APERTURE) that are not at rest (jawOpen > 0.02)."""
    m = np.concatenate([c.motion for c in clips])
    sel = (m[:, JAW] - m[:, CLOSE] < SEAL_APERTURE) & (m[:, JAW] > 0.02)
    return float(np.median(m[sel, JAW])) if sel.any() else 0.0


def _loss_weights(config: ModelConfig, device: str) -> torch.Tensor:
    """Per-dimension loss weights: the mouth (jaw, lips) counts double; it is what viewers read."""
    w = np.ones(58, np.float32)
    w[MOUTH] = 2.0
    return torch.from_numpy(w / w.mean()).to(device)


def _aperture_loss(config: ModelConfig, weight: float):
    """Error on the lip aperture jawOpen - mouthClose in raw units (0.1 = one unit): the teacher
    seals the lips for a frame or two on /p b m/, a brief event plain regression averages away."""
    j, c = JAW, CLOSE
    sj, sc = config.motion_std[j], config.motion_std[c]

    def extra(out: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
        d = (out[..., j] - x0[..., j]) * sj - (out[..., c] - x0[..., c]) * sc  # (B, N)
        return weight * (d / 0.1) ** 2

    return extra


def _validation_set(val_clips, config: ModelConfig, tc: TrainConfig) -> list:
    """Fixed windows, noise levels and noise, so validation losses compare across steps."""
    if not val_clips:
        return []
    s = WindowSampler(val_clips, config, tc.dropout, seed=12345)
    rng = np.random.default_rng(54321)
    sets = []
    gen = torch.Generator().manual_seed(999)
    for n in _window_sizes(rng, config.max_window, tc.val_batches):
        x0, cond = s.batch(tc.batch, int(n))
        sets.append((x0, cond, gen.initial_seed() + len(sets)))
    return sets


@torch.no_grad()
def validation_loss(den: Denoiser, val: list, device: str) -> float:
    if not val:
        return float("nan")
    was = den.training
    den.eval()
    weights = _loss_weights(den.config, device)
    losses = []
    for x0, cond, seed in val:
        x0_t, cond_t = _to_torch(x0, cond, device)
        g = torch.Generator(device=device).manual_seed(int(seed))
        losses.append(edm_loss(den, x0_t, cond_t, g, weights, seal=0.0).item())
    den.train(was)
    return float(np.mean(losses))


@torch.no_grad()
def validation_seal(den: Denoiser, val: list, device: str) -> dict:
    """Recall and precision of the seal head (logit > 0) on the validation windows' frames."""
    tp = fp = fn = 0.0
    for x0, cond, _ in val:
        x0_t, cond_t = _to_torch(x0, cond, device)
        logits = den.net.seal_logits(cond_t.audio, x0_t.shape[1])
        fire, truth = logits > 0, den.sealed(x0_t) > 0.5
        tp += float((fire & truth).sum())
        fp += float((fire & ~truth).sum())
        fn += float((~fire & truth).sum())
    return {"seal_recall": tp / max(tp + fn, 1.0), "seal_precision": tp / max(tp + fp, 1.0)}
