"""EDM preconditioning around the network, and the training loss beside it.

Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based Generative Models", table 1:

    D(x; sigma) = c_skip(sigma) x + c_out(sigma) F(c_in(sigma) x; c_noise(sigma))
    c_skip = sd^2 / (sigma^2 + sd^2)   c_out = sigma sd / sqrt(sigma^2 + sd^2)
    c_in = 1 / sqrt(sigma^2 + sd^2)    c_noise = ln(sigma) / 4

D estimates the clean motion (as VASA-1's model does). The slow dimensions (`config.ANCHORED`)
are denoised relative to the last context frame a: D(x) = a + D'(x - a), a = 0 without context.
Loss: lambda(sigma) |D - x0|^2 with lambda = (sigma^2 + sd^2) / (sigma sd)^2 and
ln(sigma) ~ N(p_mean, p_std^2).

Lip seal (`config.seal` > 0): where the seal head fires, mouthClose moves towards jawOpen (raw
units) and jawOpen towards at most `config.seal_jaw` (the corpus's jaw on sealed lips), by the
weight w = sigmoid(seal_sharpness * (logit + seal_bias)) times the audio's keep flag (no audio, no
seal). The loss trains the network on its own output (no seal) and the head by cross-entropy.
"""

from __future__ import annotations

import torch
from torch import nn

from .conditions import Conditions
from .config import ANCHORED, CLOSE, JAW, SEAL_APERTURE
from .model import KEEP_AUDIO, KEEP_CONTEXT, MotionTransformer


class Denoiser(nn.Module):
    """D(x, sigma, conditions) -> clean motion estimate, all (B, N, 58) normalised."""

    def __init__(self, net: MotionTransformer):
        super().__init__()
        self.net = net
        self.config = net.config
        self.sigma_data = float(net.config.diffusion.sigma_data)
        mask = torch.zeros(net.config.motion_dim)
        mask[list(ANCHORED)] = 1.0
        self.register_buffer("anchor_mask", mask, persistent=False)
        c = net.config
        self.jaw_raw = (float(c.motion_mean[JAW]), float(c.motion_std[JAW]))
        self.close_raw = (float(c.motion_mean[CLOSE]), float(c.motion_std[CLOSE]))

    def forward(self, x: torch.Tensor, sigma: torch.Tensor, audio, context, emotion, gaze,
                intensity, keep, return_seal: bool = False, apply_seal: bool = True):
        sd = self.sigma_data
        anchor = context[:, -1:, :] * keep[:, KEEP_CONTEXT, None, None] * self.anchor_mask  # (B,1,58)
        x = x - anchor
        s = sigma.to(x.dtype).reshape(-1, 1, 1)  # (B, 1, 1)
        c_skip = sd ** 2 / (s ** 2 + sd ** 2)
        c_out = s * sd / (s ** 2 + sd ** 2).sqrt()
        c_in = 1 / (s ** 2 + sd ** 2).sqrt()
        c_noise = sigma.to(x.dtype).reshape(-1).log() / 4
        f = self.net(c_in * x, c_noise, audio, context, emotion, gaze, intensity, keep)
        if self.config.diffusion.prediction == "x0":
            out = anchor + f
        else:
            out = anchor + c_skip * x + c_out * f
        if self.net.seal_head is None:
            return (out, None) if return_seal else out
        logits = self.net.seal_logits(audio, x.shape[1])  # (B, N)
        if apply_seal:
            out = self.seal(out, logits, keep[:, KEEP_AUDIO, None])
        return (out, logits) if return_seal else out

    def seal(self, out: torch.Tensor, logits: torch.Tensor, keep_audio: torch.Tensor):
        """Close the lips where the seal head fires: mouthClose -> jawOpen, in raw units."""
        c = self.config
        w = torch.sigmoid(c.seal_sharpness * (logits + c.seal_bias)) * keep_audio  # (B, N)
        (mj, sj), (mc, sc) = self.jaw_raw, self.close_raw
        jaw = out[..., JAW] * sj + mj
        close = out[..., CLOSE] * sc + mc
        if c.seal_jaw > 0:  # sealed lips hold the jaw nearly shut
            jaw = jaw + w * (torch.clamp(jaw, max=c.seal_jaw) - jaw)
        new_close = close + w * (jaw - close)
        cols = torch.arange(out.shape[-1], device=out.device)
        out = torch.where(cols == JAW, ((jaw - mj) / sj)[..., None], out)
        return torch.where(cols == CLOSE, ((new_close - mc) / sc)[..., None], out)

    def denoise(self, x: torch.Tensor, sigma: torch.Tensor, cond: Conditions) -> torch.Tensor:
        return self(x, sigma, *cond.as_tuple())

    def sealed(self, x0: torch.Tensor) -> torch.Tensor:
        """(B, N) 1 where the clean (normalised) motion has sealed lips: the seal head's label."""
        (mj, sj), (mc, sc) = self.jaw_raw, self.close_raw
        aperture = (x0[..., JAW] * sj + mj) - (x0[..., CLOSE] * sc + mc)
        return (aperture < SEAL_APERTURE).to(x0.dtype)


def edm_loss(denoiser: Denoiser, x0: torch.Tensor, cond: Conditions,
             generator: torch.Generator | None = None,
             weights: torch.Tensor | None = None, velocity: float = 0.0,
             extra=None, seal: float = 1.0, seal_events: float = 0.0) -> torch.Tensor:
    """Mean EDM loss of a batch of clean windows x0 (B, N, 58); `weights` (58,) per dimension.

    `velocity` adds the same weighted error on frame-to-frame differences: per-frame errors that
    are independent across frames (jitter) cost twice as much as a smooth offset. `extra(out, x0)`
    returns a further per-frame error (B, N), weighted like the rest. With a seal head, `seal`
    weighs its binary cross-entropy against the sealed frames of x0 (audio-dropped rows left out);
    frames of a brief closure (open lips within 2 frames on both sides: a /p b m/, not a pause)
    count 1 + `seal_events` times.
    """
    d = denoiser.config.diffusion
    b = x0.shape[0]
    ln_sigma = torch.randn(b, generator=generator, device=x0.device) * d.p_std + d.p_mean
    sigma = ln_sigma.exp()  # (B,)
    noise = torch.randn(x0.shape, generator=generator, device=x0.device) * sigma[:, None, None]
    out, logits = denoiser(x0 + noise, sigma, *cond.as_tuple(), return_seal=True,
                           apply_seal=False)
    sd = d.sigma_data
    if d.prediction == "x0":
        lam = torch.ones_like(sigma)  # plain x0 regression, as MDM; EDM's weight would be 1/sigma^2
    else:
        lam = (sigma ** 2 + sd ** 2) / (sigma * sd) ** 2  # (B,)
    err = (out - x0) ** 2  # (B, N, 58)
    if weights is not None:
        err = err * weights
    loss = (lam[:, None, None] * err).mean()
    if velocity and x0.shape[1] > 1:
        verr = (out.diff(dim=1) - x0.diff(dim=1)) ** 2  # (B, N-1, 58)
        if weights is not None:
            verr = verr * weights
        loss = loss + velocity * (lam[:, None, None] * verr).mean()
    if extra is not None:
        loss = loss + (lam[:, None] * extra(out, x0)).mean()
    if logits is not None and seal:
        keep_audio = cond.keep[:, KEEP_AUDIO, None].expand_as(logits)
        label = denoiser.sealed(x0)
        bce = nn.functional.binary_cross_entropy_with_logits(logits, label, reduction="none")
        weight = keep_audio * (1.0 + seal_events * brief_closures(label)) if seal_events \
            else keep_audio
        loss = loss + seal * (bce * weight).sum() / keep_audio.sum().clamp(min=1.0)
    return loss


def brief_closures(sealed: torch.Tensor, reach: int = 2) -> torch.Tensor:
    """(B, N) 1 on sealed frames with open lips within `reach` frames before and after."""
    open_ = (1.0 - sealed)[:, None, :]  # (B, 1, N)
    n = sealed.shape[1]
    before = nn.functional.max_pool1d(nn.functional.pad(open_, (reach, 0)), reach, 1)[..., :n]
    after = nn.functional.max_pool1d(nn.functional.pad(open_, (0, reach)), reach, 1)[..., 1:]
    return sealed * before[:, 0] * after[:, 0]
