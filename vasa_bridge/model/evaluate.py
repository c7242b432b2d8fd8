"""`vasa-bridge eval --data DIR`: the model against the viseme teacher on held-out voices, with two
baselines measured in the same run (mouth from loudness, as PNGTuber apps do; the teacher itself).

Lips: jawOpen correlation with the teacher; mouth-shape error (mean |difference| over the jaw and
lip shapes) per viseme class, averaged over classes; closure rate on /p b m/ (lip aperture
jawOpen - mouthClose below `closure_threshold` somewhere in the segment, widened by `closure_slack`
for the lips' lead); audio-motion offset: the lag maximising the cross-correlation of jawOpen with
the teacher's (positive = later than the teacher), and with the audio's loudness; false seals:
the share of frames where the teacher's lips are apart but the row's are sealed (the price of
closing eagerly); open vowels opened: of the /a/, /e/, /o/ segments (aa, E, O) where the teacher's
lip aperture reaches `OPEN_APERTURE`, the share where the row's does too; jawOpen r best within
+-`best_lag_ms` (the correlation at the best lag, that lag reported beside it).
Head: mean angular speed (VASA-1's Delta P on Euler angles), spread of the rotation across seeds
(mean over frames of the std across seeds), and each clip's rotation std (the teacher's range).
Blinks: rising crossings of 0.5 by the mean eyeBlink, per minute.

Generation runs through ONNX Runtime (the serving path), no torch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np

from ..audio.features import FeatureConfig, extract, prepare_audio
from ..motion.names import INDEX
from .config import CLOSE, JAW, MOUTH, SEAL_APERTURE, pack_motion, unpack_motion
from .onnx_runtime import OnnxDenoiser
from .streaming import OFFLINE, Steering, generate

BLINK = [INDEX["eyeBlinkLeft"], INDEX["eyeBlinkRight"]]
MAX_LAG = 8  # frames searched either way for the offset (320 ms at 25 fps)
OPEN_VOWELS = ("aa", "E", "O")  # visemes of open vowels
OPEN_APERTURE = 0.2  # lip aperture (jawOpen - mouthClose) counted as an opened mouth


@dataclass(frozen=True)
class EvalConfig:
    data: str  # dataset folder
    model: str | None = None  # .onnx; None = the shipped model
    split: str = "validation"  # held-out speakers
    limit: int = 40  # clips
    start: int = 0  # first clip (e.g. tune settings on clips 100+, report on the first ones)
    unseen_text: tuple = ()  # dataset folders: skip clips whose sentence is in their train split
    seeds: int = 3  # generations per clip (head spread across seeds)
    steps: int = OFFLINE.steps  # sampler steps
    guidance: tuple = OFFLINE.guidance  # ((condition, scale), ...) as in StreamConfig
    temperature: float = OFFLINE.temperature  # start-noise scales, as in StreamConfig
    mouth_temperature: float | None = OFFLINE.mouth_temperature
    closure_threshold: float = SEAL_APERTURE  # lip aperture (jawOpen - mouthClose) counted as closed
    closure_slack: float = 0.08  # s: widen each /p b m/ segment by this on both sides
    threads: int = 1
    phones: bool = True  # the "model" row as bake makes it: with the phones heard in each
    #                      English clip (model/phones.py), a "model alone" row beside


def _aperture(shapes: np.ndarray) -> np.ndarray:
    return shapes[:, JAW] - shapes[:, CLOSE]


def _loudness(audio: np.ndarray, fc: FeatureConfig, n: int) -> np.ndarray:
    """RMS level in dB per motion frame (the frame's own hop)."""
    hop = fc.hop_samples
    a = np.pad(audio, (0, max(0, n * hop - len(audio))))[:n * hop].reshape(n, hop)
    return 20 * np.log10(np.sqrt((a.astype(np.float64) ** 2).mean(axis=1)) + 1e-6)


def _lag(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cross-correlation of (a, b) for lags -MAX_LAG..MAX_LAG; lag > 0: a is later than b."""
    a = (a - a.mean()) / (a.std() + 1e-9)
    b = (b - b.mean()) / (b.std() + 1e-9)
    n = len(a)
    out = np.zeros(2 * MAX_LAG + 1)
    for k, lag in enumerate(range(-MAX_LAG, MAX_LAG + 1)):
        if lag >= 0:
            out[k] = (a[lag:] * b[:n - lag]).mean() if n > lag else 0
        else:
            out[k] = (a[:n + lag] * b[-lag:]).mean() if n > -lag else 0
    return out


def _blinks(shapes: np.ndarray) -> int:
    b = shapes[:, BLINK].mean(axis=1) > 0.5
    return int(np.count_nonzero(b[1:] & ~b[:-1]))


class _Acc:
    """Accumulates one row of the table (a model, a baseline or the teacher)."""

    def __init__(self):
        self.jaw, self.jaw_ref = [], []
        self.vis_err: dict[str, list] = {}
        self.closures = [0, 0]
        self.opened = [0, 0]
        self.false_seals = [0, 0]
        self.xcorr_teacher = np.zeros(2 * MAX_LAG + 1)
        self.xcorr_audio = np.zeros(2 * MAX_LAG + 1)
        self.speed, self.rot_std, self.spread = [], [], []
        self.blinks, self.minutes = 0, 0.0

    def add(self, shapes, rot, teacher_shapes, loud, segments, fps, seeds_rot=None):
        n = min(len(shapes), len(teacher_shapes))
        shapes, ts = shapes[:n], teacher_shapes[:n]
        rot = None if rot is None else rot[:n]
        self.jaw.append(shapes[:, JAW])
        self.jaw_ref.append(ts[:, JAW])
        times = np.arange(n) / fps
        for vis, s, e in segments:
            sel = (times >= s) & (times < e)
            if sel.any():
                err = np.abs(shapes[sel][:, MOUTH] - ts[sel][:, MOUTH]).mean()
                self.vis_err.setdefault(vis, []).append(err)
        ap, ap_ref = _aperture(shapes), _aperture(ts)
        apart = ap_ref >= self._threshold
        self.false_seals[0] += int(np.count_nonzero(apart & (ap < self._threshold)))
        self.false_seals[1] += int(np.count_nonzero(apart))
        for vis, s, e in segments:  # /p b m/ (PP) and open vowels, each within the slack
            closure = vis == "PP"
            if not closure and vis not in OPEN_VOWELS:
                continue
            sel = (times >= s - self._slack) & (times <= e + self._slack)
            if not sel.any():
                continue
            if closure:
                self.closures[1] += 1
                self.closures[0] += int(ap[sel].min() < self._threshold)
            elif ap_ref[sel].max() >= OPEN_APERTURE:
                self.opened[1] += 1
                self.opened[0] += int(ap[sel].max() >= OPEN_APERTURE)
        if n > 2 * MAX_LAG:
            self.xcorr_teacher += _lag(shapes[:, JAW], ts[:, JAW]) * n
            self.xcorr_audio += _lag(shapes[:, JAW], loud[:n]) * n
        if rot is not None:
            self.speed.append(np.linalg.norm(np.diff(rot, axis=0), axis=1).mean() * fps)
            self.rot_std.append(rot.std(axis=0).mean())
        if seeds_rot is not None and len(seeds_rot) > 1:
            m = min(len(r) for r in seeds_rot)
            self.spread.append(np.stack([r[:m] for r in seeds_rot]).std(axis=0).mean())
        self.blinks += _blinks(shapes)
        self.minutes += n / fps / 60

    _threshold = SEAL_APERTURE
    _slack = 0.08

    def jaw_r_at(self, lag: int) -> float:
        """Pooled jawOpen correlation with the row shifted `lag` frames earlier (lag > 0: the row
        is later than the teacher by `lag` frames and is compared with the teacher's frame t - lag)."""
        a, b = [], []
        for x, y in zip(self.jaw, self.jaw_ref):
            n = len(x)
            if n <= abs(lag):
                continue
            a.append(x[lag:] if lag >= 0 else x[:n + lag])
            b.append(y[:n - lag] if lag >= 0 else y[-lag:])
        if not a:
            return 0.0
        a, b = np.concatenate(a), np.concatenate(b)
        return float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 and b.std() > 0 else 0.0

    def result(self, fps: float, best_lag_ms: float = 60.0) -> dict:
        jaw, ref = np.concatenate(self.jaw), np.concatenate(self.jaw_ref)
        k = int(best_lag_ms * fps / 1000 + 1e-9)
        best = max(range(-k, k + 1), key=lambda lag: (self.jaw_r_at(lag), -abs(lag)))
        lags = np.arange(-MAX_LAG, MAX_LAG + 1) * 1000 / fps
        per_class = {k: float(np.mean(v)) for k, v in sorted(self.vis_err.items())}
        return {
            "jaw_r": float(np.corrcoef(jaw, ref)[0, 1]) if jaw.std() > 0 else 0.0,
            "mouth_mae": float(np.mean(list(per_class.values()))) if per_class else None,
            "mouth_mae_per_viseme": per_class,
            "closure_rate": self.closures[0] / max(self.closures[1], 1),
            "closures": self.closures,
            "jaw_r_best": self.jaw_r_at(best),
            "jaw_r_best_lag_ms": best * 1000 / fps,
            "open_vowel_rate": self.opened[0] / max(self.opened[1], 1),
            "open_vowels": self.opened,
            "false_seal_rate": self.false_seals[0] / max(self.false_seals[1], 1),
            "offset_vs_teacher_ms": float(lags[np.argmax(self.xcorr_teacher)]),
            "offset_vs_audio_ms": float(lags[np.argmax(self.xcorr_audio)]),
            "head_speed_deg_s": float(np.mean(self.speed)) if self.speed else None,
            "head_rot_std_deg": float(np.mean(self.rot_std)) if self.rot_std else None,
            "head_spread_seeds_deg": float(np.mean(self.spread)) if self.spread else None,
            "blinks_per_min": self.blinks / max(self.minutes, 1e-9),
        }


def _heard(gen, audio: np.ndarray, language: str, fc: FeatureConfig, recognizer):
    """One generation (shapes, rot, trans) with the phones heard in the clip's audio, as bake
    makes it for speech in `language` (English only: other languages are left alone)."""
    from .phones import PHONE_RATE, apply_phones, phones_for
    phones = phones_for(language) if language != "und" else None
    if phones is None:
        return gen
    if fc.sample_rate != PHONE_RATE:
        audio = prepare_audio(audio, fc.sample_rate, replace(fc, sample_rate=PHONE_RATE))
    shapes = apply_phones(gen[0], audio, PHONE_RATE, fc.fps, phones, recognizer)
    return (shapes,) + tuple(gen[1:])


def _segments(timeline) -> list[tuple[str, float, float]]:
    from ..data.teacher import viseme_segments
    from ..data.visemes import VISEMES
    vis, starts, ends = viseme_segments(timeline)
    return [(VISEMES[v], float(s), float(e)) for v, s, e in zip(vis, starts, ends)]


def _training_texts(folders) -> set:
    """Sentences of the train splits of these datasets (held-out voices may still say them)."""
    from ..data.dataset import open_dataset
    out = set()
    for folder in folders:
        ds = open_dataset(folder, "train")
        out |= {ds[i].meta.get("text") for i in range(len(ds))}
    out.discard(None)
    return out


def evaluate(config: EvalConfig, progress: bool = True) -> dict:
    from ..data.dataset import open_dataset

    den = OnnxDenoiser(config.model, threads=config.threads)
    fc = den.config.features
    fps = fc.fps
    ds = open_dataset(config.data, config.split)
    first = min(config.start, len(ds))
    n = min(config.limit, len(ds) - first)
    if n <= 0:
        from ..errors import DataError
        raise DataError(f"{str(config.data)!r} has {len(ds)} {config.split!r} clips from --start "
                        f"{config.start}: expected at least one to evaluate (a held-out "
                        f"speaker, or --split train)")
    rows = {"model": _Acc(), "loudness": _Acc(), "teacher": _Acc()}
    recognizer = None
    if config.phones:
        from .phones import PhoneRecognizer
        recognizer = PhoneRecognizer()
        rows = {"model": _Acc(), "model alone": _Acc(), "loudness": _Acc(), "teacher": _Acc()}
    for acc in rows.values():
        acc._threshold = config.closure_threshold
        acc._slack = config.closure_slack
    stream = replace(OFFLINE, steps=config.steps, guidance=tuple(config.guidance),
                     temperature=config.temperature, mouth_temperature=config.mouth_temperature)
    loud_all, jaw_all, items = [], [], []
    it = range(n)
    if progress:
        from tqdm import tqdm
        it = tqdm(it, desc="eval", leave=False)
    seen = _training_texts(config.unseen_text)
    used = 0
    for i in it:
        clip = ds[first + i]
        if seen and clip.meta.get("text") in seen:
            continue
        used += 1
        audio = prepare_audio(clip.audio, clip.sample_rate, fc)
        feats = extract(audio, fc.sample_rate, fc)
        t = clip.motion
        teacher = pack_motion(t.blendshapes, t.head_rotation, t.head_translation)
        m = min(len(feats), len(teacher))
        loud = _loudness(audio, fc, m)
        segs = _segments(clip.phonemes)
        gens = [unpack_motion(generate(den, den.config, feats, stream, Steering("neutral"),
                                       seed=s)[:m]) for s in range(config.seeds)]
        if recognizer is not None:
            rows["model alone"].add(gens[0][0], gens[0][1], teacher[:m, :52], loud, segs, fps,
                                    [g[1] for g in gens])
            gens[0] = _heard(gens[0], audio, clip.meta.get("language", "und"), fc, recognizer)
        rows["model"].add(gens[0][0], gens[0][1], teacher[:m, :52], loud, segs, fps,
                          [g[1] for g in gens])
        rows["teacher"].add(teacher[:m, :52], teacher[:m, 52:55], teacher[:m, :52], loud, segs,
                            fps)
        loud_all.append(loud)
        jaw_all.append(teacher[:m, JAW])
        items.append((teacher[:m, :52], loud, segs))
    # loudness -> jaw, the linear map fitted on these very clips (a generous baseline)
    x, y = np.concatenate(loud_all), np.concatenate(jaw_all)
    x = np.clip(x, -70, 0)
    a, b = np.polyfit(x, y, 1)
    for ts, loud, segs in items:
        shapes = np.zeros_like(ts)
        shapes[:, JAW] = np.clip(a * np.clip(loud, -70, 0) + b, 0, 1)
        rows["loudness"].add(shapes, None, ts, loud, segs, fps)
    return {"config": asdict(config), "clips": used, "fps": fps,
            "rows": {k: v.result(fps) for k, v in rows.items()}}


COLUMNS = [("jaw_r", "jawOpen r", "{:.3f}"), ("mouth_mae", "mouth MAE", "{:.3f}"),
           ("closure_rate", "closure /p b m/", "{:.1%}"),
           ("false_seal_rate", "false seals", "{:.1%}"),
           ("open_vowel_rate", "open vowels", "{:.1%}"),
           ("offset_vs_teacher_ms", "offset vs teacher ms", "{:+.0f}"),
           ("offset_vs_audio_ms", "offset vs audio ms", "{:+.0f}"),
           ("head_speed_deg_s", "head speed deg/s", "{:.2f}"),
           ("head_rot_std_deg", "head std deg", "{:.2f}"),
           ("head_spread_seeds_deg", "seed spread deg", "{:.2f}"),
           ("blinks_per_min", "blinks/min", "{:.1f}")]


def render_table(rows: dict, columns) -> str:
    """Rows {name: result dict} as a text table of `columns` [(key, header, format), ...]."""
    head = ["row"] + [c[1] for c in columns]
    lines = [head]
    for name, r in rows.items():
        lines.append([name] + ["-" if r.get(k) is None else f.format(r[k]) for k, _, f in columns])
    widths = [max(len(l[i]) for l in lines) for i in range(len(head))]
    out = [" | ".join(c.rjust(w) for c, w in zip(l, widths)) for l in lines]
    out.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(out)


def format_table(result: dict) -> str:
    return (f"{result['clips']} held-out clips ({result['config']['split']}), "
            f"{result['config']['seeds']} seeds, {result['config']['steps']} steps\n"
            + render_table(result["rows"], COLUMNS))
