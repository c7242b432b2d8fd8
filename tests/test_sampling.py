"""Sampler contract (every sampler: shape, seeded determinism, accuracy on a known ODE) and
per-condition guidance, on an analytic denoiser: for data ~ N(mu, sd^2) the ideal denoiser is
D(x; sigma) = mu + (x - mu) sd^2 / (sigma^2 + sd^2), and the probability-flow ODE maps start noise
x_T to mu + (x_T - mu) sd / sqrt(sigma_max^2 + sd^2) exactly."""

import numpy as np
import pytest
import torch

from vasa_bridge.model.conditions import CONDITION_NAMES, Conditions
from vasa_bridge.model.sampling import SAMPLERS, guided, karras_sigmas, sample

SD, MU, SMAX, SMIN = 0.5, 0.3, 20.0, 0.002


def gaussian_denoiser(x, sigma):
    return MU + (x - MU) * (SD ** 2 / (sigma ** 2 + SD ** 2))


def exact(noise):
    return MU + (noise * SMAX - MU) * SD / np.sqrt(SMAX ** 2 + SD ** 2)  # sampling starts at noise*SMAX


@pytest.mark.parametrize("name", sorted(SAMPLERS))
class TestSamplerContract:
    def test_shape_and_dtype(self, name):
        noise = np.random.default_rng(0).standard_normal((3, 7, 58)).astype(np.float32)
        out = sample(gaussian_denoiser, noise, steps=4, sigma_min=SMIN, sigma_max=SMAX,
                     sampler=name)
        assert out.shape == (3, 7, 58) and out.dtype == np.float32

    def test_seeded_determinism_torch(self, name):
        def run(seed):
            g = torch.Generator().manual_seed(seed)
            noise = torch.randn((2, 5, 58), generator=g)
            return sample(gaussian_denoiser, noise, steps=5, sigma_min=SMIN, sigma_max=SMAX,
                          sampler=name)
        a, b, c = run(1), run(1), run(2)
        assert torch.equal(a, b) and not torch.allclose(a, c)

    def test_numpy_and_torch_agree(self, name):
        noise = np.random.default_rng(3).standard_normal((2, 4, 58))
        a = sample(gaussian_denoiser, noise, steps=6, sigma_min=SMIN, sigma_max=SMAX, sampler=name)
        b = sample(gaussian_denoiser, torch.from_numpy(noise), steps=6, sigma_min=SMIN,
                   sigma_max=SMAX, sampler=name)
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-10, atol=1e-10)

    def test_converges_to_the_exact_ode_solution(self, name):
        noise = np.random.default_rng(4).standard_normal((64, 8, 58))
        errs = [np.abs(sample(gaussian_denoiser, noise, steps=k, sigma_min=SMIN, sigma_max=SMAX,
                              sampler=name) - exact(noise)).mean() for k in (2, 8, 32)]
        assert errs[2] < errs[1] < errs[0]
        assert errs[2] < 0.03
        out = sample(gaussian_denoiser, noise, steps=32, sigma_min=SMIN, sigma_max=SMAX,
                     sampler=name)
        assert abs(out.mean() - MU) < 0.02 and abs(out.std() - SD) < 0.05  # Euler under-disperses slightly


def test_second_order_samplers_beat_euler_at_equal_steps():
    noise = np.random.default_rng(5).standard_normal((32, 4, 58))
    err = {n: np.abs(sample(gaussian_denoiser, noise, steps=8, sigma_min=SMIN, sigma_max=SMAX,
                            sampler=n) - exact(noise)).mean() for n in SAMPLERS}
    assert err["heun"] < err["euler"] and err["dpmpp2m"] < err["euler"]


def test_karras_schedule():
    s = karras_sigmas(5, SMIN, SMAX)
    assert len(s) == 6 and s[0] == pytest.approx(SMAX) and s[-2] == pytest.approx(SMIN)
    assert s[-1] == 0 and np.all(np.diff(s) < 0)
    with pytest.raises(ValueError):
        karras_sigmas(0, SMIN, SMAX)
    with pytest.raises(ValueError, match="unknown"):
        sample(gaussian_denoiser, np.zeros((1, 1, 58)), steps=2, sigma_min=SMIN, sigma_max=SMAX,
               sampler="nope")


def _conds(b=1):
    keep = np.ones((b, len(CONDITION_NAMES)), np.float32)
    return Conditions(np.zeros((b, 3, 4), np.float32), np.zeros((b, 1, 58), np.float32),
                      np.full(b, 2, np.int64), np.zeros((b, 2), np.float32),
                      np.zeros(b, np.float32), keep)


def conditional_denoiser(x, sigma, cond):
    """Each kept condition adds its own constant: emotion +1 on dim 0, gaze +2 on dim 1."""
    assert sigma.shape == (x.shape[0],)
    out = x * 0.5
    out[:, :, 0] += cond.keep[:, CONDITION_NAMES.index("emotion"), None]
    out[:, :, 1] += 2 * cond.keep[:, CONDITION_NAMES.index("gaze"), None]
    return out


def test_guidance_scales_each_condition_separately():
    x = np.zeros((1, 3, 58), np.float32)
    plain = guided(conditional_denoiser, _conds())(x, 1.0)
    assert plain[0, 0, 0] == 1 and plain[0, 0, 1] == 2
    g = guided(conditional_denoiser, _conds(), {"emotion": 3.0, "gaze": 1.0})(x, 1.0)
    assert g[0, 0, 0] == pytest.approx(3.0) and g[0, 0, 1] == pytest.approx(2.0)
    g0 = guided(conditional_denoiser, _conds(), {"gaze": 0.0})(x, 1.0)
    assert g0[0, 0, 1] == pytest.approx(0.0) and g0[0, 0, 0] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="expected one of"):
        guided(conditional_denoiser, _conds(), {"mood": 2.0})


def test_guidance_batches_into_one_call():
    calls = []

    def counting(x, sigma, cond):
        calls.append(x.shape[0])
        return conditional_denoiser(x, sigma, cond)

    guided(counting, _conds(2), {"emotion": 2.0, "gaze": 1.5})(np.zeros((2, 3, 58), np.float32),
                                                              0.5)
    assert calls == [6]  # all conditioned + emotion off + gaze off, batch 2 each
