import random
import socket
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "protocol"
TESTDATA = Path("/usr/share/pocketsphinx/test/data")  # Debian's pocketsphinx-testdata


def sphinx_recording(name: str = "goforward"):
    """A pocketsphinx-testdata recording (a real voice; `name`.raw, 16 kHz s16) as float32 in
    [-1, 1]; the test is skipped where the package is not installed."""
    import numpy as np
    path = TESTDATA / f"{name}.raw"
    if not path.is_file():
        pytest.skip(f"{path} is missing: install pocketsphinx-testdata")
    return (np.fromfile(path, "<i2") / 32768.0).astype(np.float32)


_HANDED_OUT: set = set()


def free_port() -> int:
    """A loopback TCP port free now, for a server a test starts next. Drawn below the
    ephemeral range (Linux 32768-60999, Windows and macOS 49152-65535) from which the OS picks
    the local ports of connecting sockets: a port the OS picked itself (bind to 0) could be
    handed to another test's client connection before the server binds it. None twice."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20000, 32000)
        if port in _HANDED_OUT:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    raise RuntimeError("no free loopback port in 20000-31999: expected one")


@pytest.fixture
def endpoint() -> str:
    return f"tcp://127.0.0.1:{free_port()}"


@pytest.fixture
def python() -> str:
    return sys.executable


@pytest.fixture(autouse=True, scope="session")
def _private_config_home(tmp_path_factory):
    """Signing identities and tokens go to a throwaway config dir, cached portrait analyses to a
    throwaway cache dir, never the user's."""
    import os
    old = {k: os.environ.get(k) for k in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME")}
    os.environ["XDG_CONFIG_HOME"] = str(tmp_path_factory.mktemp("config"))
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))
    yield
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
