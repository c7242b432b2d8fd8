"""The lip aperture heard frame by frame: a small network from the phone posteriors of an
acoustic model trained on real speech (model/acoustic.py) to the viseme teacher's jawOpen and
mouthClose, for the live mouth (model/phones.py, `LivePhones.aperture`).

The motion model has only ever heard synthetic speech, and the phone loop decides phones about
60 ms behind the audio. This head sees, for each motion frame, the posteriors of the 290 ms
before it and the 60 ms after it (what the live look-ahead, the phone layer's hold included, has
scored), averaged 30 ms at a time:

    (12 steps x 42 phones) log posteriors -> 128 -> 64 -> (jawOpen, mouthClose)

It is trained here, on synthetic English speech (`vasa-bridge train-mouth`): festival's diphone
voices and flite's clustergen voices, each made from one real speaker's recordings, through the
capture chain, and the espeak-ng voices; the acoustic model's real-speech knowledge is what
carries it to real voices (docs/model.md, "The aperture heard frame by frame" and "Three more
real speakers"). The weights ship in `assets/model/acoustic_mouth.npz` with
their config; inference is numpy.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import DataError
from .acoustic import HOP, RATE

OUTPUTS = ("jawOpen", "mouthClose")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AcousticMouthConfig:
    before: int = 29  # 10 ms posterior frames before the motion frame's own
    after: int = 6  # 10 ms frames after it: what 120 ms of look-ahead has scored (the model's
    #                 80 ms and the phone layer's hold, `PhoneConfig.hold_s`; a frame is scored
    #                 55.6 ms after its start). The teacher's lips lead the sound by 40 ms: a
    #                 head that hears 20 ms after a frame cannot hear the phone it opens for.
    group: int = 3  # frames averaged into one input step
    floor: float = 1e-3  # inputs are log(posterior + floor)
    hidden: tuple = (128, 64)  # widths of the hidden layers (GELU)

    def __post_init__(self) -> None:
        if (self.before + self.after + 1) % self.group:
            raise DataError(f"acoustic mouth window {self.before} + {self.after} + 1 frames does "
                            f"not split into steps of {self.group}: expected a multiple")

    @property
    def steps(self) -> int:
        return (self.before + self.after + 1) // self.group


def frame_of(k: int | np.ndarray, fps: float):
    """The 10 ms posterior frame of motion frame k (time k / fps)."""
    return np.rint(np.asarray(k) * (RATE / HOP) / fps).astype(np.int64)


def inputs(posteriors: np.ndarray, frames: np.ndarray, fps: float,
           config: AcousticMouthConfig, first: int = 0) -> np.ndarray:
    """(P, phones) posteriors of frames `first`.., (n,) motion frame indices -> (n, steps *
    phones) the head's inputs. Posterior frames before the first or past the last scored
    repeat the edge (a stream's frame is asked for only once its `after` frames are scored)."""
    if not len(posteriors):
        raise DataError("acoustic mouth inputs need at least one scored posterior frame: got 0")
    centre = frame_of(np.asarray(frames), fps) - first  # (n,)
    idx = centre[:, None] + np.arange(-config.before, config.after + 1)[None]  # (n, window)
    idx = np.clip(idx, 0, len(posteriors) - 1)
    logp = np.log(posteriors[idx] + config.floor)  # (n, window, phones)
    n, window, phones = logp.shape
    return logp.reshape(n, config.steps, config.group, phones).mean(axis=2).reshape(n, -1)


def clip_inputs(audio: np.ndarray, rate: int, n_frames: int, fps: float,
                config: AcousticMouthConfig) -> np.ndarray:
    """A whole clip (16 kHz) -> (n_frames, steps * phones) the head's inputs at motion frames
    0.. (frame i at i / fps): what training fits and `heard_aperture` predicts from."""
    from .acoustic import phone_posteriors
    return inputs(phone_posteriors(audio, rate), np.arange(n_frames), fps, config)


def _gelu(x: np.ndarray) -> np.ndarray:
    """torch's default (exact) GELU."""
    from scipy.special import erf
    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


class AcousticMouth:
    """The trained head: `predict(inputs)` -> (n, 2) jawOpen, mouthClose in 0..1."""

    def __init__(self, config: AcousticMouthConfig, mean: np.ndarray, scale: np.ndarray,
                 layers: list[tuple[np.ndarray, np.ndarray]], meta: dict | None = None) -> None:
        self.config = config
        self.mean, self.scale = mean, scale
        self.layers = layers  # [(W (in, out), b (out,)), ...]
        self.meta = meta or {}

    @classmethod
    def load(cls, path: str | Path | None = None) -> "AcousticMouth":
        from ..samples import acoustic_mouth_path
        path = Path(path) if path is not None else acoustic_mouth_path()
        try:
            z = np.load(path, allow_pickle=False)
            info = json.loads(str(z["info"]))
            config = AcousticMouthConfig(**{**info["config"],
                                            "hidden": tuple(info["config"]["hidden"])})
            layers = [(z[f"w{i}"].astype(np.float32), z[f"b{i}"].astype(np.float32))
                      for i in range(len(config.hidden) + 1)]
            return cls(config, z["mean"].astype(np.float32), z["scale"].astype(np.float32),
                       layers, info.get("meta"))
        except (OSError, KeyError, ValueError, TypeError) as e:
            raise DataError(f"acoustic mouth weights {str(path)!r} cannot be read ({e}): "
                            f"expected an .npz written by `vasa-bridge train-mouth`") from None

    def save(self, path: str | Path) -> None:
        arrays = {f"w{i}": w for i, (w, _) in enumerate(self.layers)}
        arrays.update({f"b{i}": b for i, (_, b) in enumerate(self.layers)})
        info = {"config": asdict(self.config), "outputs": OUTPUTS, "meta": self.meta}
        np.savez_compressed(path, mean=self.mean, scale=self.scale,
                            info=np.array(json.dumps(info)), **arrays)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """(n, steps * phones) -> (n, 2) float32 jawOpen, mouthClose, clipped to 0..1. The same
        bytes however many threads BLAS has (einsum's own loops: a threaded matmul sums in
        another order), so a clip baked in a worker equals one baked here (`bake/batch.py`)."""
        h = (np.asarray(x, np.float32) - self.mean) / self.scale
        for i, (w, b) in enumerate(self.layers):
            h = np.einsum("ni,io->no", h, w, optimize=False) + b
            if i < len(self.layers) - 1:
                h = _gelu(h)
        return np.clip(h, 0.0, 1.0).astype(np.float32)


@lru_cache(maxsize=1)
def shipped_mouth() -> AcousticMouth:
    """The shipped head (loaded once per process)."""
    return AcousticMouth.load()


def heard_aperture(audio: np.ndarray, rate: int, n_frames: int, fps: float) -> np.ndarray:
    """A whole clip (16 kHz) -> (n_frames, 2) jawOpen and mouthClose the shipped head hears at
    motion frames 0.. (frame i at i / fps), as a live stream hears them (`apply_phones`)."""
    head = shipped_mouth()
    return head.predict(clip_inputs(audio, rate, n_frames, fps, head.config))


@dataclass(frozen=True)
class MouthTrainConfig:
    data: tuple  # dataset folders (their train clips in `languages` are used)
    out: str  # .npz to write
    exclude_speakers: tuple = ()  # e.g. ("festival:slt",): a voice kept out to judge by
    languages: tuple = ("en",)  # the clips' languages used (the head hears English phones'
    #   posteriors in any voice: another language's real speakers add voices, not phones)
    epochs: int = 10
    batch: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-2
    dropout: float = 0.2
    input_noise: float = 0.1  # std of noise on the normalised inputs while training
    seed: int = 0
    workers: int = 2  # processes scoring the clips' posteriors
    head: AcousticMouthConfig = AcousticMouthConfig()
    cache: str | None = None  # folder keeping each dataset's scored rows (`dataset_rows`)


def _clip_rows(args) -> tuple[np.ndarray, np.ndarray]:
    """(dataset folder, clip row, head config) -> (inputs, targets) of its motion frames."""
    root, row, head = args
    from ..data.dataset import load_clip
    from ..motion.names import INDEX
    clip = load_clip(Path(root) / row["path"], row["id"])
    shapes = clip.motion.blendshapes
    x = clip_inputs(clip.audio, clip.sample_rate, len(shapes), clip.motion.fps, head)
    y = shapes[:, [INDEX[c] for c in OUTPUTS]].astype(np.float32)
    return x.astype(np.float32), y


def training_rows(config: MouthTrainConfig, progress: bool = False):
    """(inputs float16, targets, clips) of every train clip in `config.languages` of
    `config.data` (speakers in `exclude_speakers` left out), in dataset order (`dataset_rows`,
    one dataset after the other)."""
    parts = [dataset_rows(root, config, progress) for root in config.data]
    clips = sum(p[2] for p in parts)
    if not clips:
        raise DataError(f"no train clips in {','.join(config.languages)} in "
                        f"{list(config.data)}: expected a dataset made with --languages "
                        f"{','.join(config.languages)}")
    return np.vstack([p[0] for p in parts]), np.vstack([p[1] for p in parts]), clips


def dataset_rows(root, config: MouthTrainConfig, progress: bool = False):
    """One dataset's (inputs, targets, clips): its train clips in `config.languages` scored
    (the inputs kept as float16: a million rows of 504 inputs take 1 GB, not 2). With
    `config.cache`, kept there under a name that changes with the dataset's manifest, the
    speakers left out, the languages taken, the head's window and the acoustic front end
    (`cache_name`): scoring a dataset takes minutes (the 6 h corpus about 19 on two cores), a
    cached one is read in seconds, so a head fitted on one more dataset scores only that one.
    Train clips left out for their language are counted in one logged line."""
    from ..data.dataset import read_manifest
    manifest = read_manifest(root)
    _say_skipped(root, manifest, config)
    path = Path(config.cache) / cache_name(root, config, manifest) if config.cache else None
    if path is not None and path.is_file():
        try:
            z = np.load(path, allow_pickle=False)
            return z["x"], z["y"], int(z["clips"])
        except (OSError, KeyError, ValueError) as e:
            raise DataError(f"cached rows {str(path)!r} cannot be read ({e}): expected an .npz "
                            f"written by train-mouth --cache (delete it to score again)") \
                from None
    jobs = [(str(root), row, config.head) for row in manifest
            if row["split"] == "train" and row.get("language") in config.languages
            and row["speaker"] not in config.exclude_speakers]
    if jobs and config.workers > 1:
        from multiprocessing import get_context
        with get_context("spawn").Pool(config.workers) as pool:
            rows = list(_progress(pool.imap(_clip_rows, jobs, chunksize=8), len(jobs), progress))
    else:
        rows = list(_progress(map(_clip_rows, jobs), len(jobs), progress))
    if rows:
        x = np.vstack([r[0] for r in rows]).astype(np.float16)
        y = np.vstack([r[1] for r in rows]).astype(np.float32)
    else:
        from .acoustic import load_acoustic
        x = np.zeros((0, config.head.steps * load_acoustic().n_phones), np.float16)
        y = np.zeros((0, len(OUTPUTS)), np.float32)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.stem + f".tmp{os.getpid()}.npz")
        np.savez(tmp, x=x, y=y, clips=np.int64(len(jobs)))
        os.replace(tmp, path)
    return x, y, len(jobs)


def _say_skipped(root, manifest: list[dict], config: MouthTrainConfig) -> None:
    """Log how many train clips `dataset_rows` leaves out for their language, and how to take
    them: a warning where no `--languages` can (a video's "und"), else a note."""
    from collections import Counter

    from ..data.text import LANGUAGES
    skipped = Counter(row.get("language") for row in manifest
                      if row["split"] == "train" and row["speaker"] not in config.exclude_speakers
                      and row.get("language") not in config.languages)
    if not skipped:
        return
    n = sum(skipped.values())
    counts = ", ".join(f"{skipped[lang]} {lang!r}" for lang in sorted(skipped, key=str))
    known = sorted(lang for lang in skipped if lang in LANGUAGES)
    hints = [f"add {','.join(known)} to --languages to take them"] if known else []
    if "und" in skipped:
        hints.append(f"'und' (undetermined) is what `dataset video` writes without --language: "
                     f"extract those videos again, into a new folder, with `dataset video "
                     f"--language {config.languages[0]}` to take them")
    if len(known) + ("und" in skipped) < len(skipped):
        hints.append(f"--languages takes {','.join(LANGUAGES)}")
    (log.info if len(known) == len(skipped) else log.warning)(
        "dataset %r: skipped %d train clip%s whose language is not in --languages %s (%s): %s",
        str(root), n, "" if n == 1 else "s", ",".join(config.languages), counts,
        "; ".join(hints))


def cache_name(root, config: MouthTrainConfig, manifest: list[dict] | None = None) -> str:
    """The cache file of a dataset's rows: its folder's name and a digest of what the rows
    depend on (the manifest's bytes, the speakers left out, the head's window, the acoustic
    front end's version and constants). `manifest`: its rows, if already read."""
    import hashlib
    from ..data.dataset import read_manifest
    from . import acoustic
    h = hashlib.sha1()
    h.update((Path(root) / "manifest.jsonl").read_bytes())
    manifest = read_manifest(root) if manifest is None else manifest
    present = sorted({row.get("language") for row in manifest} &
                     set(config.languages))  # the languages whose clips are taken
    other = {} if present == ["en"] else {"languages": present}  # (the names made before)
    h.update(json.dumps({"exclude": sorted(config.exclude_speakers), **other,
                         "head": asdict(config.head),
                         "front_end": [acoustic.FRONT_END, acoustic.CMN_FRAMES,
                                       acoustic.CMN_GATE_DB, list(acoustic.CMN_PRIOR),
                                       acoustic.CMN_PRIOR_FRAMES]},
                        sort_keys=True).encode())
    return f"{Path(root).resolve().name}-{h.hexdigest()[:16]}.npz"


def _progress(it, total, on):
    if not on:
        return it
    from tqdm import tqdm
    return tqdm(it, total=total, desc="posteriors", leave=False)


def train_acoustic_mouth(config: MouthTrainConfig, progress: bool = False) -> dict:
    """Score the clips, fit the head (smooth L1 on the teacher's jawOpen and mouthClose), write
    it to `config.out`; returns a summary."""
    import torch
    x, y, clips = training_rows(config, progress)
    mean = x.mean(axis=0, dtype=np.float64).astype(np.float32)
    scale = (x.std(axis=0, dtype=np.float64) + 1e-6).astype(np.float32)
    torch.manual_seed(config.seed)
    sizes = (x.shape[1],) + tuple(config.head.hidden) + (len(OUTPUTS),)
    mods = []
    for i in range(len(sizes) - 1):
        mods.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            mods.append(torch.nn.GELU())
            if i == 0:
                mods.append(torch.nn.Dropout(config.dropout))
    net = torch.nn.Sequential(*mods)
    opt = torch.optim.AdamW(net.parameters(), config.lr, weight_decay=config.weight_decay)
    xt = torch.tensor((x.astype(np.float32) - mean) / scale, dtype=torch.float32)
    yt = torch.tensor(y)
    gen = torch.Generator().manual_seed(config.seed)
    losses = []
    for _ in range(config.epochs):
        net.train()
        perm = torch.randperm(len(xt), generator=gen)
        total = 0.0
        for i in range(0, len(perm), config.batch):
            b = perm[i:i + config.batch]
            noisy = xt[b] + config.input_noise * torch.randn(len(b), xt.shape[1], generator=gen)
            loss = torch.nn.functional.smooth_l1_loss(net(noisy), yt[b], beta=0.05)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(b)
        losses.append(total / len(xt))
    linear = [m for m in net if isinstance(m, torch.nn.Linear)]
    layers = [(m.weight.detach().numpy().T.copy(), m.bias.detach().numpy().copy())
              for m in linear]
    meta = {"data": [str(d) for d in config.data],
            "exclude_speakers": list(config.exclude_speakers),
            "languages": list(config.languages),
            "clips": clips, "frames": int(len(x)), "epochs": config.epochs, "seed": config.seed,
            "loss": losses[-1]}
    AcousticMouth(config.head, mean, scale, layers, meta).save(config.out)
    return {**meta, "out": config.out, "losses": losses}
