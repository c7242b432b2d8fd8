"""Fidelity: render sweeps on the astronaut, re-detect with the face mesh, recover with the
solver. Commanded vs recovered must correlate; rotations must come back within 3 degrees."""

import numpy as np
import pytest
import skimage.data

from vasa_bridge.render import get_backend
from vasa_bridge.render.fidelity import POSE_SWEEPS, SHAPE_SWEEPS, perturbation, run_sweep

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


def test_lsb_perturbation_moves_each_value_by_at_most_one_and_is_seeded():
    img = np.random.default_rng(0).integers(0, 256, size=(64, 48, 3), dtype=np.uint8)
    img[0, 0] = (0, 255, 128)
    first = perturbation("lsb", 7)
    a, b = first(img), first(img)
    step = a.astype(int) - img
    assert a.dtype == np.uint8 and a.shape == img.shape
    assert np.abs(step).max() == 1 and 0.5 < (step != 0).mean() < 0.8  # 2 of 3 values move
    assert not np.array_equal(a, b)  # each frame gets its own change
    np.testing.assert_array_equal(perturbation("lsb", 7)(img), a)
    assert not np.array_equal(perturbation("lsb", 8)(img), a)


def test_shift_perturbation_moves_the_picture_by_at_most_a_quarter_pixel():
    img = np.zeros((64, 64, 3), np.uint8)
    img[20:40, 24:36] = 200
    shift = perturbation("shift", 3)
    ys, xs = np.mgrid[:64, :64]
    for _ in range(5):
        out = shift(img)[..., 0].astype(float)
        moved = np.array([(xs * out).sum(), (ys * out).sum()]) / out.sum() - (29.5, 29.5)
        assert np.abs(moved).max() <= 0.25 + 1e-6 and np.abs(moved).max() > 0


def test_unknown_perturbation_is_refused_by_name():
    with pytest.raises(ValueError, match="'blur'.*lsb"):
        perturbation("blur", 0)


def test_run_sweep_perturbs_the_rest_frame_and_every_step():
    backend = get_backend("cpu")
    state = backend.prepare(skimage.data.astronaut())
    seen = []

    def count(img):
        seen.append(img.shape)
        return img

    run_sweep(backend, state, "jawOpen", steps=3, perturb=count)
    assert seen == [(512, 512, 3)] * 4
