"""Few-step samplers: pure functions of a denoiser callable. Numpy or torch alike; no torch import.

A denoiser here is `denoise(x, sigma) -> x0_hat` with x (B, N, 58) and sigma a float. The
probability-flow ODE of EDM (Karras et al. 2022, eq. 3 with sigma(t) = t) is

    dx/dsigma = (x - D(x; sigma)) / sigma

and every sampler integrates it from sigma_max to 0 over a Karras schedule (EDM eq. 5). The start
noise is drawn by the caller (torch.Generator or numpy Generator), so a sampler is deterministic
given it: take-to-take variety comes from the seed.

Classifier-free guidance per condition (`guided`): with D_all the fully conditioned estimate and
D_-i the estimate with condition i switched off,

    D = D_all + sum_i (s_i - 1) (D_all - D_-i)

so s_i = 1 leaves condition i as trained, s_i > 1 pushes harder, 0 ignores it. Conditions with
s_i = 1 cost nothing; the others add one row each to a single batched call.
"""

from __future__ import annotations

from typing import Callable, Mapping

import numpy as np

from .conditions import CONDITION_NAMES, Conditions

Denoise = Callable[[object, float], object]


def karras_sigmas(steps: int, sigma_min: float, sigma_max: float, rho: float = 7.0) -> np.ndarray:
    """(steps + 1,) noise levels from sigma_max down to sigma_min, then 0 (EDM eq. 5)."""
    if steps < 1:
        raise ValueError(f"steps is {steps}: expected >= 1")
    if steps == 1:
        return np.array([sigma_max, 0.0])
    i = np.arange(steps) / (steps - 1)
    s = (sigma_max ** (1 / rho) + i * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho))) ** rho
    return np.append(s, 0.0)


def sample_euler(denoise: Denoise, x, sigmas) -> object:
    """First-order ODE steps (DDIM with eta = 0 in the sigma parameterisation)."""
    for s, s_next in zip(sigmas[:-1], sigmas[1:]):
        d = (x - denoise(x, float(s))) / float(s)
        x = x + d * float(s_next - s)
    return x


def sample_heun(denoise: Denoise, x, sigmas) -> object:
    """EDM algorithm 1 (deterministic): Heun's 2nd-order correction except on the last step."""
    for s, s_next in zip(sigmas[:-1], sigmas[1:]):
        d = (x - denoise(x, float(s))) / float(s)
        x_next = x + d * float(s_next - s)
        if s_next > 0:
            d2 = (x_next - denoise(x_next, float(s_next))) / float(s_next)
            x_next = x + (d + d2) * (0.5 * float(s_next - s))
        x = x_next
    return x


def sample_dpmpp_2m(denoise: Denoise, x, sigmas) -> object:
    """DPM-Solver++(2M) (Lu et al. 2022, algorithm 2): 2nd order, one call per step."""
    old = None
    for i, (s, s_next) in enumerate(zip(sigmas[:-1], sigmas[1:])):
        x0 = denoise(x, float(s))
        if s_next == 0:
            x = x0
            break
        t, t_next = -np.log(s), -np.log(s_next)
        h = t_next - t
        if old is None:
            x = x * float(s_next / s) - x0 * float(np.expm1(-h))
        else:
            h_last = t - (-np.log(sigmas[i - 1]))
            r = h_last / h
            x0d = x0 * float(1 + 1 / (2 * r)) - old * float(1 / (2 * r))
            x = x * float(s_next / s) - x0d * float(np.expm1(-h))
        old = x0
    return x


SAMPLERS = {"euler": sample_euler, "heun": sample_heun, "dpmpp2m": sample_dpmpp_2m}
CALLS_PER_STEP = {"euler": 1, "heun": 2, "dpmpp2m": 1}  # heun: 2 per step except the last


def guided(denoise_cond: Callable[[object, object, Conditions], object], cond: Conditions,
           scales: Mapping[str, float] | None = None) -> Denoise:
    """Bind conditions and per-condition guidance scales into a `denoise(x, sigma)`.

    `denoise_cond(x, sigma_batch, cond)` evaluates a batch; sigma_batch has shape (B,)."""
    scales = {k: float(v) for k, v in (scales or {}).items() if float(v) != 1.0}
    for name in scales:
        if name not in CONDITION_NAMES:
            raise ValueError(f"guidance for {name!r}: expected one of {CONDITION_NAMES}")
    names = list(scales)
    batch = Conditions.concat([cond] + [cond.without(n) for n in names]) if names else cond
    reps = 1 + len(names)

    def denoise(x, sigma: float):
        b = x.shape[0]
        xs = x if reps == 1 else _tile(x, reps)
        sig = _full_like_batch(x, b * reps, sigma)
        out = denoise_cond(xs, sig, batch)
        if reps == 1:
            return out
        full = out[:b]
        for k, n in enumerate(names, start=1):
            full = full + (full - out[k * b:(k + 1) * b]) * (scales[n] - 1.0)
        return full

    return denoise


def _tile(x, reps: int):
    if isinstance(x, np.ndarray):
        return np.concatenate([x] * reps, axis=0)
    import torch
    return torch.cat([x] * reps, dim=0)


def _full_like_batch(x, n: int, value: float):
    if isinstance(x, np.ndarray):
        return np.full((n,), value, dtype=x.dtype)
    import torch
    return torch.full((n,), value, dtype=x.dtype, device=x.device)


def sample(denoise: Denoise, noise, *, steps: int, sigma_min: float, sigma_max: float,
           rho: float = 7.0, sampler: str = "euler"):
    """Integrate from `noise` (unit Gaussian, (B, N, 58)) to a clean window."""
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler {sampler!r} is unknown: expected one of {sorted(SAMPLERS)}")
    sigmas = karras_sigmas(steps, sigma_min, sigma_max, rho)
    return SAMPLERS[sampler](denoise, noise * float(sigmas[0]), sigmas)
