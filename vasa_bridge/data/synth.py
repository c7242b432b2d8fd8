"""Synthetic corpus generation: text -> engine speech + phoneme timings -> teacher motion ->
augmented audio -> one clip file.

Clip `i`'s plan is a pure function of (config, i): its language, engine, voice, prosody, text,
teacher seed and augmentation are drawn from `numpy.random.default_rng([seed, i])`, and every
engine's audio is a function of the text, voice and prosody alone (espeak-ng's library is
loaded afresh for each utterance: `engines/espeak.py`), so a clip's audio and motion are the
same in any worker, in any order, on any rerun. A run makes clips
0, 1, 2, ... until the requested hours are reached, in batches sized from the hours still
missing; a rerun skips clip files that already exist, so it resumes (and `--hours` can grow).
"""

from __future__ import annotations

import math
import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DataError
from .augment import apply_augmentation, draw_augmentation, draw_capture_chain
from .dataset import FORMAT, SAMPLE_RATE, VERSION, read_row, write_clip, write_json, \
    write_manifest
from .engines import DEFAULT_ENGINES, ENGINES, Prosody, Voice, open_engine
from .teacher import Speaker, TeacherConfig, teach
from .text import LANGUAGES, make_text

AVERAGE_CLIP_S = 7.0  # planning guess (measured ~7 s); real durations decide when to stop
# Speakers added after the documented corpora were made (docs/model.md's data card). They join
# a corpus only when asked (`more_voices`: they change the voice draws, so without it a seed
# makes the same corpus as before) and are never held out, so a seed holds out the same
# speakers with or without them and models stay comparable on the same validation voices.
LATER_SPEAKERS = frozenset({"festival:ked",  # festvox-kdlpc16k (issue 15)
                            "festival:lp", "festival:pc"})  # festvox-ita*p16k (issue 15)


@dataclass(frozen=True)
class SynthConfig:
    out: str  # dataset folder
    hours: float = 1.0  # audio to generate, hours
    languages: tuple[str, ...] = ("en",)  # dataset language codes (text.LANGUAGES)
    engines: tuple[str, ...] = DEFAULT_ENGINES  # speech engines to use where they have voices
    seed: int = 0  # everything random derives from it
    fps: float = 25.0  # motion frames per second
    validation_fraction: float = 0.1  # share of speakers held out (whole speakers)
    augment_probability: float = 0.8  # share of clips with augmented audio
    capture_chain: float = 0.0  # share of those that get the full capture chain instead
    # (augment.draw_capture_chain: microphone colouring, room, lossy codec, noise, level)
    festival_share: float = 0.25  # share of English clips spoken by festival when available
    more_voices: bool = False  # also LATER_SPEAKERS (real-voice diphones added for issue 15)
    workers: int = 2  # processes (1: in this process)
    teacher: TeacherConfig = field(default_factory=TeacherConfig)

    def __post_init__(self) -> None:
        if not 0 < self.hours <= 10000:
            raise DataError(f"hours is {self.hours!r}: expected a number in (0, 10000]")
        for lang in self.languages:
            if lang not in LANGUAGES:
                raise DataError(f"language {lang!r} has no corpus text: expected some of "
                                f"{list(LANGUAGES)}")
        for eng in self.engines:
            if eng not in ENGINES:
                raise DataError(f"engine {eng!r} is unknown: expected some of {list(ENGINES)}")
        if not self.languages or not self.engines:
            raise DataError("synth needs at least one language and one engine")
        if not 0 < self.validation_fraction < 1:
            raise DataError(f"validation_fraction is {self.validation_fraction!r}: expected "
                            f"(0, 1)")
        if not 0 <= self.capture_chain <= 1:
            raise DataError(f"capture_chain is {self.capture_chain!r}: expected 0..1")
        if self.workers < 1:
            raise DataError(f"workers is {self.workers!r}: expected >= 1")
        if self.teacher.fps != self.fps:
            object.__setattr__(self, "teacher", TeacherConfig(**{**asdict(self.teacher),
                                                                "fps": self.fps}))

    def identity(self) -> dict:
        """What must match for a rerun to extend the same dataset."""
        return {"seed": self.seed, "languages": list(self.languages),
                "engines": list(self.engines), "fps": self.fps,
                "validation_fraction": self.validation_fraction,
                "augment_probability": self.augment_probability,
                "festival_share": self.festival_share, "teacher": asdict(self.teacher)} | (
            {"capture_chain": self.capture_chain} if self.capture_chain else {}) | (
            {"more_voices": True} if self.more_voices else {})


# --- planning (cheap, in the parent process) -----------------------------------------------------


def voice_catalogue(config: SynthConfig) -> dict[tuple[str, str], list[Voice]]:
    """(language, engine) -> voices, for the engines installed here."""
    out: dict[tuple[str, str], list[Voice]] = {}
    for name in config.engines:
        engine = _engine(name)
        for lang in config.languages:
            voices = [v for v in engine.voices(lang)
                      if config.more_voices or v.speaker not in LATER_SPEAKERS]
            if voices:
                out[(lang, name)] = voices
    for lang in config.languages:
        if not any(k[0] == lang for k in out):
            raise DataError(f"no installed engine speaks language {lang!r}: expected espeak-ng "
                            f"(pip install espeakng-loader) or festival for 'en'")
    return out


def validation_speakers(config: SynthConfig, catalogue) -> list[str]:
    """Whole speakers held out for validation: a seeded choice, at least one, never an engine's
    last training speaker nor one of LATER_SPEAKERS."""
    by_engine: dict[str, set[str]] = {}
    for (_, eng), voices in catalogue.items():
        by_engine.setdefault(eng, set()).update(v.speaker for v in voices)
    speakers = sorted(set().union(*by_engine.values()) - LATER_SPEAKERS)
    rng = np.random.default_rng([config.seed, 0x5A17])
    order = [speakers[i] for i in rng.permutation(len(speakers))]
    want = max(1, round(config.validation_fraction * len(speakers)))
    chosen: list[str] = []
    for spk in order:
        if len(chosen) >= want:
            break
        eng = spk.split(":", 1)[0]
        if len(by_engine[eng] - set(chosen) - {spk}) >= 1:
            chosen.append(spk)
    return sorted(chosen)


def plan_clip(config: SynthConfig, catalogue, val: set[str], index: int) -> dict:
    """Everything random about clip `index`, as a JSON-able dict."""
    rng = np.random.default_rng([config.seed, index])
    lang = config.languages[int(rng.integers(len(config.languages)))]
    engines = sorted(e for (l, e) in catalogue if l == lang)
    if "festival" in engines and len(engines) > 1:
        eng = "festival" if rng.random() < config.festival_share else \
            [e for e in engines if e != "festival"][int(rng.integers(len(engines) - 1))]
    else:
        eng = engines[int(rng.integers(len(engines)))]
    # The split is drawn first, then a voice of that split: validation gets its share of the
    # audio however few speakers it holds.
    split = "validation" if rng.random() < config.validation_fraction else "train"
    voices = [v for v in catalogue[(lang, eng)] if (v.speaker in val) == (split == "validation")]
    if not voices:  # this engine has no speaker on that side
        voices = catalogue[(lang, eng)]
    voice = voices[int(rng.integers(len(voices)))]
    prosody = Prosody(rate=round(float(rng.uniform(0.8, 1.25)), 3),
                      pitch=round(float(rng.uniform(0.85, 1.2)), 3),
                      range=round(float(rng.uniform(0.6, 1.5)), 3))
    text, kind = make_text(rng, lang)
    augmentation = draw_augmentation(rng) if rng.random() < config.augment_probability else None
    if augmentation and config.capture_chain:  # its own generator: other draws stay as they were
        chain_rng = np.random.default_rng([config.seed, index, 1])
        if chain_rng.random() < config.capture_chain:
            augmentation = draw_capture_chain(chain_rng)
    return {"index": index, "language": lang, "engine": eng, "voice": asdict(voice),
            "prosody": asdict(prosody), "text": text, "kind": kind,
            "teacher_seed": int(rng.integers(0, 2**31 - 1)), "augmentation": augmentation,
            "split": "validation" if voice.speaker in val else "train"}  # by voice, always


# --- one clip (in a worker) ---------------------------------------------------------------------

_ENGINES: dict[str, object] = {}


def _engine(name: str):
    if name not in _ENGINES:
        _ENGINES[name] = open_engine(name)
    return _ENGINES[name]


def make_clip(config: SynthConfig, plan: dict) -> dict:
    """Synthesise, teach, augment and store one planned clip; returns its manifest row."""
    voice = Voice(**plan["voice"])
    utt = _engine(plan["engine"]).synth(plan["text"], voice, Prosody(**plan["prosody"]))
    rng = np.random.default_rng(plan["teacher_seed"])
    speaker = Speaker.draw(rng, config.teacher)
    # The teacher hears the clean speech; the model will hear the augmented one.
    motion = teach(utt.phonemes, utt.audio, SAMPLE_RATE, config=config.teacher,
                   seed=plan["teacher_seed"], speaker=speaker,
                   question=plan["kind"] == "question")
    audio = apply_augmentation(utt.audio, plan["augmentation"]) if plan["augmentation"] \
        else utt.audio
    meta = {"engine": plan["engine"], "voice": voice.name, "speaker": voice.speaker,
            "gender": voice.gender, "language": plan["language"], "text": plan["text"],
            "kind": plan["kind"], "prosody": plan["prosody"], "seed": config.seed,
            "index": plan["index"], "teacher_seed": plan["teacher_seed"],
            "style": speaker.as_dict(), "augmentation": plan["augmentation"],
            "split": plan["split"], "source": "synth"}
    return write_clip(Path(config.out), plan["index"], audio, utt.phonemes, motion, meta)


def _worker(args) -> dict:
    config, plan = args
    return make_clip(config, plan)


# --- the run ------------------------------------------------------------------------------------


def _advance(bar, seconds: float) -> None:
    if bar is not None:  # the last batch may overshoot the target: keep the bar within it
        bar.update(max(0.0, min(seconds, bar.total - bar.n)))


def synth_dataset(config: SynthConfig, progress: bool = True) -> dict:
    """Generate (or resume) a dataset; returns a summary (clips, hours, made, skipped)."""
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    info_path = out / "dataset.json"
    if info_path.is_file():
        import json
        old = json.loads(info_path.read_text())
        if old.get("kind") != "synth":
            raise DataError(f"{str(out)!r} holds a {old.get('kind')!r} dataset: expected an "
                            f"empty folder or a synth dataset to resume")
        for key, value in config.identity().items():
            if old.get(key) != value:
                raise DataError(f"{str(out)!r} was made with {key}={old.get(key)!r}, this run "
                                f"asks {key}={value!r}: expected the same settings to resume "
                                f"(or a new folder)")
    catalogue = voice_catalogue(config)
    val = validation_speakers(config, catalogue)
    all_speakers = sorted({v.speaker for vs in catalogue.values() for v in vs})
    info = {"format": FORMAT, "version": VERSION, "kind": "synth", "sample_rate": SAMPLE_RATE,
            **config.identity(), "hours_requested": config.hours,
            "speakers": {"train": [s for s in all_speakers if s not in val],
                         "validation": val}}
    write_json(info_path, info)

    target = config.hours * 3600.0
    rows: dict[int, dict] = {}
    made = skipped = 0
    total = 0.0
    next_index = 0
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=round(target), desc="dataset synth", smoothing=0.05,
                   bar_format="{l_bar}{bar}| {n:.0f}/{total_fmt} s audio "
                              "[{elapsed}<{remaining}]")
    pool = None
    if config.workers > 1:
        # spawn, not fork: the parent may hold a festival pipe and espeak's global state. An
        # executor (not mp.Pool) raises BrokenProcessPool if a worker dies instead of hanging.
        pool = ProcessPoolExecutor(config.workers, mp_context=mp.get_context("spawn"))
    try:
        while total < target:
            # plan a bit less than the missing audio, so the last batch overshoots little; the
            # batches do not depend on the workers, so any number of them makes the same clips
            batch = max(1, math.ceil(0.85 * (target - total) / AVERAGE_CLIP_S))
            indices = range(next_index, next_index + batch)
            next_index += batch
            todo = []
            for i in indices:
                row = read_row(out, i)
                if row is not None:
                    rows[i] = row
                    skipped += 1
                    total += row["duration_s"]
                    _advance(bar, row["duration_s"])
                else:
                    todo.append((config, plan_clip(config, catalogue, set(val), i)))
            results = pool.map(_worker, todo) if pool else map(_worker, todo)
            for row in results:
                rows[row["index"]] = row
                made += 1
                total += row["duration_s"]
                _advance(bar, row["duration_s"])
    finally:
        if pool:
            pool.shutdown(cancel_futures=True)
        if bar:
            bar.close()
    write_manifest(out, list(rows.values()))
    return {"clips": len(rows), "hours": total / 3600.0, "made": made, "skipped": skipped,
            "validation_speakers": val}
