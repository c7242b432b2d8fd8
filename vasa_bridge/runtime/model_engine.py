"""The diffusion model as a runtime motion engine (runtime.engine.MotionEngine): streaming audio
features -> streaming motion windows -> MotionFrames. ONNX Runtime only; no torch.

One `OnnxDenoiser` (one ONNX Runtime session) is shared by every stream's engine; each stream
keeps its own feature statistics, window state and seed.
"""

from __future__ import annotations

import collections
import logging
from typing import Callable

import numpy as np

from ..audio.features import FeatureStream
from ..model.config import unpack_motion
from ..model.onnx_runtime import OnnxDenoiser
from ..model.phones import LivePhones, PhoneConfig, live_lookahead_s
from ..model.streaming import LIVE, MotionStream, Steering, StreamConfig
from ..motion.frame import MotionFrame

log = logging.getLogger(__name__)


class ModelEngine:
    def __init__(self, denoiser: OnnxDenoiser, stream: StreamConfig = LIVE,
                 steering: Steering = Steering(), seed: int = 0,
                 phones: PhoneConfig | None = PhoneConfig()) -> None:
        config = denoiser.config
        self.fps = config.features.fps
        self._features = FeatureStream(config.features)
        self._motion = MotionStream(denoiser, config, stream, steering, seed)
        # The phones heard so far steer the mouth of each frame the model emits. The model emits
        # frame k with its look-ahead of audio after it; the phone layer holds it `hold_s` more,
        # so its acoustic head hears the sound the lips move ahead of (`PhoneConfig.hold_s`).
        self._phones = LivePhones(self.fps, phones) if phones is not None else None
        self._hold_s = phones.hold_s if phones is not None else 0.0
        self.lookahead_s = live_lookahead_s(stream.lookahead_ms(config) / 1000.0, phones)
        self._held: collections.deque = collections.deque()  # (shapes, rot, trans) not yet out
        self._unsettled: list[np.ndarray] = []  # feature rows pushed, not yet through the model
        self._index = 0

    def set_conditions(self, *, emotion: str | None = None, gaze=None,
                       head_motion: float | None = None) -> None:
        self.settle()  # audio already pushed is answered with the conditions it came under
        s = self._motion.steering
        self._motion.steering = Steering(
            emotion=s.emotion if emotion is None else emotion,
            gaze=s.gaze if gaze is None else tuple(gaze),
            intensity=s.intensity if head_motion is None else float(head_motion))

    def push(self, audio: np.ndarray) -> list[MotionFrame]:
        """The frames whose look-ahead (the hold included) `audio` completes. The motion model's
        work on `audio` is left for `settle()` unless one of those frames needs it: with the
        phone layer's hold, frame k's motion was made a hop earlier, so a live loop outputs it
        first and runs the model after its picture (`Runtime._hop`), off the sound-to-picture
        path. Frames, and their bytes, are the same whether or not `settle()` is called."""
        feats = self._features.push(audio)  # first: it refuses a bad chunk before any state moves
        if self._phones is not None:
            self._phones.push(audio)
        self._unsettled.append(feats)
        frames = []
        while self._heard_past(self._index):
            if not self._held:
                if not self._unsettled:
                    break
                self.settle()  # this frame's motion needs the audio just pushed
                continue
            b, r, t = self._held.popleft()
            if self._phones is not None:
                b = self._phones.steer(b, self._index)
            frames.append(MotionFrame(b, r, t, self._index / self.fps))
            self._index += 1
        return frames

    def settle(self) -> None:
        """Run the motion model on the audio pushed so far that no frame has needed yet."""
        if not self._unsettled:
            return
        feats = np.concatenate(self._unsettled)
        self._unsettled.clear()
        raw = self._motion.push(feats)
        if len(raw):
            self._held.extend(zip(*unpack_motion(raw)))

    def hear_phrase(self, overlay) -> None:
        """A phrase of this stream heard whole before it plays: its recognised phones steer the
        mouth of its frames (`LivePhones.hear_phrase`); nothing without the phone layer."""
        if self._phones is not None:
            self._phones.hear_phrase(overlay)

    def _heard_past(self, k: int) -> bool:
        """Whether frame k's whole look-ahead, the phone layer's hold included, has arrived."""
        if not self._hold_s:
            return True  # the model emits a frame once its own look-ahead has arrived
        return k / self.fps + self.lookahead_s <= self._phones.seconds + 1e-6


class ClipBaker:
    """Whole clips -> motion with the offline windows (what `bake` does): for NPC lines, which
    arrive whole (runtime.engine.PrebakedEngine); and a whole clip's words heard for the live
    face's mouth (`hear_words`)."""

    def __init__(self, denoiser: OnnxDenoiser, phones: PhoneConfig | None = PhoneConfig(),
                 worker=None) -> None:
        self._denoiser = denoiser
        self._phones = phones
        self._worker = worker  # a model.sphinx_worker.SphinxWorker; None: the shared one
        self.fps = denoiser.config.features.fps
        self.phone_failures = 0  # clips baked without their phones (the decoder failed)

    def bake(self, audio: np.ndarray, emotion: str, seed: int, language: str = "en",
             hear: bool = True) -> list[MotionFrame]:
        """A clip in `language` -> its frames (the phone layer only for a language it hears;
        `hear` False: none, for a clip whose transcript's alignment gives the mouth instead)."""
        from ..model.bake import BakeConfig, bake_audio_text
        from ..model.phones import phones_for
        from ..model.sphinx_worker import WorkerError, shared_worker
        phones = self._phones if hear and phones_for(language) is not None else None
        # the phones are heard in a child process: pocketsphinx would hold the loop's GIL
        worker = self._worker or shared_worker()
        rate = self._denoiser.config.features.sample_rate

        def bake(phones):
            recognizer = worker.recognizer(phones) if phones is not None else None
            return bake_audio_text(audio, rate, BakeConfig(
                steering=Steering(emotion=emotion), seed=seed, keep_audio=False, phones=phones),
                self._denoiser, recognizer=recognizer)[0]
        try:
            track = bake(phones)
        except Exception as e:  # the clip still plays, with the model's mouth alone
            if phones is None:
                raise
            self.phone_failures += 1
            log.warning("%s: this clip's mouth is the model's alone",
                        e if isinstance(e, WorkerError) else f"phone layer failed ({e!r})")
            track = bake(None)
        return list(track)

    def warm(self) -> None:
        """Start the phone worker and load its decoders now (~1 s), so the first clip heard
        waits for none of it (`serve --mic --hear-ahead`)."""
        from ..model.sphinx_worker import shared_worker
        if self._phones is not None:
            (self._worker or shared_worker()).call("warm", self._phones)

    def hear_words(self, audio: np.ndarray, language: str = "en"):
        """A 16 kHz clip of the live face -> the phone timeline of its recognised words, where
        bake would trust them with the lips' seals (`phones.trusted_words`); None: not heard (a
        language without a phone recogniser, the phone layer off, a voice or words the
        recogniser does not know). Costs ~0.2 x the clip's length, in the phone worker."""
        from ..model.phones import trusted_words
        heard = self._hear(audio, language)
        return None if heard is None else trusted_words(heard, self._phones)

    def hear_phrase(self, audio: np.ndarray, language: str = "en"):
        """A 16 kHz phrase of a live voice heard whole before it plays (`serve --mic
        --hear-ahead`) -> `phones.phrase_phones`: the timeline of its words trusted with the
        seals, its recognised phones (`HeardPhones`), or None (not heard, as `hear_words`)."""
        from ..model.phones import phrase_phones
        heard = self._hear(audio, language)
        return None if heard is None else phrase_phones(heard, self._phones)

    def _hear(self, audio: np.ndarray, language: str):
        """A 16 kHz clip heard whole by the phone worker (`phones.Heard`), or None: a language
        without a phone recogniser, or the phone layer or its word search off."""
        from ..model.phones import PHONE_RATE, phones_for
        from ..model.sphinx_worker import shared_worker
        phones = self._phones if phones_for(language) is not None else None
        if phones is None or not phones.words:
            return None
        return (self._worker or shared_worker()).recognizer(phones).hear(audio, PHONE_RATE)


def load_model(model: str | None = None, *, threads: int = 1, stream: StreamConfig = LIVE,
               device: str = "cpu", phones: PhoneConfig | None = PhoneConfig()
               ) -> tuple[Callable[[], ModelEngine], ClipBaker]:
    """One loaded model (the shipped one by default) behind a factory of live engines — each new
    engine gets the next seed, so faces do not move in lockstep — and a clip baker. `phones`:
    how the phones heard in the voice steer the mouth (None: the model's mouth alone)."""
    denoiser = OnnxDenoiser(model, threads=threads, device=device)
    counter = iter(range(1 << 30))
    return (lambda: ModelEngine(denoiser, stream, seed=next(counter), phones=phones)), \
        ClipBaker(denoiser, phones)


def default_engine_factory(model: str | None = None, **kw) -> Callable[[], ModelEngine]:
    return load_model(model, **kw)[0]
