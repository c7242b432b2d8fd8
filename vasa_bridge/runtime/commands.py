"""The control commands that steer a running `Runtime`: status, set, speak, load_portrait, stop.

`ControlServer(Commands(runtime), config)` serves them; the web panel, the network audio inlet
(`--audio-in`) and serve's own greeting call the same object, so every clip is checked, capped
and prepared in one place. The slow work (resampling, aligning a transcript, baking an NPC line,
preparing a portrait) runs on the caller's thread, never holding the loop's lock.
"""

from __future__ import annotations

import functools
import logging
import threading
import time

import numpy as np

from ..audio.features import resample
from ..audio.sources import RATE, check_clip
from ..errors import ConfigError, VasaError
from ..model.config import EMOTIONS
from ..protocol import wire
from .serve import Runtime
from .stats import pct

log = logging.getLogger(__name__)
# A live face's clip this long or longer is heard whole for its words' mouth. Shorter ones are
# pieces of a voice streamed through `speak` (the web panel's microphone sends 250 ms, audio-in
# whatever the sender chunks): too short for the recogniser to judge (0.3 s of phones), and
# played before their words could be heard.
HEAR_MIN_S = 0.75


class Commands:
    """One handler per runtime (its bake seeds and transcript aligner are its own)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._cpu0 = (time.process_time(), time.monotonic())
        self._bakes = 0  # clips baked so far: the next bake's seed
        self._seed_lock = threading.Lock()
        self._aligner = None  # data.align.Aligner, made on the first speak with text
        self._aligner_lock = threading.Lock()

    def status(self) -> dict:
        rt = self.runtime
        s = rt.stats
        cpu_t, wall_t = time.process_time(), time.monotonic()
        cpu = (cpu_t - self._cpu0[0]) / max(wall_t - self._cpu0[1], 1e-9)
        self._cpu0 = (cpu_t, wall_t)
        picture = rt.picture_status()
        queued = rt.queued_s()
        stamp = rt.pictures.stamp
        return {
            "fps": picture["fps"], "picture": picture, "streams": sorted(queued),
            "latency_ms": {"p50": pct(s.latency_ms, 0.5), "p95": pct(s.latency_ms, 0.95)},
            "av_delay_ms": pct(s.av_delay_ms, 0.5),  # mic Sync Offset (docs/streaming.md)
            "stage_ms": {k: pct(v, 0.5) for k, v in s.stage_ms.items()},
            "drops": {"frames": s.frames_dropped, "late": s.frames_late,
                      "degraded": s.frames_degraded, "failed": s.frames_failed,
                      "publisher": dict(rt.publisher.stats.dropped)},
            "failures": dict(s.failures), "refused_clips": s.refused_clips,
            "queued_s": queued,
            "published": {"frames": s.frames_published, "motion": s.motion_published,
                          "audio_samples": s.audio_samples},
            "cpu": round(cpu, 3), "conditions": rt.conditions,
            "portrait": rt.pictures.portrait is not None,
            "provenance": {"watermark": str(getattr(stamp, "payload", "")) or None,
                           "label": bool(getattr(getattr(stamp, "config", None), "label",
                                                 False))},
        }

    def set(self, emotion: str | None = None, gaze: list | None = None,
            head_motion: float | None = None, stream: str | None = None) -> dict:
        if emotion is not None and emotion not in EMOTIONS:
            raise ConfigError(f"emotion is {emotion!r}: expected one of {list(EMOTIONS)}")
        values = {k: v for k, v in (("emotion", emotion), ("gaze", gaze),
                                    ("head_motion", head_motion)) if v is not None}
        return self.runtime.set_conditions(values, stream)

    def speak(self, audio: np.ndarray, rate: int, stream: str, text: str | None = None,
              language: str = "en", hear: bool = True) -> dict:
        """Queue a clip for `stream` (an NPC stream is created on first use). The samples are
        checked (finite, not absurdly loud; clipped to [-1, 1]) and the queues capped
        (BusyError names the limit) before the slow work starts.

        With `text` (the words spoken), their forced alignment drives the mouth while the clip
        plays (model/transcript.py); a transcript that does not fit, or a language without an
        aligner, leaves the mouth to the audio, logs one warning and says so in the reply's
        `text`. Without a transcript that fits, a clip for the live face (not baked) starts at
        once with the live mouth, and the words heard in it give the mouth as soon as they are
        known (~0.2 x its length later: `ClipBaker.hear_words`); `hear` False: not (the built-in
        greeting, a synthetic voice the recogniser does not know, need not start the phone
        worker)."""
        rt = self.runtime
        try:
            wire.check_stream(stream)
            audio = check_clip(audio, rate)
            needed = int(np.ceil(len(audio) * RATE / int(rate)))
            rt.reserve(stream, needed)
        except VasaError:
            rt.stats.refused_clips += 1
            raise
        try:
            return self._speak(audio, int(rate), stream, text, language, hear)
        finally:
            rt.release(stream, needed)

    def _speak(self, audio: np.ndarray, rate: int, stream: str, text: str | None,
               language: str, hear: bool = True) -> dict:
        rt = self.runtime
        audio = np.clip(resample(audio, rate, RATE), -1.0, 1.0)  # resampling may overshoot a bit
        phones, outcome = self._align(audio, text, language) if text is not None else \
            (None, None)
        frames = None
        if rt.clip_baker is not None and stream != rt.config.stream:
            hop = RATE / rt.clip_baker.fps  # pad to whole frames: motion and sound stay aligned
            padded = int(np.ceil(len(audio) / hop - 1e-9) * hop + 0.5)
            audio = np.concatenate([audio, np.zeros(padded - len(audio), np.float32)])
            with self._seed_lock:
                self._bakes += 1
                seed = self._bakes
            # a transcript that aligned gives the mouth: no need to hear the clip's phones,
            # unless it lacks words for some of the speech (the audio's mouth there)
            frames = rt.clip_baker.bake(audio, rt.conditions["emotion"], seed, language,
                                        hear=phones is None or bool(outcome.unspoken))
        heard = None
        if hear and frames is None and phones is None and rt.clip_baker is not None \
                and len(audio) >= HEAR_MIN_S * RATE:
            # The live face's clip arrives whole: its words are heard while it plays, and
            # their mouth takes over from the live phone loop's (docs/model.md, "Clips")
            heard = functools.partial(rt.clip_baker.hear_words, language=language)
        start = rt.queue_clip(stream, audio, frames, phones,
                              outcome.unspoken if phones is not None else (), heard=heard)
        reply = {"stream": stream, "pts": int(start * 1e9), "duration": len(audio) / RATE}
        if outcome is not None:
            reply["text"] = outcome.as_dict()
        return reply

    def _align(self, audio: np.ndarray, text: str, language: str):
        """Forced alignment of a clip's transcript -> (phone timeline or None, TextOutcome).
        ~2 % of the clip's duration once the decoder is loaded."""
        from ..model.transcript import TranscriptConfig, align_text, has_aligner
        config = TranscriptConfig(language=language)
        with self._aligner_lock:
            if self._aligner is None and has_aligner(language):
                try:
                    import pocketsphinx  # noqa: F401
                except ImportError:
                    pass  # pocketsphinx missing: align_text says so
                else:  # aligned in a child process: pocketsphinx would hold the loop's GIL
                    from ..model.sphinx_worker import shared_worker
                    self._aligner = shared_worker().aligner()
        timeline, outcome = align_text(audio, text, config, self._aligner)
        if outcome.used:
            log.info("speak: %s", outcome.message)
        else:
            log.warning("speak: %s", outcome.message)
        return timeline, outcome

    def load_portrait(self, path: str | None = None, image: bytes | None = None,
                      framing: str | None = None) -> dict:
        prepare = self.runtime.prepare
        if prepare is None:
            raise ConfigError("this runtime renders no frames (--no-frames): no portrait to load")
        if image is not None:
            from ..face.image import decode_image
            # as a file is read (EXIF orientation, 16-bit, greyscale), named in its messages
            source = decode_image(image, "uploaded image")
        else:
            source = path
        # slow (~0.3 s): off the loop (the control's worker)
        state = prepare(source) if framing is None else prepare(source, framing)
        self.runtime.swap_portrait(state, source, framing)
        return {"size": list(getattr(state, "size", (0, 0))),
                "warnings": list(getattr(getattr(state, "portrait", None), "warnings", []))}

    def stop(self) -> dict:
        self.runtime.stop()
        return {}
