"""`vasa-bridge eval --real`: the model on real recorded human voices, against the viseme teacher
run on the pocketsphinx forced alignment of each recording's transcript (the reference the
model is trained to imitate, made as `dataset aligned` makes it).

The recordings ship in two Debian packages: alsa-utils' channel announcements
(`/usr/share/sounds/alsa/*.wav`, one speaker, the transcript is the file name; `Noise.wav` is
pink noise, not speech, and is left out) and
pocketsphinx-testdata's `cards/*.wav` (with `cards.transcription`), `goforward.raw`,
`numbers.raw` and `something.raw` (16 kHz s16 raw). Its `librivox/` folder is reserved as an
independent final check and is never read here.

One run reports these rows and the teacher against itself: the model offline (`OFFLINE`, as
`bake`), the model live (`LIVE`, as `serve` makes a microphone's voice), a clip spoken to the
live face once its words are heard (`serve`'s `speak`: the live rows' motion with the mouth of
the words recognised in the whole clip, `phones.trusted_words`), the model live after a pause
(each recording streamed after a second of a quiet room, as a microphone hears a voice: the
live row streams it from the stream's first sample), a microphone heard 4 s ahead
(`serve --mic --hear-ahead 4`: `heard_ahead`), the model alone without the
phone layer, and the loudness baseline (a linear map of the frame's level, fitted on these very
clips). The metrics are `evaluate._Acc`'s, pooled over all clips.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..audio.features import extract, prepare_audio
from ..audio.pcm import SAMPLE_RATE, from_s16
from ..errors import DataError
from .config import JAW, unpack_motion
from .evaluate import _Acc, _loudness, _segments, render_table
from .onnx_runtime import OnnxDenoiser
from .phones import (PhoneConfig, PhoneRecognizer, apply_phones, live_track, phrase_phones,
                     trusted_words)
from .streaming import LIVE, OFFLINE, Steering, generate
from .transcript import combine, teacher_mouth_at

ALSA_DIR = "/usr/share/sounds/alsa"
SPHINX_DIR = "/usr/share/pocketsphinx/test/data"
# Transcripts of pocketsphinx-testdata's raw recordings. goforward is the package's own test
# sentence; numbers and something are what pocketsphinx's en-us model recognises, checked by
# forced alignment (for numbers, "four or six" aligns better than "forty six" or "four six").
SPHINX_RAW = {"goforward": "go forward ten meters",
              "numbers": "thirty three four or six ninety two",
              "something": "go somewhere and do something"}
RESERVED = "librivox"  # the final check: never trained, tuned or reported on
NOT_SPEECH = {"Noise"}  # alsa-utils' Noise.wav is pink noise, not the spoken word
# The recordings by where their transcripts come from: the offline phone layer recognises words
# with pocketsphinx, so where the transcript is pocketsphinx's own recognition (numbers,
# something) its words match the reference's by construction; `eval --real` reports the groups.
GROUPS = (("alsa-utils", "alsa/"),
          ("testdata, published transcripts", "sphinx/cards/", "sphinx/goforward"),
          ("testdata, recognised transcripts", "sphinx/numbers", "sphinx/something"))


def group_of(name: str) -> str:
    return next(g[0] for g in GROUPS if any(name.startswith(p) for p in g[1:]))


@dataclass(frozen=True)
class RealClip:
    name: str  # e.g. "alsa/Front_Left", "sphinx/goforward"
    audio: np.ndarray  # (N,) float32, 16 kHz mono
    text: str  # transcript


@dataclass(frozen=True)
class RealEvalConfig:
    model: str | None = None  # .onnx; None = the shipped model
    alsa_dir: str = ALSA_DIR  # alsa-utils announcements
    sphinx_dir: str = SPHINX_DIR  # pocketsphinx-testdata
    seed: int = 0  # generation seed (the mouth starts from the mean: seeds hardly matter)
    best_lag_ms: float = 60.0  # jawOpen r is the best within +- this lag
    threads: int = 1
    phones: PhoneConfig | None = PhoneConfig()  # as serve and bake use them (None: off)


def _missing(path: Path, package: str) -> DataError:
    return DataError(f"real-voice recordings not found at {str(path)!r}: expected the Debian "
                     f"package {package} (apt-get install alsa-utils pocketsphinx-testdata)")


def real_clips(alsa_dir: str = ALSA_DIR, sphinx_dir: str = SPHINX_DIR) -> list[RealClip]:
    """The real recordings with their transcripts, in a fixed order (16 kHz mono)."""
    from ..data.align import read_audio

    alsa, sphinx = Path(alsa_dir), Path(sphinx_dir)
    wavs = sorted(alsa.glob("*.wav")) if alsa.is_dir() else []
    if not wavs:
        raise _missing(alsa, "alsa-utils")
    cards = sphinx / "cards" / "cards.transcription"
    if not cards.is_file() or not all((sphinx / f"{k}.raw").is_file() for k in SPHINX_RAW):
        raise _missing(sphinx, "pocketsphinx-testdata")
    clips = [RealClip(f"alsa/{w.stem}", read_audio(w), w.stem.replace("_", " ").lower())
             for w in wavs if w.stem not in NOT_SPEECH]
    for line in cards.read_text().splitlines():  # "<s> ten of clubs  </s> (001)"
        if "(" not in line:
            continue
        text, _, ident = line.rpartition("(")
        ident = ident.strip(" )")
        text = text.replace("<s>", " ").replace("</s>", " ").strip()
        clips.append(RealClip(f"sphinx/cards/{ident}", read_audio(sphinx / "cards" /
                                                                  f"{ident}.wav"), text))
    for key, text in SPHINX_RAW.items():
        pcm = from_s16(np.fromfile(sphinx / f"{key}.raw", dtype="<i2"))
        clips.append(RealClip(f"sphinx/{key}", pcm, text))  # already 16 kHz float32
    assert not any(RESERVED in c.name for c in clips)
    return clips


def reference(clip: RealClip, fps: float, aligner=None):
    """(teacher blendshapes (T, 52), viseme segments) from the forced alignment of the clip.

    The teacher's nominal speaker (no random style: articulation 1, lip lead 40 ms), so the
    reference does not depend on a seed. `aligner`: a `data.align.Aligner` to reuse across clips
    (it aligns exactly as a fresh one does); None makes one."""
    from ..data.align import Aligner
    from ..data.teacher import TeacherConfig, teach

    timeline = (aligner or Aligner()).align(clip.audio, clip.text)[0]
    track = teach(timeline, clip.audio, SAMPLE_RATE,
                  config=TeacherConfig(fps=fps, speaker_jitter=0.0), seed=0)
    return track.blendshapes, _segments(timeline)


ROWS = ("model offline", "model live", "model live, after a pause", "live clip, words heard",
        "live, heard 4 s ahead", "model alone offline", "model alone live", "loudness", "teacher")
PAUSE_ROW = "model live, after a pause"  # needs the phone layer, as the "model alone" rows do
PAUSE_S = 1.0  # the pause before each recording: a whole number of frames at 25 fps
PAUSE_RMS = 0.0005  # its quiet room: white noise at -66 dBFS (seeded)
CLIP_ROW = "live clip, words heard"  # needs the phone layer, as the "model alone" rows do
AHEAD_ROW = "live, heard 4 s ahead"  # `serve --mic --hear-ahead 4`; needs the phone layer
AHEAD_S = 4.0
# The hear-ahead row takes a phrase's words to be known this long per second of the phrase after
# the phrase ends (measured in the phone worker on this 2-core machine: 0.15-0.29), so the row
# does not depend on the machine it runs on.
HEAR_RATIO = 0.3
WORDS_ROWS = (CLIP_ROW, AHEAD_ROW, PAUSE_ROW)


def evaluate_real(config: RealEvalConfig = RealEvalConfig(), progress: bool = False) -> dict:
    """All rows over all clips, pooled; per-clip jawOpen r of the model rows beside. "model
    offline"/"model live" are what bake and serve make: the model's motion with the mouth of the
    phones heard in the voice (model/phones.py) unless `config.phones` is None; "model alone"
    rows are the model without them."""
    clips = real_clips(config.alsa_dir, config.sphinx_dir)
    den = OnnxDenoiser(config.model, threads=config.threads)
    fc = den.config.features
    fps = fc.fps
    names = ROWS if config.phones is not None else \
        tuple(r for r in ROWS if not r.startswith("model alone") and r not in WORDS_ROWS)
    rows = {name: _Acc() for name in names}
    by_group = {f"{row}: {g[0]}": _Acc() for row in ("model offline", "model live") + WORDS_ROWS
                if row in names for g in GROUPS}
    streams = {"model offline": OFFLINE, "model live": LIVE}
    recognizer = PhoneRecognizer(config.phones) if config.phones is not None else None

    def hear(samples):  # a phrase heard once it ended (`heard_ahead`)
        return phrase_phones(recognizer.hear(samples, SAMPLE_RATE), config.phones)

    per_clip, loud_all, jaw_all, items = [], [], [], []
    from ..data.align import Aligner
    aligner = Aligner()  # one pocketsphinx decoder for all clips
    it = clips
    if progress:
        from tqdm import tqdm
        it = tqdm(clips, desc="eval --real", leave=False)
    for clip in it:
        # The whole clip heard once: bake's mouth and a live clip's words both come from it.
        heard = None if recognizer is None else _Heard(recognizer.hear(clip.audio, SAMPLE_RATE))
        ts, segs = reference(clip, fps, aligner)
        audio = prepare_audio(clip.audio, fc.sample_rate, fc)
        feats = extract(audio, fc.sample_rate, fc)
        m = min(len(feats), len(ts))
        ts = ts[:m]
        loud = _loudness(audio, fc, m)
        rec = {"clip": clip.name, "text": clip.text, "seconds": len(audio) / fc.sample_rate}
        for name, stream in streams.items():
            model_shapes, rot, shapes = _streamed(den, clip.audio, feats, m, stream, config,
                                                  heard)
            if recognizer is not None:
                alone = name.replace("model", "model alone")
                rows[alone].add(model_shapes, rot, ts, loud, segs, fps)
                rec[alone] = float(np.corrcoef(model_shapes[:, JAW], ts[:, JAW])[0, 1])
            rows[name].add(shapes, rot, ts, loud, segs, fps)
            by_group[f"{name}: {group_of(clip.name)}"].add(shapes, rot, ts, loud, segs, fps)
            rec[name] = float(np.corrcoef(shapes[:, JAW], ts[:, JAW])[0, 1])
            if recognizer is not None and stream is LIVE:
                # a clip spoken to the live face: its words heard whole give its mouth
                words = trusted_words(heard.heard, config.phones)
                clip_shapes = shapes if words is None else \
                    combine(shapes, teacher_mouth_at(words, np.arange(m) / fps))
                # a microphone heard ahead: phrases cut as they arrive, each heard once it ended
                ahead = heard_ahead(model_shapes, clip.audio, fps, AHEAD_S, hear,
                                    stream.lookahead_ms(den.config) / 1000.0, config.phones)
                paused, paused_rot = _after_pause(den, clip.audio, m, config)
                for row, got, r in ((CLIP_ROW, clip_shapes, rot), (AHEAD_ROW, ahead, rot),
                                    (PAUSE_ROW, paused, paused_rot)):
                    rows[row].add(got, r, ts, loud, segs, fps)
                    by_group[f"{row}: {group_of(clip.name)}"].add(got, r, ts, loud, segs, fps)
                    rec[row] = float(np.corrcoef(got[:, JAW], ts[:, JAW])[0, 1])
        rows["teacher"].add(ts, None, ts, loud, segs, fps)
        per_clip.append(rec)
        loud_all.append(loud)
        jaw_all.append(ts[:, JAW])
        items.append((ts, loud, segs))
    # loudness -> jaw: the linear map fitted on these very clips (a generous baseline)
    a, b = np.polyfit(np.clip(np.concatenate(loud_all), -70, 0), np.concatenate(jaw_all), 1)
    for ts, loud, segs in items:
        shapes = np.zeros_like(ts)
        shapes[:, JAW] = np.clip(a * np.clip(loud, -70, 0) + b, 0, 1)
        rows["loudness"].add(shapes, None, ts, loud, segs, fps)
    seconds = sum(r["seconds"] for r in per_clip)
    return {"config": asdict(config), "model": str(den.path), "clips": len(clips),
            "seconds": seconds, "fps": fps, "per_clip": per_clip,
            "rows": {k: v.result(fps, config.best_lag_ms) for k, v in rows.items()},
            "groups": {k: _counted(v.result(fps, config.best_lag_ms))
                       for k, v in by_group.items()}}


def _after_pause(den: OnnxDenoiser, audio_16k: np.ndarray, m: int,
                 config: RealEvalConfig) -> tuple[np.ndarray, np.ndarray]:
    """((m, 52) shapes, (m, 3) rotation): the model live with the live phone layer, the
    recording streamed after PAUSE_S of a quiet room (PAUSE_RMS white noise, the same every
    run), the pause's frames dropped."""
    fc = den.config.features
    lead = int(round(PAUSE_S * fc.fps))
    room = np.random.default_rng(0).standard_normal(int(round(PAUSE_S * SAMPLE_RATE)))
    stream = np.concatenate([(PAUSE_RMS * room).astype(np.float32),
                             np.asarray(audio_16k, np.float32)])
    feats = extract(prepare_audio(stream, fc.sample_rate, fc), fc.sample_rate, fc)
    _, rot, out = _streamed(den, stream, feats, lead + m, LIVE, config, None)
    return out[lead:lead + m], rot[lead:lead + m]


def _streamed(den: OnnxDenoiser, audio_16k: np.ndarray, feats: np.ndarray, n: int, stream,
              config: RealEvalConfig, heard) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """((n, 52) the model's shapes, (n, 3) rotation, (n, 52) the shapes with the phone layer's
    mouth as bake or serve make it, `_with_phones`; the model's when `config.phones` is None)
    for a clip's features generated as `stream` does."""
    raw = generate(den, den.config, feats, stream, Steering("neutral"), seed=config.seed)
    shapes, rot, _ = unpack_motion(raw[:n])
    if config.phones is None:
        return shapes, rot, shapes
    return shapes, rot, _with_phones(shapes, audio_16k, stream, den.config, config.phones, heard)


def heard_ahead(model_shapes: np.ndarray, audio_16k: np.ndarray, fps: float, delay_s: float,
                hear, lookahead_s: float, phones: PhoneConfig) -> np.ndarray:
    """(T, 52) the model's live shapes (frame i at i / fps of the clip) -> with the mouth
    `serve --mic --hear-ahead delay_s` gives them: the clip fed to `audio.ahead.Phrases` hop by
    hop (with a second of silence after it, so its last phrase ends), each phrase heard
    (`hear(samples)` -> `phones.phrase_phones`' result) and known HEAR_RATIO x its length after
    it ended. Frame i plays at i / fps + delay_s: the live phone layer (`live_track`, the
    stream's `lookahead_s`) takes a phrase's recognised phones (`HeardPhones`) for its frames
    once they are known (`LivePhones.hear_phrase`), and a phrase's trusted words give the mouth
    of the frames that play after they are known (eased in over LATE_RAMP frames, as
    `transcript.LateMouth` does)."""
    from ..audio.ahead import Phrases
    from .phones import HeardPhones
    from .transcript import LateMouth, MouthOverlay
    phrases = []
    cut = Phrases(lambda samples, start: phrases.append((start, samples)))
    hop = int(round(SAMPLE_RATE / fps))
    padded = np.concatenate([np.asarray(audio_16k, np.float32), np.zeros(SAMPLE_RATE, np.float32)])
    for k in range(0, len(padded) - hop + 1, hop):
        cut(padded[k:k + hop], k)
    steering, words = [], []
    for start, samples in phrases:
        got = hear(samples)
        known = start + (1.0 + HEAR_RATIO) * len(samples)  # a sample of the voice, as it comes
        if isinstance(got, HeardPhones):  # the stream, delay_s late, has pushed known - delay
            overlay = MouthOverlay.at(got.timeline, start, len(samples), SAMPLE_RATE, fps)
            steering.append((known - delay_s * SAMPLE_RATE, overlay))
        elif got is not None:
            words.append((start, samples, got, known))
    out = live_track(audio_16k, len(model_shapes), fps, lookahead_s, phones,
                     phrases=steering).steer(model_shapes, phones)
    for start, samples, timeline, known in words:
        late = LateMouth(start, len(samples), SAMPLE_RATE, fps)
        late.fill(timeline)
        first = max(0, int(np.ceil((known / SAMPLE_RATE - delay_s) * fps - 1e-9)))
        for i in range(first, len(out)):
            out[i] = late.apply(out[i], i)
    return out


class _Heard:
    """A recogniser that has already heard the clip (`PhoneRecognizer.hear`'s result)."""

    def __init__(self, heard) -> None:
        self.heard = heard

    def hear(self, audio, rate):
        return self.heard


def _counted(result: dict) -> dict:
    """A group's result with no rate where it has nothing to count (alsa has no /p b m/)."""
    for rate, counts in (("closure_rate", "closures"), ("open_vowel_rate", "open_vowels")):
        if not result[counts][1]:
            result[rate] = None
    return result


def _with_phones(shapes: np.ndarray, audio_16k: np.ndarray, stream, model_config,
                 phones: PhoneConfig, recognizer: PhoneRecognizer | _Heard) -> np.ndarray:
    """The model's shapes with the heard phones' mouth, as bake (whole clip, heard by
    `recognizer`) or serve (live, frame by frame with the stream's look-ahead) make it."""
    fps = model_config.features.fps
    if stream is LIVE:
        return live_track(audio_16k, len(shapes), fps, stream.lookahead_ms(model_config) / 1000.0,
                          phones).steer(shapes, phones)
    return apply_phones(shapes, audio_16k, SAMPLE_RATE, fps, phones, recognizer)


COLUMNS = [("jaw_r_best", "jawOpen r", "{:.3f}"), ("jaw_r_best_lag_ms", "at lag ms", "{:+.0f}"),
           ("jaw_r", "r at 0", "{:.3f}"),
           ("closure_rate", "/p b m/ sealed", "{:.1%}"),
           ("false_seal_rate", "false seals", "{:.1%}"),
           ("open_vowel_rate", "open vowels", "{:.1%}"),
           ("offset_vs_teacher_ms", "lag ms", "{:+.0f}")]


def format_real(result: dict) -> str:
    r = result["rows"]["teacher"]
    return (f"{result['clips']} real recordings ({result['seconds']:.1f} s; alsa-utils, "
            f"pocketsphinx-testdata), reference: the teacher on the forced alignment; "
            f"{r['closures'][1]} /p b m/, {r['open_vowels'][1]} open vowels\n"
            + render_table(result["rows"], COLUMNS)
            + "\nby where the transcripts come from (the offline mouth recognises words with "
              "pocketsphinx: on its own recognised transcripts it matches the reference by "
              "construction):\n" + render_table(result["groups"], COLUMNS))
