"""The start-up and shut-down of `serve`: one owner for everything a live face needs.

`SessionConfig` (frozen, built by the command line) says what to start; `Session` starts it in
order and is an `ExitStack` over what it opened, so every exit path closes the same things in
reverse: web panel, control server, audio inlet, audio source, publisher, VTuber sinks, virtual
camera.

    with Session(config) as session:  # warm-up: model and portrait side by side
        session.run(stop)              # the loop; the panel, ready line and hello beside it
"""

from __future__ import annotations

import dataclasses
import logging
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field

from .errors import ConfigError, VasaError
from .model.phones import PhoneConfig
from .runtime.serve import ServeConfig
from .transport import ControlConfig
from .transport.endpoints import DEFAULT_PUB

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PanelConfig:
    """The web panel and OBS overlay in the runtime's process (`serve --http`)."""
    http: str  # HOST:PORT to serve the pages on
    explicit: bool = True  # asked for: a taken port is an error (else the panel stays off)
    token: str | None = None  # required on every request (None: generated off loopback)
    alpha_codec: str = "raw"  # how frames with transparency reach the browser
    open_browser: bool = False  # open the panel in a browser once it is up


@dataclass(frozen=True)
class PortraitSetup:
    """The first portrait and how every portrait is prepared."""
    image: str | None = None  # None: the built-in sample portrait
    size: int = 512  # frame width, pixels
    framing: str = "bust"  # bust or head (load_portrait may ask for another)
    cache: bool = True  # read and write the analysis cache ($XDG_CACHE_HOME/vasa-bridge)
    label: bool = False  # draw a visible 'AI-generated' mark


@dataclass(frozen=True)
class SessionConfig:
    """Everything `serve` starts. Validated here, before any start-up work."""
    serve: ServeConfig  # the loop: fps, frames, alpha, stream, emotion, --once
    pub: str = DEFAULT_PUB  # data endpoint
    control: ControlConfig | None = None  # None: no control channel
    # CURVE on the data endpoint: (server secret key file, allowed clients folder), or None
    data_curve: tuple[str, str] | None = None
    audio_in: str | None = None  # also take clips pushed to this PULL endpoint
    insecure: bool = False  # allow a non-loopback audio inlet without authentication
    audio: str | None = None  # speech file played at real-time pace
    mic: str | None = None  # capture device: index or name, "default"; None: no microphone
    hear_ahead: float | None = None  # with mic: the face this many seconds behind the voice,
    #                                  with the mouth of its words (audio/ahead.py)
    motion: str = "model"  # model or loudness
    model: str | None = None  # ONNX model (None: the shipped one)
    threads: int = 1  # ONNX Runtime threads
    phones: PhoneConfig | None = PhoneConfig()  # the heard phones steer the mouth (None: off)
    portrait: PortraitSetup = field(default_factory=PortraitSetup)
    outputs: tuple = ()  # VmcConfig / VtsConfig of the VTuber sinks
    virtualcam: str | None = None  # None: off; "": the default device; else a device name
    panel: PanelConfig | None = None  # None: no web panel
    greeting: bool = False  # the built-in face says hello at start
    status: bool = False  # print a live status line
    started: float | None = None  # time.monotonic() when the command began (the ready line)

    def __post_init__(self):
        if self.serve.stop_after_source and not self.audio:
            raise ConfigError("--once needs --audio FILE: a microphone or clips never end")
        if self.hear_ahead is not None:
            from .audio.ahead import MAX_DELAY_S
            if self.mic is None:
                raise ConfigError("--hear-ahead needs --mic: files and clips are heard whole "
                                  "already")
            if not 0.0 < self.hear_ahead <= MAX_DELAY_S:
                raise ConfigError(f"--hear-ahead is {self.hear_ahead:g} s: expected more than 0 "
                                  f"and at most {MAX_DELAY_S:g} s")
        if self.virtualcam is not None and not self.serve.frames:
            raise ConfigError("--virtualcam needs frames: drop --no-frames")
        if self.motion == "model" and self.threads < 1:
            raise ConfigError(f"--threads is {self.threads}: expected 1 or more")


class Session:
    """Starts what a SessionConfig asks for (on `with`), runs the loop (`run`), closes it all."""

    def __init__(self, config: SessionConfig) -> None:
        self.config = config
        self.runtime = None
        self.commands = None  # the control commands' handler (control, inlet, panel)
        self.publisher = None
        self.control = None
        self.inlet = None
        self.stamp = None
        self._stack = ExitStack()
        self._main_source = None
        self._hello = None
        self._ran = False

    def __enter__(self) -> "Session":
        try:
            self._open()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()
        self.runtime = None  # closed: run() now refuses

    def _open(self) -> None:
        from .audio.sources import ArraySource, MicSource
        from .runtime.commands import Commands
        from .runtime.serve import Runtime
        from .transport import ControlServer, Publisher

        c = self.config
        # One BLAS thread while serving: OpenBLAS's idle workers spin between the loop's many
        # small products, and took a whole core of a 2-core machine for nothing (`serve
        # --status`: cpu 165 % against 68 % with one, at the same latency; docs/runtime.md).
        from threadpoolctl import threadpool_limits
        self._stack.enter_context(threadpool_limits(limits=1, user_api="blas"))
        frame_sinks = []
        if c.virtualcam is not None:  # before the start-up work: a missing device fails at once
            from .outputs.virtualcam import VirtualCamSink
            cam = VirtualCamSink(c.portrait.size, c.portrait.size, c.serve.fps,
                                 device=c.virtualcam or None)
            self._stack.callback(cam.close)
            frame_sinks.append(cam)
        main_source = pacer = None
        if c.audio:
            from .audio.io import load_speech
            main_source = ArraySource(load_speech(c.audio)[0])
        elif c.mic is not None:
            device = None if c.mic == "default" else (int(c.mic) if c.mic.isdigit() else c.mic)
            main_source = pacer = MicSource(device)
            if c.hear_ahead is not None:
                from .audio.ahead import DelayLine
                main_source = pacer = DelayLine(main_source, c.hear_ahead)
        self._main_source = main_source
        # The model and the portrait warm up side by side (ONNX Runtime and mediapipe release
        # the GIL).
        with ThreadPoolExecutor(3, thread_name_prefix="vasa-warm") as pool:
            engines = pool.submit(_engines, c)
            portrait = pool.submit(_portrait, c) if c.serve.frames else None
            hello = pool.submit(greeting_clip) if c.greeting else None
            engine_factory, clip_baker = engines.result()
            renderer, prepare, prepare_at, state, image = (
                portrait.result() if portrait else (None,) * 5)
            self._hello = hello.result() if hello is not None else None
        if c.serve.frames:
            from .provenance.stamp import Stamp, StampConfig
            self.stamp = Stamp(StampConfig(label=c.portrait.label, credentials=False))
        sinks = open_sinks(c.outputs)
        for sink in reversed(sinks):  # closed in the order they were opened, after the rest
            self._stack.callback(sink.close)
        self.publisher = self._stack.enter_context(Publisher(self._publisher_config()))
        if hasattr(main_source, "close"):
            self._stack.callback(main_source.close)
        self.runtime = Runtime(c.serve, self.publisher, engine_factory=engine_factory,
                               main_source=main_source, pacer=pacer, renderer=renderer,
                               portrait=state, prepare=prepare, stamp=self.stamp, sinks=sinks,
                               frame_sinks=frame_sinks, clip_baker=clip_baker,
                               prepare_at=prepare_at, portrait_source=image)
        self.commands = Commands(self.runtime)
        if c.audio and clip_baker is not None:  # a file is known whole: its words are heard
            self.runtime.hear_file(clip_baker.hear_words)
        if c.hear_ahead is not None and clip_baker is not None:  # phrases heard as they end
            from .audio.ahead import Phrases
            line, runtime = main_source, self.runtime
            line.on_fresh = Phrases(lambda samples, start: runtime.hear_piece(
                samples, start + line.delay, clip_baker.hear_phrase))
            threading.Thread(target=_warm, args=(clip_baker,), name="vasa-warm-hearing",
                             daemon=True).start()  # the first phrase waits for no decoder
        if c.audio_in:
            from .transport.audio_in import AudioInlet
            self.inlet = AudioInlet(self.commands, c.audio_in, insecure=c.insecure,
                                    curve=self._inlet_curve())
            self._stack.callback(self.inlet.close)
        if c.control is not None:
            self.control = ControlServer(self.commands, c.control)
            self._stack.callback(self.control.close)

    def _inlet_curve(self):
        """The audio inlet is guarded by the data socket's keys, else the control channel's."""
        from .transport.curve import ServerCurve
        c = self.config
        if c.data_curve:
            return ServerCurve.load(*c.data_curve)
        if c.control is not None and c.control.curve_secret_key and \
                c.control.curve_allowed_clients:
            return ServerCurve.load(c.control.curve_secret_key, c.control.curve_allowed_clients)
        return None

    def _publisher_config(self):
        from .transport import PublisherConfig
        c = self.config
        curve = None
        if c.data_curve:
            from .transport.curve import ServerCurve
            curve = ServerCurve.load(*c.data_curve)
        control = (("control", c.control.endpoint),) if c.control is not None else ()
        kinds = PublisherConfig.capabilities if c.serve.frames else tuple(
            k for k in PublisherConfig.capabilities if k != "frame")  # --no-frames: no pictures
        return PublisherConfig(endpoint=c.pub, latest_only_frames=True, curve=curve,
                               capabilities=kinds, extra_hello=(("fps", c.serve.fps),) + control)

    def ready_parts(self) -> list[str]:
        """The ready line's pieces after the panel: endpoints, the audio source, the engine."""
        c = self.config
        source = c.audio or (f"microphone {self._main_source.device_name}" if c.mic is not None
                             else "clips (control `speak`)")
        if c.hear_ahead is not None:
            source += f", played {c.hear_ahead:g} s late with its words heard ahead"
        parts = [f"data {self.publisher.endpoint}",
                 f"control {self.control.endpoint if self.control else 'off'}"]
        if self.inlet:
            parts.append(f"clips in {self.inlet.endpoint}")
        parts += [f"audio from {source}", f"motion {c.motion}"]
        for out in c.outputs:  # where the VTuber apps are fed (serve --vmc / --vts)
            if hasattr(out, "url"):
                parts.append(f"VTube Studio {out.url}")
            else:
                host = f"[{out.host}]" if ":" in out.host else out.host
                parts.append(f"VMC {host}:{out.port}")
        if c.virtualcam is not None:
            parts.append(f"virtual camera {c.virtualcam or '(the default device)'}")
        if self.stamp:
            parts.append(f"watermark {self.stamp.payload}")
        return parts

    def run(self, stop: threading.Event) -> None:
        """Run the loop on this thread until `stop` (or the end of --once's file). The face
        starts at once; the panel (aiohttp's import is the slowest piece left) comes up beside the
        running loop, then the ready line, the browser, the hello. An error there (e.g. --http on
        a port in use) stops the loop and is raised here."""
        if self.runtime is None:
            raise RuntimeError("Session.run before the session started: use `with Session("
                               "config) as session: session.run(stop)`")
        if self._ran:
            raise RuntimeError("Session.run called twice: a session runs once")
        self._ran = True
        started: dict = {}  # what _finish_start made: "web", "error"
        finish = threading.Thread(target=self._finish_start, name="vasa-start",
                                  args=(stop, started), daemon=True)
        self._stack.callback(_close_panel, finish, started)
        self._stack.callback(stop.set)
        finish.start()
        _run_with_status(self.runtime, self.commands, stop, show=self.config.status)
        finish.join(20)
        if "error" in started:
            raise started["error"]
        status = self.commands.status()
        print(f"[serve] stopped: {status['published']} published, drops {status['drops']}",
              file=sys.stderr)

    def _finish_start(self, stop: threading.Event, started: dict) -> None:
        c = self.config
        try:
            web = started["web"] = self._start_panel()
        except VasaError as e:
            started["error"] = e
            stop.set()
            return
        if stop.is_set():
            return
        panel = [f"panel {web.page_url('/')}"] if web else []
        t0 = c.started or time.monotonic()
        print(f"[serve] ready in {time.monotonic() - t0:.1f} s: "
              + ", ".join(panel + self.ready_parts()), file=sys.stderr, flush=True)
        browser = web is not None and c.panel.open_browser
        if browser:
            _open_browser(web.page_url("/"))
        if self._hello is not None:
            _greet_later(self.commands, self._hello, c.serve.stream, web, stop,
                         wait_for_viewer=browser)

    def _start_panel(self):
        """The default address, when the user did not ask for it and it is taken, leaves the
        panel off with one line instead of failing."""
        c = self.config
        if c.panel is None:
            return None
        try:
            return start_panel(c.panel, self.publisher.endpoint,
                               self.control.endpoint if self.control else None,
                               runtime=self.commands, control=c.control, announce=False)
        except ConfigError as e:
            if c.panel.explicit:
                raise
            print(f"[serve] panel off: {e}", file=sys.stderr, flush=True)
            return None


def _close_panel(finish: threading.Thread, started: dict) -> None:
    if finish.ident is not None:
        finish.join(20)
    if started.get("web") is not None:
        started["web"].close()


def open_sinks(outputs) -> list:
    """Open the VTuber sinks for VmcConfig / VtsConfig entries (closing any opened on an error)."""
    from .outputs.vmc import VmcConfig, VmcSender
    from .outputs.vts import VtsConfig, VtsPlugin

    sinks: list = []
    try:
        for cfg in outputs:
            if isinstance(cfg, VmcConfig):
                log.info("VMC: %s", cfg)
                sinks.append(VmcSender(cfg))
            elif isinstance(cfg, VtsConfig):
                log.info("VTube Studio: %s", cfg)
                sinks.append(VtsPlugin(cfg))
            else:
                raise ConfigError(f"output {cfg!r}: expected a VmcConfig or a VtsConfig")
    except BaseException:
        for s in sinks:
            s.close()
        raise
    return sinks


def start_panel(config: PanelConfig, pub_endpoint: str, control_endpoint: str | None, *,
                runtime=None, control: ControlConfig | None = None, announce: bool = True):
    """Start the web panel in this process; close the handle on the way out.

    When the runtime's control channel is CURVE-secured (`control.curve_secret_key`) and
    `runtime` (its control commands' handler, `Commands`) is given, the in-process pages talk to it through a private inproc:// control
    server with the same portrait rules instead (nothing outside this process can reach
    inproc://).

    `announce=False`: the caller prints the addresses itself (serve's ready line); a generated
    token is still printed, since that is the only time it is shown."""
    from .transport import ControlServer
    from .web import start_in_thread
    from .web.codec import CodecConfig

    private = None
    if control_endpoint and runtime is not None and control is not None \
            and control.curve_secret_key:
        private = ControlServer(runtime, dataclasses.replace(
            control, endpoint=f"inproc://vasa-web-control-{id(runtime)}", insecure=False,
            curve_secret_key=None, curve_allowed_clients=None))
        control_endpoint = private.endpoint
    try:
        handle = start_in_thread(config.http, pub_endpoint, control_endpoint, token=config.token,
                                 announce=announce,
                                 codec=CodecConfig(alpha_codec=config.alpha_codec))
    except BaseException:
        if private is not None:
            private.close()
        raise
    if private is not None:
        handle.on_close(private.close)
    return handle


def has_viewer(handle) -> bool:
    """Whether a page of this in-process web server shows the face (frames and sound) now."""
    from .web.app import STATE
    if handle.app is None:
        return False
    try:  # the set belongs to the server's loop thread: a change mid-copy just means "ask again"
        return any(v.media for v in list(handle.app[STATE].viewers))
    except RuntimeError:
        return False


def _warm(clip_baker) -> None:
    try:
        clip_baker.warm()
    except Exception as e:  # noqa: BLE001 - the first phrase loads what it needs itself
        log.warning("hear-ahead: the phone worker did not warm up (%s)", e)


def greeting_clip():
    """The built-in face's hello: 16 kHz mono float32 (scripts/make_greeting.py)."""
    from .audio.io import load_speech
    from .samples import greeting_path
    return load_speech(greeting_path())[0]


def _engines(c: SessionConfig):
    """(live engine factory, clip baker for NPC lines or None)."""
    if c.motion == "loudness":
        from .runtime.engine import LoudnessEngine
        return LoudnessEngine, None
    from .runtime.model_engine import load_model
    return load_model(c.model, threads=c.threads, phones=c.phones)


def _portrait(c: SessionConfig):
    """(renderer, prepare(image, framing=None) for load_portrait, prepare_at(image, size,
    framing=None) for the smaller pictures under CPU overload, the first portrait's state, its
    image path)."""
    from .face.portrait import Portrait, PortraitConfig, analyse_portrait
    from .render.base import RenderConfig, get_backend
    from .samples import builtin_portrait
    p = c.portrait
    cache = grids = None
    if p.cache:
        from .face.cache import PortraitCache, default_cache_dir
        cache = PortraitCache(default_cache_dir())
        grids = str(default_cache_dir().parent / "geometry")
    renderer = get_backend("cpu", RenderConfig(alpha=c.serve.alpha, cache_dir=grids))
    builtin = str(builtin_portrait())

    def portrait_config(image, framing, size):
        # the built-in face's parted-lips smile is its known rest pose: no warning
        return dataclasses.replace(PortraitConfig.framed(framing or p.framing, size=size),
                                   open_mouth_ok=isinstance(image, str) and image == builtin)

    def prepared(image, size, framing, quiet):
        pc = portrait_config(image, framing, size)
        if not isinstance(image, Portrait):
            image = (cache.analyse if cache is not None else analyse_portrait)(image, pc,
                                                                                quiet=quiet)
        return renderer.prepare(image, pc)

    def prepare_at(image, size, framing=None):
        """A smaller copy of a portrait already prepared (the picture governor's sizes): its
        warnings were said when it was loaded."""
        return prepared(image, size, framing, quiet=True)

    def prepare(image, framing=None):
        return prepared(image, p.size, framing, quiet=False)

    image = p.image or builtin
    return renderer, prepare, prepare_at, prepare(image), image


def _open_browser(url: str) -> None:
    """Open `url` in a graphical browser, on a thread (never blocks the start); console browsers
    (lynx, w3m), which would take over the terminal, are skipped."""
    import webbrowser

    def go():
        try:
            browser = webbrowser.get()
        except webbrowser.Error:
            return
        if type(browser) is webbrowser.GenericBrowser:  # console browsers are registered so
            return
        browser.open(url, new=2)

    threading.Thread(target=go, name="vasa-browser", daemon=True).start()


def _greet_later(commands, clip, stream: str, web, stop: threading.Event, *,
                 wait_for_viewer: bool) -> None:
    """Say hello once: when the panel opened in a browser shows the face (at most 10 s), else
    after a short pause."""
    from .audio.sources import RATE

    def greet():
        if wait_for_viewer:
            deadline = time.monotonic() + 10.0
            while not stop.is_set() and time.monotonic() < deadline and not has_viewer(web):
                stop.wait(0.1)
            stop.wait(0.5)  # let the page start its audio
        else:
            stop.wait(0.5)
        if not stop.is_set():
            commands.speak(clip, RATE, stream, hear=False)  # espeak: nothing to hear

    threading.Thread(target=greet, name="vasa-greet", daemon=True).start()


def _run_with_status(runtime, commands, stop: threading.Event, *, show: bool = False) -> None:
    """Run the loop on this thread; with `show` a helper thread prints a live status line
    (rewritten in place on a terminal, one line every 5 s otherwise)."""
    if show:
        tty = sys.stderr.isatty()

        def line():
            s = commands.status()
            why = s["picture"]["reason"]
            return (f"[serve] {s['fps']:5.1f} fps{f' ({why})' if why else ''}  latency p50 "
                    f"{s['latency_ms']['p50']} ms p95 {s['latency_ms']['p95']} ms  av delay "
                    f"{s.get('av_delay_ms')} ms  drops {s['drops']['frames']}  cpu "
                    f"{s['cpu']:.0%}")

        def loop():
            while not stop.wait(1.0 if tty else 5.0):
                if runtime.started:
                    print(f"\r{line()}   " if tty else line(), end="" if tty else "\n",
                          file=sys.stderr, flush=True)
        threading.Thread(target=loop, daemon=True).start()
    try:
        runtime.run(stop)
    finally:
        stop.set()
