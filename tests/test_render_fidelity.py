"""Fidelity: render sweeps on the astronaut, re-detect with the face mesh, recover with the
solver. Commanded vs recovered must correlate; rotations must come back within 3 degrees."""

import numpy as np
import pytest
import skimage.data

from vasa_bridge.render import get_backend
from vasa_bridge.render.fidelity import POSE_SWEEPS, SHAPE_SWEEPS, run_sweep

CHANNELS = list(SHAPE_SWEEPS) + list(POSE_SWEEPS)


@pytest.fixture(scope="module")
def sweeps():
    backend = get_backend("cpu")
    state = backend.prepare(skimage.data.astronaut())
    return {ch: run_sweep(backend, state, ch, steps=9) for ch in CHANNELS}


@pytest.mark.parametrize("channel", ["jawOpen", "eyeBlinkLeft", "eyeBlinkRight", "pitch", "yaw",
                                     "roll"])
def test_required_channels_correlate(sweeps, channel):
    r = sweeps[channel]
    assert r.missed == 0
    assert r.correlation >= 0.9, (channel, r.recovered)


@pytest.mark.parametrize("channel", ["mouthSmileLeft", "mouthSmileRight", "browInnerUp",
                                     "mouthFunnel", "eyeLookOutLeft"])
def test_other_channels_correlate(sweeps, channel):
    assert sweeps[channel].correlation >= 0.9, sweeps[channel].recovered


def test_roll_within_3_degrees(sweeps):
    assert sweeps["roll"].max_abs_error <= 3.0, sweeps["roll"].recovered


def test_yaw_within_3_degrees_up_to_10(sweeps):
    r = sweeps["yaw"]
    near = np.abs(r.commanded) <= 10
    assert np.abs(r.recovered[near] - r.commanded[near]).max() <= 3.0, r.recovered


@pytest.mark.parametrize("channel", ["pitch", "yaw"])
def test_pitch_and_yaw_within_3_degrees_up_to_20(sweeps, channel):
    assert sweeps[channel].max_abs_error <= 3.0, sweeps[channel].recovered
