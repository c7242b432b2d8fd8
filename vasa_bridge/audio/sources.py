"""Audio sources for the runtime, all delivering `SAMPLE_RATE` (16 kHz) mono float32 in hops:

- `ClockPacer`: real-time pacing from a clock, for sources that have no clock of their own;
- `ArraySource`: decoded audio (a file), silence after it;
- `MicSource`: a capture device through sounddevice; the callback only copies into a ring buffer
  (`CaptureBuffer`) at the device's rate, and the reader resamples;
- `ClipQueue`: clips that arrive over the network for one stream (NPC speech), silence between;
- `LinearResampler`: a stateful resampler for devices that will not open at 16 kHz.

When no capture device is found, or a listed one will not open, `capture_facts` gathers what
PortAudio reports and what the Linux sound stack shows (a sound server's socket, its sources,
/dev/snd), and `why_no_input` / `why_not_open` turn that into the cause and the next step.
Every call into PortAudio (import, query, open) runs in `quiet_portaudio` (native_log): ALSA's and
JACK's own lines go to the debug log instead of around our one-line error.

Samples are checked where they enter: `check_clip` for whole clips (control `speak`, the web API,
`--audio-in`: refused when non-finite or absurdly loud, clipped to [-1, 1]), `clean_samples` for
a microphone's live blocks (which cannot be refused: bad samples become silence, counted).

Every source reads spans `read(start, end)` of its own sample timeline. Pacing is explicit: a pacer
(`ClockPacer`, or `MicSource` itself, whose device clock paces) says when a position is due, so the
runtime, with an injectable clock, decides when to read. Tests never sleep.
"""

from __future__ import annotations

import collections
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import ConfigError, VasaError
from ..native_log import quiet_portaudio, reason
from .pcm import SAMPLE_RATE
from .ringbuffer import RingBuffer

log = logging.getLogger(__name__)

RATE = SAMPLE_RATE  # Hz: every source delivers this (the short name the runtime uses)


def check_clip(audio, rate) -> np.ndarray:
    """A clip as it arrives (any PCM array, any rate) -> float32 mono in [-1, 1]. Refuses (with
    AudioError naming the value) empty clips, odd rates, non-finite samples and float samples
    peaking above a few times full scale (1e20 would overflow the features to NaN); a clip that
    merely clips a little is clipped."""
    from .features import to_float_mono
    audio = to_float_mono(audio, rate)
    return np.clip(audio, -1.0, 1.0)  # a copy: the caller's array may be read-only


def clean_samples(block: np.ndarray) -> tuple[np.ndarray, int]:
    """A live block -> (float32 in [-1, 1] with non-finite samples zeroed, how many were bad or
    out of range). For sources that cannot refuse (a microphone callback)."""
    x = np.asarray(block, np.float32)
    finite = np.isfinite(x)
    bad = int(x.size - np.count_nonzero(finite)) + int(np.count_nonzero(np.abs(x[finite]) > 1.0))
    if bad:
        x = np.clip(np.where(finite, x, 0.0), -1.0, 1.0).astype(np.float32)
    return x, bad


class AudioDeviceError(VasaError):
    """A capture device could not be listed or opened."""


class LinearResampler:
    """Streaming linear-interpolation resampler. Keeps its phase and last sample between calls,
    so chunked output equals whole-signal output."""

    def __init__(self, rate_in: int, rate_out: int = RATE) -> None:
        if rate_in <= 0 or rate_out <= 0:
            raise ConfigError(f"resampler rates {rate_in} -> {rate_out}: expected positive Hz")
        self.step = rate_in / rate_out  # input samples per output sample
        self._pos = 0.0  # position of the next output sample, relative to self._prev
        self._prev: np.ndarray = np.zeros(0, np.float32)

    def __call__(self, chunk: np.ndarray) -> np.ndarray:
        x = np.concatenate([self._prev, np.asarray(chunk, np.float32).reshape(-1)])
        if len(x) < 2:
            self._prev = x
            return np.zeros(0, np.float32)
        n = int(np.floor((len(x) - 1 - self._pos) / self.step)) + 1
        n = max(n, 0)
        idx = self._pos + self.step * np.arange(n)
        i0 = np.floor(idx).astype(int)
        frac = (idx - i0).astype(np.float32)
        out = x[i0] * (1 - frac) + x[np.minimum(i0 + 1, len(x) - 1)] * frac
        next_pos = self._pos + self.step * n
        keep = min(int(np.floor(next_pos)), len(x) - 1)  # the next output may lie past this chunk
        self._prev = x[keep:]
        self._pos = next_pos - keep
        return out.astype(np.float32)


class ClockPacer:
    """Real-time pacing from a clock: sample position `end` is due at start + end / RATE."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._t0: float | None = None

    def start(self) -> None:
        self._t0 = self._clock()

    def ready(self, end: int) -> bool:
        return self.wait_s(end) <= 0.0

    def wait_s(self, end: int) -> float:
        """Seconds until sample position `end` is due."""
        if self._t0 is None:
            raise VasaError("pacer used before start(): call start() first")
        return self._t0 + end / RATE - self._clock()

    def due(self, end: int) -> float:
        """The clock time at which position `end` is due."""
        return self._t0 + end / RATE

    def capture_delay_s(self) -> float:
        return 0.0  # a clock captures nothing

    def close(self) -> None:
        pass


class ArraySource:
    """Audio already decoded to 16 kHz mono; silence after its end."""

    def __init__(self, audio: np.ndarray) -> None:
        self.audio = np.asarray(audio, np.float32).reshape(-1)

    @property
    def busy(self) -> bool:
        return False

    def read(self, start: int, end: int) -> np.ndarray:
        out = np.zeros(end - start, np.float32)
        a, b = min(start, len(self.audio)), min(end, len(self.audio))
        out[: b - a] = self.audio[a:b]
        return out

    def close(self) -> None:
        pass


class CaptureBuffer:
    """The two halves of a live capture, apart. `write` runs on the device's thread and only
    copies a block into a ring buffer at the device's rate (and notes when it came); everything
    else — resampling to RATE, cleaning bad samples, skipping what an overflow lost — happens in
    the reader's calls (`ready`, `wait_s`, `read`). Pure apart from the injectable clock."""

    def __init__(self, rate_in: int, capacity_s: float = 5.0, *,
                 clock: Callable[[], float] = time.monotonic, stall_s: float | None = None,
                 name: str = "the microphone") -> None:
        self.rate_in = int(rate_in)
        # s: no block for this long after start(): the device is gone. By default the ring's
        # length: a device (or a starved machine) that stalls less still delivers all it held.
        self.stall_s = capacity_s if stall_s is None else stall_s
        self.name = name
        self._started: float | None = None  # when the device was started (clock)
        self.lost: tuple[int, float] | None = None  # (position at RATE, time) it went silent
        self.ring = RingBuffer(int(capacity_s * self.rate_in))  # the device's samples
        self.arrivals: collections.deque = collections.deque(maxlen=4096)  # (ring end, time)
        self._clock = clock
        self._resample = None if self.rate_in == RATE else LinearResampler(self.rate_in, RATE)
        # at RATE: the ring itself when the device runs at RATE, else what the reader resampled
        self._out = self.ring if self._resample is None else RingBuffer(int(capacity_s * RATE))
        self.bad_samples = 0  # non-finite or out-of-range samples the device sent (cleaned)

    def write(self, block: np.ndarray) -> None:  # the device's thread: copy, nothing else
        self.ring.write(block)
        self.arrivals.append((self.ring.total_written, self._clock()))

    def start(self) -> None:
        """The device was started: from now on a silence of `stall_s` means it is gone."""
        self._started = self._clock()

    def _timeline(self) -> RingBuffer:
        """The samples at RATE, after resampling whatever the device delivered since."""
        if self._resample is not None:
            data = self.ring.read(self.ring.available)
            if data is not None and len(data):
                self._out.write(self._resample(data))
        if self.lost is None and self._started is not None:
            last = self.arrivals[-1][1] if self.arrivals else self._started
            if self._clock() - last > self.stall_s:  # unplugged, or the sound server went away
                self.lost = (self._out.total_written, last)
                log.warning("%s stopped delivering sound %.1f s ago (unplugged?): the face "
                            "goes on in silence; restart serve to capture again", self.name,
                            self._clock() - last)
        return self._out

    @property
    def written(self) -> int:
        """Samples at RATE available so far (read or not). After the device is lost, the clock
        goes on where it stopped: silence, in real time, so the rest of the runtime (clips,
        NPC streams, the idle face) keeps running. A device that comes back is not heard again
        (its blocks would no longer match the timeline)."""
        written = self._timeline().total_written
        if self.lost is not None:
            position, since = self.lost
            written = position + int((self._clock() - since) * RATE)
        return written

    def ready(self, end: int) -> bool:
        return self.written >= end

    def wait_s(self, end: int) -> float:
        return (end - self.written) / RATE

    def read(self, start: int, end: int) -> np.ndarray:
        ring = self._timeline()
        out = np.zeros(end - start, np.float32)
        # An overflow lost those before `first`: zeros keep the timeline.
        first = max(start, ring.total_read)
        last = end if self.lost is None else min(end, self.lost[0])  # lost: silence after
        if first >= last:
            return out
        if first > ring.total_read:
            ring.read(first - ring.total_read)
        data = ring.read(last - first)
        if data is None:
            return out
        out[first - start:last - start], bad = clean_samples(data)  # off the device's thread
        self.bad_samples += bad
        return out

    def arrival_time(self, position: int) -> float | None:
        """When the sample at RATE position `position` reached us (the block that delivered
        it)."""
        device_position = position * self.rate_in / RATE
        for end, t in list(self.arrivals):  # a copy: the callback appends meanwhile
            if end > device_position:
                return t
        return None


class MicSource:
    """A capture device. The PortAudio callback copies into a ring buffer at the device's rate
    and nothing else; the runtime reads fixed spans at RATE from it, resampled on its side (the
    device's own clock paces everything)."""

    def __init__(self, device: int | str | None = None, *, capacity_s: float = 5.0) -> None:
        try:
            sd = _sounddevice()
        except (OSError, ImportError) as e:  # PortAudio, or the package itself, missing
            raise AudioDeviceError("; ".join(why_no_input(CaptureFacts(load_error=e)))) from None
        self._sd = sd
        self.device = device
        info = self._device_info(device)
        self.device_name = info["name"]
        rate = RATE
        try:
            with quiet_portaudio():  # opens the device to try the format
                sd.check_input_settings(device=device, samplerate=RATE, channels=1,
                                        dtype="float32")
        except Exception:
            rate = int(info["default_samplerate"])  # resampled to RATE by the reader
        self.rate_in = rate
        self.capture = CaptureBuffer(rate, capacity_s, name=f"microphone {self.device_name!r}")
        self.ring = self.capture.ring  # the device's samples, as the callback wrote them
        try:
            with quiet_portaudio() as native:
                self._stream = sd.InputStream(device=device, samplerate=rate, channels=1,
                                              dtype="float32", blocksize=0,
                                              callback=self._callback)
        except sd.PortAudioError as e:  # listed, but it will not open (e.g. no source behind it)
            raise AudioDeviceError(f"input device {self.device_name!r} cannot be opened "
                                   f"({_with_native(e, native)}): "
                                   f"{why_not_open(capture_facts())}") from None
        self.status_flags = 0

    def _device_info(self, device):
        try:
            with quiet_portaudio():
                info = self._sd.query_devices(device, kind="input")
        except Exception as e:
            devices = list_input_devices()
            listing = "; ".join(f"{i}: {n}" for i, n in devices)
            found = f"input devices are {listing}" if listing else \
                "no input device was found (plug in a microphone; `vasa-bridge serve " \
                "--list-devices` says why none is found)"
            name = "the default input device" if device is None else f"input device {device!r}"
            raise AudioDeviceError(f"{name} is not available ({e}): {found}") from None
        return info

    def _callback(self, indata, frames, time_info, status) -> None:  # PortAudio's thread
        if status:
            self.status_flags += 1
        self.capture.write(indata[:, 0])

    @property
    def bad_samples(self) -> int:
        """Non-finite or out-of-range samples the device sent (cleaned)."""
        return self.capture.bad_samples

    def arrival_time(self, position: int) -> float | None:
        """When the sample at `position` reached us (the callback that delivered it)."""
        return self.capture.arrival_time(position)

    def start(self) -> None:
        try:
            with quiet_portaudio() as native:  # ALSA prepares the device here
                self._stream.start()
        except self._sd.PortAudioError as e:  # opened, but it will not run (taken meanwhile)
            raise AudioDeviceError(f"input device {self.device_name!r} cannot be started "
                                   f"({_with_native(e, native)}): "
                                   f"{why_not_open(capture_facts())}") from None
        self.capture.start()

    def ready(self, end: int) -> bool:
        return self.capture.ready(end)

    def wait_s(self, end: int) -> float:
        return self.capture.wait_s(end)

    def due(self, end: int) -> float:
        """When the device delivered (or will deliver) position `end`, on time.monotonic."""
        return time.monotonic() + self.wait_s(end)

    def capture_delay_s(self) -> float:
        """How long the sound takes from the room to our callback: the input latency PortAudio
        reports for the stream. (Its per-callback ADC timestamps are not used: through ALSA's
        PulseAudio plugin they drift by ~9 ms per block.)"""
        latency = float(self._stream.latency)
        return latency if 0.0 <= latency < 1.0 else 0.0

    busy = False

    def read(self, start: int, end: int) -> np.ndarray:
        return self.capture.read(start, end)

    def close(self) -> None:
        self._stream.stop()
        self._stream.close()


def _with_native(error: Exception, native: list[str]) -> str:
    """PortAudio's error text, and ALSA's or JACK's words for it from their `native` lines
    (`quiet_portaudio`), unless PortAudio's text already has them."""
    said = reason(native)
    return f"{error}; {said}" if said and said.partition(": ")[2] not in str(error) else \
        str(error)


def _sounddevice():
    """sounddevice, imported with PortAudio's native lines held back (importing it starts
    PortAudio, which probes every ALSA device and JACK). OSError: no PortAudio."""
    with quiet_portaudio():
        import sounddevice
    return sounddevice


def list_input_devices() -> list[tuple[int, str]]:
    """(index, name) of every capture device; empty when PortAudio finds none."""
    try:
        sd = _sounddevice()
        with quiet_portaudio():
            devices = sd.query_devices()
        return [(i, d["name"]) for i, d in enumerate(devices) if d["max_input_channels"] > 0]
    except Exception:
        return []


SOUND_CARDS = Path("/dev/snd")  # ALSA's device nodes: missing in a container started without them
SYSTEM_PULSE = Path("/run/pulse/native")  # a system-wide PulseAudio's socket
PACTL_TIMEOUT_S = 2.0  # s: a hung sound server cannot hang the diagnosis
NULL_SINK = "pactl load-module module-null-sink sink_name=vasa"  # its monitor is a capture device


@dataclass(frozen=True)
class CaptureFacts:
    """What this machine shows about capture, to say why no input device is found: what
    sounddevice and PortAudio report, and cheap facts about the Linux sound stack."""
    load_error: Exception | None = None  # sounddevice's import or query failed with this
    host_apis: tuple[str, ...] = ()  # PortAudio's host APIs: ("ALSA", "OSS") on Linux
    devices: int = 0  # every device PortAudio lists, inputs or not
    inputs: int = 0  # those with an input channel
    linux: bool = True
    sound_cards: bool = False  # /dev/snd exists
    runtime_dir: bool = True  # $XDG_RUNTIME_DIR is set (where a user's sound server listens)
    server: str | None = None  # a PulseAudio/PipeWire server: its socket, or $PULSE_SERVER
    answers: bool = True  # False: pactl is here but the server did not answer it
    sources: int | None = None  # the server's sources, monitors included (pactl); None: not asked
    installed: tuple[str, ...] = ()  # sound server programs found: "pulseaudio", "pipewire"


def capture_facts(environ=os.environ, platform: str | None = None) -> CaptureFacts:
    """Gather `CaptureFacts` (`platform`: sys.platform's). No network; pactl only where a
    PulseAudio socket exists, under a timeout."""
    platform = platform or sys.platform
    load_error, apis, devices = None, (), []
    try:
        sd = _sounddevice()
        with quiet_portaudio():
            apis = tuple(api["name"] for api in sd.query_hostapis())
            devices = list(sd.query_devices())
    except Exception as e:  # OSError: no PortAudio; ImportError: no sounddevice
        load_error = e
    server, pulse = _sound_server(environ)
    answers, sources = True, None
    path = environ.get("PATH")
    pactl = shutil.which("pactl", path=path)
    if pulse and pactl:
        try:
            r = subprocess.run([pactl, "list", "short", "sources"], capture_output=True,
                               text=True, timeout=PACTL_TIMEOUT_S, env=dict(environ))
            answers = r.returncode == 0
            sources = len(r.stdout.splitlines()) if answers else None
        except (OSError, subprocess.TimeoutExpired):
            answers = False
    return CaptureFacts(
        load_error=load_error, host_apis=apis, devices=len(devices),
        inputs=sum(d["max_input_channels"] > 0 for d in devices),
        linux=platform.startswith("linux"), sound_cards=SOUND_CARDS.exists(),
        runtime_dir=bool(environ.get("XDG_RUNTIME_DIR")), server=server, answers=answers,
        sources=sources,
        installed=tuple(p for p in ("pulseaudio", "pipewire") if shutil.which(p, path=path)))


def _sound_server(environ) -> tuple[str | None, bool]:
    """(the PulseAudio/PipeWire server a client here would reach, whether pactl speaks to it):
    $PULSE_SERVER, else a socket in $XDG_RUNTIME_DIR, else the system-wide one."""
    if environ.get("PULSE_SERVER"):
        return environ["PULSE_SERVER"], True
    runtime = environ.get("XDG_RUNTIME_DIR")
    for path, pulse in ([(f"{runtime}/pulse/native", True), (f"{runtime}/pipewire-0", False)]
                        if runtime else []) + [(str(SYSTEM_PULSE), True)]:
        if os.path.exists(path):
            return path, pulse
    return None, False


def why_no_input(facts: CaptureFacts) -> tuple[str, str]:
    """(why PortAudio offers no capture device, the next step): said as one line, "cause;
    step", by `serve --list-devices` and `MicSource`, on two by `doctor`."""
    e = facts.load_error
    if isinstance(e, OSError):
        return (f"PortAudio did not load ({type(e).__name__}: {e})", "install it: `apt-get "
                "install libportaudio2` (Debian/Ubuntu) or `brew install portaudio` (macOS)")
    if isinstance(e, ImportError):
        return (f"sounddevice did not load ({type(e).__name__}: {e})",
                "install it: `pip install sounddevice`")
    if e is not None:
        return (f"PortAudio failed ({type(e).__name__}: {e})", "reinstall it: `apt-get install "
                "--reinstall libportaudio2` (Debian/Ubuntu)")
    apis = ", ".join(facts.host_apis) or "none"
    outputs = facts.devices - facts.inputs
    seen = (f"PortAudio lists no device at all (host APIs: {apis})" if not facts.devices else
            f"PortAudio lists {outputs} output-only device{'s' * (outputs > 1)} and no input "
            f"(host APIs: {apis})")
    if not facts.linux:
        return (seen, "plug in a microphone and allow this program to use it (macOS, Windows: "
                "the Microphone page of the privacy settings)")
    if facts.server and not facts.answers:
        return (f"{seen}: a PulseAudio socket exists ({facts.server}) but the server does not "
                f"answer `pactl`", "restart it: `pulseaudio -k; pulseaudio --start` (PipeWire: "
                "`systemctl --user restart pipewire-pulse`)")
    if facts.server and facts.sources == 0:
        return (f"{seen}: the sound server at {facts.server} runs but has no source",
                f"load a null sink, whose monitor is a capture device: `{NULL_SINK}`, or plug in "
                f"a microphone")
    if facts.server and "ALSA" not in facts.host_apis:
        return (f"{seen} although a sound server runs at {facts.server}: this PortAudio was "
                f"built without ALSA", "install one with it: `apt-get install libportaudio2` "
                "(Debian/Ubuntu)")
    if facts.server:
        return (f"{seen} although a sound server runs at {facts.server}: ALSA's plugin for it "
                f"is missing", "install it: `apt-get install libasound2-plugins` (PulseAudio) "
                "or `apt-get install pipewire-alsa` (PipeWire)")
    none = "no PulseAudio/PipeWire server socket was found" + \
        ("" if facts.runtime_dir else " ($XDG_RUNTIME_DIR is unset)")
    if not facts.devices and facts.sound_cards:
        return (f"{seen} although /dev/snd exists, and {none}: this user may not open "
                f"/dev/snd", f"check `ls -l /dev/snd` (the audio group), or {_start(facts)}")
    if not facts.devices:
        return (f"{seen}: {none} and /dev/snd is missing (a container started without "
                f"--device /dev/snd?)", f"{_start(facts)}, or give the container /dev/snd")
    return (f"{seen}: no sound card here can capture, and {none}",
            f"plug in or enable a microphone, or {_start(facts)} and load a null sink, whose "
            f"monitor is a capture device: `{NULL_SINK}`")


def why_not_open(facts: CaptureFacts) -> str:
    """The next step when a listed input device will not open (`MicSource`)."""
    if facts.server and facts.sources == 0:  # ALSA's "pulse" device is listed all the same
        return (f"the sound server at {facts.server} has no source; load a null sink, whose "
                f"monitor is a capture device: `{NULL_SINK}`, or plug in a microphone")
    return ("check that a microphone is connected and not in use, or pick another with --mic "
            "(see --list-devices)")


def _start(facts: CaptureFacts) -> str:
    """How to start a sound server here (install one first where none is)."""
    if "pulseaudio" in facts.installed:
        return "start one: `pulseaudio --start`"
    if "pipewire" in facts.installed:
        return "start one: `systemctl --user start pipewire pipewire-pulse`"
    return "install and start one: `apt-get install pulseaudio`, then `pulseaudio --start`"


class ClipQueue:
    """Clips for one stream, played back to back; silence in between. Thread-safe: the control
    thread adds, the runtime reads."""

    def __init__(self) -> None:
        self._clips: collections.deque[np.ndarray] = collections.deque()
        self._lock = threading.Lock()
        self._current: np.ndarray | None = None
        self._offset = 0
        self.queued_samples = 0
        self.position = 0  # stream position after the last read (set by the owner before one)

    def add(self, audio: np.ndarray) -> float:
        """Queue a 16 kHz clip; returns seconds of audio queued before it."""
        return self.add_timed(audio)[0]

    def add_timed(self, audio: np.ndarray) -> tuple[float, int]:
        """Queue a 16 kHz clip -> (seconds queued before it, the stream position (samples) of
        its first sample)."""
        audio = np.asarray(audio, np.float32).reshape(-1)
        with self._lock:
            before = self.queued_samples
            self._clips.append(audio)
            self.queued_samples += len(audio)
            start = self.position + before
        return before / RATE, start

    @property
    def busy(self) -> bool:
        return self.queued_samples > 0

    def clear(self) -> int:
        """Drop every queued clip (and the rest of the one playing); returns samples dropped."""
        with self._lock:
            dropped = self.queued_samples
            self._clips.clear()
            self._current, self._offset = None, 0
            self.queued_samples = 0
        return dropped

    def read(self, start: int, end: int) -> np.ndarray:
        """The next end - start samples of queued clips (positions are the stream's own)."""
        n = end - start
        out = np.zeros(n, np.float32)
        filled = 0
        with self._lock:
            while filled < n:
                if self._current is None or self._offset >= len(self._current):
                    if not self._clips:
                        break
                    self._current, self._offset = self._clips.popleft(), 0
                take = min(n - filled, len(self._current) - self._offset)
                out[filled:filled + take] = self._current[self._offset:self._offset + take]
                filled += take
                self._offset += take
                self.queued_samples -= take
            self.position = end
        return out
