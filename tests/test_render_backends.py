"""One contract for every backend and test portrait: shape, determinism, rest = photo; torch
matches the CPU warp."""

import numpy as np
import pytest
import skimage.data

from bench.portraits import PORTRAITS, load
from vasa_bridge.face import PortraitConfig
from vasa_bridge.motion import MotionFrame
from vasa_bridge.render import RenderConfig, get_backend

pytest.importorskip("torch")

FRAMES = [MotionFrame.from_named({"jawOpen": 0.7, "eyeBlinkLeft": 0.5}),
          MotionFrame.from_named({"mouthSmileLeft": 1.0}, head_rotation=(5, -12, 4))]


@pytest.fixture(scope="module", params=[(b, p) for b in ("cpu", "torch") for p in PORTRAITS],
                ids=lambda bp: f"{bp[0]}-{bp[1]}")
def prepared(request):
    name, portrait = request.param
    backend = get_backend(name, RenderConfig(alpha=True))
    return backend, backend.prepare(load(portrait), PortraitConfig(size=256))


def test_contract(prepared):
    backend, state = prepared
    rest = backend.render(state, MotionFrame.neutral())
    assert rest.shape == (256, 256, 4) and rest.dtype == np.uint8
    assert np.array_equal(rest[..., :3], state.portrait.image)
    for f in FRAMES:
        a, b = backend.render(state, f), backend.render(state, f)
        assert a.shape == (256, 256, 4) and np.array_equal(a, b)
        assert not np.array_equal(a[..., :3], rest[..., :3])


def test_torch_matches_cpu():
    cpu = get_backend("cpu")
    tor = get_backend("torch")
    cfg = PortraitConfig(size=256)
    s1, s2 = cpu.prepare(skimage.data.astronaut(), cfg), tor.prepare(skimage.data.astronaut(), cfg)
    for f in FRAMES:
        a = cpu.render(s1, f).astype(float)
        b = tor.render(s2, f).astype(float)
        assert np.abs(a - b).mean() < 1.0  # same warp, different interpolation kernels
