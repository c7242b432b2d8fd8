"""Replay a motion track at real-time pace: motion, audio and events on the wire, and any extra
motion sinks (VMC, VTube Studio) fed the same frames through one `FanOut`."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable, Sequence

from ..motion.conversions import resample
from ..motion.frame import MotionFrame, MotionTrack
from ..outputs.sink import FanOut, MotionSink
from ..protocol import wire
from .publisher import Publisher

log = logging.getLogger(__name__)


def capabilities(track: MotionTrack) -> tuple[str, ...]:
    """What a replay of `track` publishes, for its hello (docs/protocol.md: `capabilities` is
    what the publisher sends): motion and events, its audio if it has any, never pictures (an
    OBS source told "frame" waited for a face that never came)."""
    return ("motion", "audio", "event") if track.audio is not None else ("motion", "event")


@dataclass(frozen=True)
class ReplayConfig:
    stream: str = wire.DEFAULT_STREAM  # stream id on the wire
    fps: float | None = None  # resample to this rate first; None keeps the track's
    loop: bool = False  # start again at the end, pts continuing
    audio_format: str = "s16"  # wire format of the audio messages
    wait_subscribers: int = 0  # wait for this many subscriptions before the first frame
    wait_timeout_s: float = 10.0  # ... at most this long


@dataclass
class ReplayResult:
    frames: int = 0  # motion frames published
    audio_samples: int = 0  # audio samples published
    late_frames: int = 0  # frames sent more than one frame period after their due time
    sink_errors: int = 0  # sends to an extra sink that raised (that sink skipped the frame)


def frame_schedule(index: int, fps: float, start: float) -> tuple[float, int]:
    """(seconds after the replay began at which frame `index` is due, its pts in ns).
    Pure: counts frames from 0 across loops, so pts never jumps back."""
    due = index / fps
    return due, int(round((start + due) * 1e9))


def replay(track: MotionTrack, publisher: Publisher, config: ReplayConfig = ReplayConfig(), *,
           sinks: Sequence[MotionSink] = (), stop: threading.Event | None = None,
           clock: Callable[[], float] = time.monotonic,
           sleep: Callable[[float], None] | None = None) -> ReplayResult:
    """Publish `track` frame by frame at its own pace until it ends (or, looping, until `stop`).
    `clock` and `sleep` are injectable so tests run on a fake clock; by default waiting is
    `stop.wait`, so a stop interrupts it at once."""
    if config.fps is not None and config.fps != track.fps:
        track = resample(track, config.fps)
    stop = stop or threading.Event()
    result = ReplayResult()
    outputs = FanOut(sinks)  # the caller owns the sinks and closes them
    publisher.add_stream(config.stream)
    if config.wait_subscribers and not publisher.wait_for_subscribers(
            config.wait_subscribers, config.wait_timeout_s, stop) and not stop.is_set():
        log.warning("%d of %d subscriptions after %g s on %s: replaying anyway",
                    publisher.subscriptions, config.wait_subscribers, config.wait_timeout_s,
                    publisher.endpoint)
    t0 = clock()
    publisher.hello(pts=int(track.start * 1e9), force=True)
    publisher.event("replay_start", pts=int(track.start * 1e9), stream=config.stream,
                    data={"frames": len(track), "fps": track.fps, "loop": config.loop})
    index, period = 0, 1.0 / track.fps
    pts = int(track.start * 1e9)
    while not stop.is_set():
        i = index % len(track)
        if i == 0 and index > 0 and not config.loop:
            break
        due, pts = frame_schedule(index, track.fps, track.start)
        wait = t0 + due - clock()
        if wait > 0:
            if sleep is not None:
                sleep(wait)
            elif stop.wait(wait):
                break
        elif -wait > period:
            result.late_frames += 1
        frame = track.frame(i)
        frame = MotionFrame(frame.blendshapes, frame.head_rotation, frame.head_translation,
                            pts / 1e9)
        publisher.motion(frame, pts=pts, stream=config.stream)
        audio = track.audio_for_frame(i)
        if len(audio):
            publisher.audio(audio, pts=pts, rate=track.sample_rate, stream=config.stream,
                            format=config.audio_format)
            result.audio_samples += len(audio)
        result.sink_errors += len(outputs.send(frame))
        publisher.hello(pts=pts)
        result.frames += 1
        index += 1
    publisher.event("replay_end", pts=pts, stream=config.stream,
                    data={"frames": result.frames})
    return result
