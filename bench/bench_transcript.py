"""Exact lips when the words are known (`bake --text`), measured on real human recordings.

Clips: Debian's pocketsphinx-testdata (cards 001-005 with cards.transcription; goforward,
"go forward ten meters"; something and numbers, whose transcripts are what pocketsphinx itself
recognises, as the package ships none) and alsa-utils' channel announcements (transcript = the
file name). Never the package's librivox/ folder: it is reserved.

Reference: the viseme teacher on the forced alignment of the transcript (what the model imitates).
Routes compared (all keep the model's head, eyes and brows):
  model         the audio-only bake (no transcript)
  seal-only     the model's mouth, with the alignment's /p b m/ closures laid over it
  teacher-mouth the teacher's articulation on the alignment (what `bake --text` does)
Per route: jawOpen r against the reference (pooled, zero lag, and the mean over three random
teacher speaking styles), /p b m/ sealed (lip gap jawOpen - mouthClose < 0.1 within +-80 ms of
the segment, pooled), false seals (frames the reference opens that come out sealed), and the
largest difference from the audio-only bake in head pose, eyes and brows.

Words missing: each transcript with only the first or the second half of its words, against the
reference on the whole transcript: the audio-only bake, the partial transcript's mouth everywhere
(as before `TextOutcome.unspoken`) and as shipped; `--margin-sweep` runs only that, at several
margins around the stretches without words. Then one card's words left out of cards 001-005
joined (a sentence missing in the middle: the whole does not fit; stretches do).

Then the fit check: alignment score per speech frame of right and of wrong transcripts (every
clip with another clip's transcript, and near misses that change one word), natural TTS voices
(festival) and the formant voices of espeak-ng; and German, French and Spanish clips from espeak-ng
with their text: the language message and an audio-only bake. Also how open the `--text` mouth
is where the recording is silent (60 ms or more before or after the speech, by level), with the
alignment as it ships (cut back to the speech) and with pocketsphinx's raw boundaries.

    OMP_NUM_THREADS=1 python bench/bench_transcript.py [--json out.json]
        [--festival-voices voice_kal_diphone,voice_cmu_us_slt_arctic_hts] [--margin-sweep]
"""

from __future__ import annotations

import argparse
import glob
import io
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vasa_bridge.data.align import Aligner  # noqa: E402
from vasa_bridge.data.teacher import Speaker, TeacherConfig, mouth  # noqa: E402
from vasa_bridge.model.bake import BakeConfig, bake_audio_text  # noqa: E402
from vasa_bridge.model.config import CLOSE, JAW, SEAL_APERTURE  # noqa: E402
from vasa_bridge.model.evaluate import _segments  # noqa: E402
from vasa_bridge.model.onnx_runtime import OnnxDenoiser  # noqa: E402
from vasa_bridge.model.transcript import (MODEL_CHANNELS, TranscriptConfig,  # noqa: E402
                                          teacher_mouth)

DATA = "/usr/share/pocketsphinx/test/data"
SLACK_S = 0.08  # as model/evaluate.py


def real_clips() -> dict[str, tuple[np.ndarray, str]]:
    """name -> (16 kHz mono audio, transcript)."""
    import soundfile as sf
    from vasa_bridge.data.engines.base import to_16k

    def raw(path):
        return np.frombuffer(Path(path).read_bytes(), "<i2").astype(np.float32) / 32768

    def wav(path):
        a, r = sf.read(path, dtype="float32", always_2d=True)
        return to_16k(a.mean(axis=1), r)

    out = {}
    for line in Path(f"{DATA}/cards/cards.transcription").read_text().splitlines():
        words, _, utt = line.rpartition("(")
        utt = utt.strip(") ")
        out[f"cards/{utt}"] = (wav(f"{DATA}/cards/{utt}.wav"),
                               words.replace("<s>", "").replace("</s>", "").strip())
    out["goforward"] = (raw(f"{DATA}/goforward.raw"), "go forward ten meters")
    out["something"] = (raw(f"{DATA}/something.raw"), "go somewhere and do something")
    out["numbers"] = (raw(f"{DATA}/numbers.raw"), "thirty three four six ninety two")
    for path in sorted(glob.glob("/usr/share/sounds/alsa/*.wav")):
        name = Path(path).stem
        if name != "Noise":  # no speech in it
            out[f"alsa/{name}"] = (wav(path), name.replace("_", " ").lower())
    return out


def near_miss(text: str) -> str:
    """The transcript with one word changed."""
    swap = {"left": "right", "right": "left", "clubs": "hearts", "ten": "two", "go": "stop",
            "front": "back", "rear": "near", "side": "top", "center": "corner", "five": "nine",
            "seven": "seventy", "four": "fourteen", "eight": "eighty", "thirty": "forty"}
    words = text.split()
    for i, w in enumerate(words):
        if w in swap:
            return " ".join(words[:i] + [swap[w]] + words[i + 1:])
    return text + " please"


class Acc:
    def __init__(self):
        self.jaw, self.ref, self.styles = [], [], []
        self.sealed, self.bilabials, self.false, self.open = 0, 0, 0, 0
        self.kept = 0.0

    def add(self, shapes, base, ref, ref_styles, segments, fps):
        n = len(shapes)
        self.jaw.append(shapes[:, JAW])
        self.ref.append(ref[:, JAW])
        self.styles.append([s[:, JAW] for s in ref_styles])
        gap = shapes[:, JAW] - shapes[:, CLOSE]
        times = np.arange(n) / fps
        for vis, s, e in segments:
            if vis == "PP":
                sel = (times >= s - SLACK_S) & (times <= e + SLACK_S)
                if sel.any():
                    self.bilabials += 1
                    self.sealed += int(gap[sel].min() < SEAL_APERTURE)
        apart = ref[:, JAW] - ref[:, CLOSE] >= SEAL_APERTURE
        self.open += int(apart.sum())
        self.false += int((apart & (gap < SEAL_APERTURE)).sum())
        self.kept = max(self.kept, float(np.abs(shapes[:, MODEL_CHANNELS]
                                                - base[:, MODEL_CHANNELS]).max()))

    def result(self) -> dict:
        jaw, ref = np.concatenate(self.jaw), np.concatenate(self.ref)
        k = len(self.styles[0])
        style_r = np.mean([np.corrcoef(jaw, np.concatenate([s[i] for s in self.styles]))[0, 1]
                           for i in range(k)])
        return {"jaw_r": float(np.corrcoef(jaw, ref)[0, 1]), "jaw_r_styles": float(style_r),
                "sealed": self.sealed / max(self.bilabials, 1), "bilabials": self.bilabials,
                "false_seals": self.false / max(self.open, 1),
                "model_channels_max_diff": self.kept}


def seal_only(model_shapes: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """The model's mouth with the reference's sealed frames laid over it (jaw and lip seal)."""
    out = model_shapes.copy()
    sealed = ref[:, JAW] - ref[:, CLOSE] < SEAL_APERTURE
    sealed &= ref[:, JAW] > 0  # not rest: silence keeps the model's mouth
    out[sealed, JAW] = ref[sealed, JAW]
    out[sealed, CLOSE] = ref[sealed, CLOSE]
    return out


def routes(clips, den, aligner) -> tuple[dict, list]:
    acc = {"model": Acc(), "seal-only": Acc(), "teacher-mouth": Acc()}
    head_diff, rows = 0.0, []
    for name, (audio, text) in clips.items():
        base, _ = bake_audio_text(audio, 16000, BakeConfig(keep_audio=False), den)
        track, outcome = bake_audio_text(audio, 16000, BakeConfig(keep_audio=False), den,
                                         text=text, aligner=aligner)
        rows.append((name, text, outcome.fit, outcome.used))
        if not outcome.used:
            continue
        timeline, _ = aligner.align(audio, text)
        n, fps = len(track), track.fps
        ref = teacher_mouth(timeline, n, fps)
        styles = [mouth(timeline, np.arange(n) / fps,
                        Speaker.draw(np.random.default_rng(seed), TeacherConfig(fps=fps)))
                  for seed in (1, 2, 3)]
        segs = _segments(timeline)
        shapes = {"model": base.blendshapes, "seal-only": seal_only(base.blendshapes, ref),
                  "teacher-mouth": track.blendshapes}
        for key, a in acc.items():
            a.add(shapes[key], base.blendshapes, ref, styles, segs, fps)
        head_diff = max(head_diff, float(np.abs(track.head_rotation - base.head_rotation).max()),
                        float(np.abs(track.head_translation - base.head_translation).max()))
    return {k: v.result() for k, v in acc.items()} | {"head_pose_max_diff": head_diff}, rows


def words_missing(clips, den, aligner) -> dict:
    """Transcripts that leave words out (the second half of the words, or the first): the
    audio-only bake, the transcript's mouth everywhere (before: the stretch it has no words for
    gets the teacher's silence, a shut mouth) and as shipped (the audio's mouth in the stretches
    `TextOutcome.unspoken` names), each against the reference on the whole transcript; and the
    longest stretch of speech left outside the phones, with right and with partial transcripts
    (what UNSPOKEN_MIN_S is set between)."""
    from vasa_bridge.model.transcript import combine
    acc = {"model": Acc(), "teacher everywhere": Acc(), "shipped": Acc()}
    runs = {"right": [], "partial": []}
    used = flagged = tried = 0
    for audio, text in clips.values():
        words = text.split()
        base = None
        for part in ([], words[:len(words) // 2], words[len(words) // 2:]):
            partial = " ".join(part) if part else text
            try:
                timeline, score = aligner.align(audio, partial)
            except Exception:
                continue
            unspoken = score.unspoken
            runs["partial" if part else "right"].append(
                max((b - a for a, b in _uncovered(audio, timeline)), default=0.0))
            if not part or len(words) < 2:
                continue
            tried += 1
            if base is None:
                base, _ = bake_audio_text(audio, 16000, BakeConfig(keep_audio=False), den)
                ref_tl, _ = aligner.align(audio, text)
                n, fps = len(base), base.fps
                ref = teacher_mouth(ref_tl, n, fps)
                styles = [ref]
                segs = _segments(ref_tl)
            track, outcome = bake_audio_text(audio, 16000, BakeConfig(keep_audio=False), den,
                                             text=partial, aligner=aligner)
            if not outcome.used:
                continue
            used += 1
            flagged += bool(unspoken)
            everywhere = combine(base.blendshapes, teacher_mouth(timeline, n, fps))
            for key, shapes in (("model", base.blendshapes), ("teacher everywhere", everywhere),
                                ("shipped", track.blendshapes)):
                acc[key].add(shapes, base.blendshapes, ref, styles, segs, fps)
    return {"tried": tried, "used": used, "flagged": flagged,
            "routes": {k: v.result() for k, v in acc.items()},
            "longest_right": max(runs["right"]), "shortest_longest_partial":
                min(runs["partial"]), "partial_runs": len(runs["partial"])}


def middle_missing(clips, den, aligner) -> dict:
    """Cards 001-005 (one real speaker) joined with 0.25 s gaps, transcribed but for one card's
    words (each card in turn, first and last included): the whole transcript does not fit, so
    before, the bake fell back to the audio alone; now the aligner tries again in stretches
    (`Aligner`, RESCUE_STRETCH_S) and keeps the words of the stretches that fit. Against the
    reference on the whole transcript."""
    cards = [clips[f"cards/00{k}"] for k in range(1, 6)]
    gap = np.zeros(4000, np.float32)
    audio = np.concatenate([np.concatenate([a, gap]) for a, _ in cards])
    ref_tl, _ = aligner.align(audio, " ".join(t for _, t in cards))
    base, _ = bake_audio_text(audio, 16000, BakeConfig(keep_audio=False), den)
    n, fps = len(base), base.fps
    ref = teacher_mouth(ref_tl, n, fps)
    segs = _segments(ref_tl)
    from vasa_bridge.model.transcript import MIN_FIT, combine
    acc = {"model": Acc(), "before": Acc(), "shipped": Acc()}
    used = used_before = 0
    rows = []
    for k in range(len(cards)):
        partial = " ".join(t for j, (_, t) in enumerate(cards) if j != k)
        whole, score = aligner.align(audio, partial)  # no floor: aligned whole, as before
        before = base.blendshapes  # the whole did not fit: the audio alone
        if score.per_frame >= MIN_FIT:  # it did: its mouth everywhere, shut where words lack
            before = combine(base.blendshapes, teacher_mouth(whole, n, fps))
            used_before += 1
        track, outcome = bake_audio_text(audio, 16000, BakeConfig(keep_audio=False), den,
                                         text=partial, aligner=aligner)
        used += outcome.used
        rows.append(outcome.message)
        for key, shapes in (("model", base.blendshapes), ("before", before),
                            ("shipped", track.blendshapes)):
            acc[key].add(shapes, base.blendshapes, ref, [ref], segs, fps)
    # and wrong transcripts of the same joined recording: the other clips' words, any order
    import random
    rng = random.Random(0)
    others = [t for name, (_, t) in clips.items() if not name.startswith("cards/")]
    wrong = [" ".join(rng.sample(others, 6)) for _ in range(6)]
    wrong.append(" ".join(t for _, t in cards[::-1]))  # the right words, the cards reversed
    from vasa_bridge.model.transcript import align_text
    wrong_used = sum(align_text(audio, t, aligner=aligner)[1].used for t in wrong)
    return {"cases": len(cards), "used": used, "used_before": used_before, "messages": rows,
            "routes": {k: v.result() for k, v in acc.items()}, "wrong": len(wrong),
            "wrong_used": wrong_used}


def margin_sweep(festival) -> int:
    """The words-missing "shipped" route at several margins around the stretches without words
    (chosen on festival's voices; the real recordings reported)."""
    import vasa_bridge.model.transcript as transcript
    logging.basicConfig(level=logging.ERROR, stream=io.StringIO())
    den, aligner = OnnxDenoiser(None, threads=1), Aligner()
    shipped = transcript.UNSPOKEN_MARGIN_S
    for key, clips in (("festival", festival_clips(festival)), ("real", real_clips())):
        for margin in (0.0, 0.08, 0.12, 0.16, 0.2):
            transcript.UNSPOKEN_MARGIN_S = margin
            r = words_missing(clips, den, aligner)["routes"]["shipped"]
            print(f"{key:<8} margin {margin:.2f} s{' (shipped)' if margin == shipped else ''}: "
                  f"jawOpen r {r['jaw_r']:.3f}, sealed {r['sealed']:.1%}, false seals "
                  f"{r['false_seals']:.1%}", flush=True)
    transcript.UNSPOKEN_MARGIN_S = shipped
    return 0


def _uncovered(audio, timeline):
    """Runs (start s, end s) of speech by level outside every speech phone of `timeline`."""
    from vasa_bridge.data.align import speech_frames
    from vasa_bridge.data.phonemes import SILENCE, normalise_label
    loud = speech_frames(audio)
    inside = np.zeros(len(loud), bool)
    for lab, s, e in zip(timeline.labels, timeline.starts, timeline.ends):
        if normalise_label(lab, "arpabet") != SILENCE:
            inside[int(round(s / 0.01)):int(round(e / 0.01))] = True
    out = np.concatenate([[0], (loud & ~inside).astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(out))
    return [(a * 0.01, b * 0.01) for a, b in zip(edges[::2], edges[1::2])]


def _voices(eng, names: list[str] | None):
    """The engine's English voices, or only those named (in the engine's order)."""
    voices = eng.voices("en")
    return voices if names is None else [v for v in voices if v.name in names]


def festival_clips(names: list[str] | None = None) -> dict[str, tuple[np.ndarray, str]]:
    """Natural TTS (festival's English voices, or those named) reading lines full of /p b m/."""
    from vasa_bridge.data.engines import Prosody, open_engine
    lines = ("Bob bought a big black bag.", "Maybe the map is in my pocket.",
             "Please bring some bread and butter, mum.", "Pam keeps a pet lamb by the pump.")
    eng = open_engine("festival")
    try:
        return {f"{v.name}/{k}": (eng.synth(t, v, Prosody()).audio, t)
                for v in _voices(eng, names) for k, t in enumerate(lines)}
    finally:
        eng.close()


def outside_speech(clips, margin_s: float = 0.06) -> dict:
    """The `--text` mouth where the recording is silent: frames lying wholly `margin_s` or more
    before the speech starts or after it ends (by level, `data.align.speech_frames`), with the
    alignment cut back to the speech (what ships) and with pocketsphinx's own boundaries."""
    from vasa_bridge.data.align import speech_frames
    fps = 25.0
    out = {}
    for key, aligner in (("the alignment", Aligner()),
                         ("pocketsphinx's raw boundaries", Aligner(edges=None))):
        frames = apart = 0
        max_jaw, close_ms = 0.0, []
        for audio, text in clips.values():
            timeline = aligner.align(audio, text)[0]
            n = int(np.ceil(len(audio) / 16000 * fps))
            mouth_ = teacher_mouth(timeline, n, fps)
            gap = mouth_[:, JAW] - mouth_[:, CLOSE]
            speech = np.flatnonzero(speech_frames(audio))
            start, end = speech[0] * 0.01, (speech[-1] + 1) * 0.01
            t = np.arange(n) / fps
            outside = (t >= end + margin_s) | (t + 1 / fps <= start - margin_s)
            frames += int(outside.sum())
            apart += int((outside & (gap >= SEAL_APERTURE)).sum())
            if outside.any():
                max_jaw = max(max_jaw, float(mouth_[outside, JAW].max()))
            closed = np.flatnonzero((t >= end) & (gap < 0.05))
            if len(closed):
                close_ms.append((t[closed[0]] - end) * 1000)
        out[key] = {"frames": frames, "apart": apart, "max_jaw": max_jaw,
                    "close_ms_median": float(np.median(close_ms)),
                    "close_ms_max": float(np.max(close_ms))}
    return out


def fit_scores(clips, aligner, min_fit) -> dict:
    names = list(clips)
    right, wrong, near = [], [], []
    for i, name in enumerate(names):
        audio, text = clips[name]
        right.append(_fit(aligner, audio, text))
        for step in (1, 4, 9):
            other = clips[names[(i + step) % len(names)]][1]
            if other != text:
                wrong.append(_fit(aligner, audio, other))
        near.append(_fit(aligner, audio, near_miss(text)))

    def summary(scores):
        s = np.array(scores)
        ok = s[np.isfinite(s)]
        return {"n": len(s), "used": int((s >= min_fit).sum()),
                "failed_to_align": int((~np.isfinite(s)).sum()),
                "min": float(ok.min()) if len(ok) else None,
                "max": float(ok.max()) if len(ok) else None}

    return {"right": summary(right), "wrong": summary(wrong), "near_miss": summary(near)}


def _fit(aligner, audio, text) -> float:
    from vasa_bridge.errors import DataError
    try:
        return aligner.align(audio, text)[1].per_frame
    except DataError:  # could not align at all
        return -np.inf


def tts(aligner, min_fit, festival_voices: list[str] | None = None) -> dict:
    from vasa_bridge.data.engines import Prosody, open_engine
    from vasa_bridge.data.text import SENTENCES
    out = {}
    texts = SENTENCES["en"][:4]
    for engine in ("festival", "espeak"):
        eng = open_engine(engine)
        try:
            voices = _voices(eng, festival_voices if engine == "festival" else None)
            voices = voices[::max(1, len(voices) // 4)]
            scores = [_fit(aligner, eng.synth(t, v, Prosody()).audio, t)
                      for v in voices for t in texts]
        finally:
            eng.close()
        s = np.array(scores)
        out[engine] = {"voices": [v.name for v in voices], "n": len(s),
                       "used": int((s >= min_fit).sum()), "used_at_-60": int((s >= -60).sum()),
                       "median": float(np.median(s[np.isfinite(s)]))}
    return out


def languages(den) -> dict:
    from vasa_bridge.data.engines import Prosody, open_engine
    from vasa_bridge.data.text import SENTENCES
    eng = open_engine("espeak")
    out = {}
    handler = _Capture()
    logger = logging.getLogger("vasa_bridge.model.transcript")
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    try:
        for lang in ("de", "fr", "es"):
            text = SENTENCES[lang][0]
            utt = eng.synth(text, eng.voices(lang)[0], Prosody())
            base, _ = bake_audio_text(utt.audio, 16000, BakeConfig(keep_audio=False), den)
            handler.lines.clear()
            cfg = BakeConfig(keep_audio=False, transcript=TranscriptConfig(language=lang))
            track, outcome = bake_audio_text(utt.audio, 16000, cfg, den, text=text)
            out[lang] = {"warning": handler.lines[:], "used": outcome.used,
                         "same_as_audio_only": bool(np.array_equal(track.blendshapes,
                                                                   base.blendshapes))}
    finally:
        eng.close()
        logging.getLogger("vasa_bridge.model.transcript").removeHandler(handler)
    return out


class _Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def print_routes(result: dict, keys=("model", "seal-only", "teacher-mouth")) -> None:
    """One table row per mouth route."""
    for key in keys:
        r = result[key]
        print(f"{key:<14} {r['jaw_r']:6.3f} {r['jaw_r_styles']:8.3f} "
              f"{r['sealed']:7.1%} {r['false_seals']:6.1%} "
              f"{r['model_channels_max_diff']:20.3g}   ({r['bilabials']} /p b m/)")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--json", help="also write the numbers here")
    p.add_argument("--festival-voices", help="comma-separated festival voices (default: every "
                   "installed one), e.g. voice_kal_diphone,voice_cmu_us_slt_arctic_hts")
    p.add_argument("--margin-sweep", action="store_true", help="only the words-missing routes "
                   "with text_weights' margin at 0, 0.08, 0.12, 0.16 and 0.2 s")
    args = p.parse_args()
    festival = args.festival_voices.split(",") if args.festival_voices else None
    if args.margin_sweep:
        return margin_sweep(festival)
    logging.basicConfig(level=logging.ERROR, stream=io.StringIO())  # fallbacks are counted
    clips = real_clips()
    den = OnnxDenoiser(None, threads=1)
    aligner = Aligner()
    min_fit = TranscriptConfig().min_fit
    t0 = time.perf_counter()
    result, rows = routes(clips, den, aligner)
    tts_result, tts_rows = routes(festival_clips(festival), den, aligner)
    edges = outside_speech(clips)
    missing = {"real": words_missing(clips, den, aligner),
               "festival": words_missing(festival_clips(festival), den, aligner)}
    middle = middle_missing(clips, den, aligner)
    seconds = sum(len(a) for a, _ in clips.values()) / 16000
    t_align = time.perf_counter()
    for audio, text in clips.values():
        aligner.align(audio, text)
    align_s = time.perf_counter() - t_align
    report = {"clips": len(clips), "seconds": round(seconds, 2), "routes": result,
              "festival_routes": tts_result,
              "festival_used": f"{sum(r[3] for r in tts_rows)}/{len(tts_rows)}",
              "per_clip": [{"clip": n, "text": t, "fit": f, "used": u} for n, t, f, u in rows],
              "fit": fit_scores(clips, aligner, min_fit), "min_fit": min_fit,
              "tts": tts(aligner, min_fit, festival), "languages": languages(den),
              "outside_speech": edges, "words_missing": missing, "middle_missing": middle,
              "align_x_realtime": round(seconds / align_s, 1),
              "wall_s": round(time.perf_counter() - t0, 1)}
    print(f"{len(clips)} real recordings, {seconds:.1f} s; transcripts used on "
          f"{sum(r[3] for r in rows)}/{len(rows)}")
    print(f"{'route':<14} {'jaw r':>6} {'r styles':>8} {'sealed':>8} {'false':>6} "
          f"{'head/eyes/brows diff':>20}")
    print_routes(result)
    print(f"head pose max |diff| with the transcript vs without: "
          f"{result['head_pose_max_diff']:.3g}")
    for key, e in edges.items():
        print(f"teacher-mouth on {key}: lips apart on {e['apart']}/{e['frames']} frames lying "
              f"60 ms or more outside the speech (by level; max jawOpen {e['max_jaw']:.2f}); "
              f"lips closed {e['close_ms_median']:.0f} ms (median; max {e['close_ms_max']:.0f}) "
              f"after the words end")
    print(f"festival voices, lines full of /p b m/ (transcripts used on "
          f"{report['festival_used']}):")
    print_routes(tts_result)
    for key, m in missing.items():
        print(f"words missing ({key}: each transcript's first or second half of the words "
              f"alone; used {m['used']}/{m['tried']}, stretches without words found on "
              f"{m['flagged']}); longest speech outside the phones: right transcripts "
              f"{m['longest_right']:.2f} s, partial ones at least "
              f"{m['shortest_longest_partial']:.2f} s (of {m['partial_runs']})")
        print_routes(m["routes"], ("model", "teacher everywhere", "shipped"))
    print(f"one card's words missing from cards 001-005 joined (each in turn): transcripts "
          f"used {middle['used']}/{middle['cases']} (before: {middle['used_before']}, whole); "
          f"wrong transcripts of the joined recording used {middle['wrong_used']}/"
          f"{middle['wrong']}")
    print_routes(middle["routes"], ("model", "before", "shipped"))
    f = report["fit"]
    print(f"fit (score per speech frame, floor {min_fit:g}): right {f['right']['min']:.1f}.."
          f"{f['right']['max']:.1f} used {f['right']['used']}/{f['right']['n']}; wrong used "
          f"{f['wrong']['used']}/{f['wrong']['n']} (best {f['wrong']['max']:.1f}, "
          f"{f['wrong']['failed_to_align']} failed to align); one word changed used "
          f"{f['near_miss']['used']}/{f['near_miss']['n']} (best {f['near_miss']['max']:.1f})")
    for engine, t in report["tts"].items():
        print(f"{engine}: right transcripts used {t['used']}/{t['n']} (with --min-fit -60: "
              f"{t['used_at_-60']}; median score {t['median']:.1f}; voices "
              f"{', '.join(t['voices'])})")
    for lang, v in report["languages"].items():
        print(f"{lang}: used={v['used']} audio-only bake={v['same_as_audio_only']} warning: "
              f"{' | '.join(v['warning'])}")
    print(f"alignment: {report['align_x_realtime']}x real time on one core (shared, busy "
          f"machine); bench wall {report['wall_s']} s")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
