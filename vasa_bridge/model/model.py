"""The network: a transformer over one window of motion frames (the transformer only).

Tokens, one per frame (VASA-1 section 3.2; JoyVASA's windows with context):

    [ context: C previous frames ][ window: N frames being denoised ][ look-ahead: L frames ]
      clean motion + audio          noisy motion + audio               audio only

Every token adds its frame's audio features (projected), a token-type and a position embedding.
Global conditions (noise level, emotion, gaze, head-motion intensity) form one vector that
modulates every block (adaLN-Zero, Peebles & Xie 2023, "Scalable Diffusion Models with
Transformers", section 3.2). Each condition, the audio and the context can be switched off per
sample by `keep` (0 = replaced by a learned null embedding): that is the condition dropout of
training and the unconditional branch of classifier-free guidance.

Attention is written out (no fused kernels) so the graph exports to ONNX as plain ops.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .config import EMOTIONS, ModelConfig

KEEP_AUDIO, KEEP_CONTEXT, KEEP_GAZE, KEEP_INTENSITY, KEEP_EMOTION = range(5)
NUM_KEEP = 5


def _sinusoids(length: int, width: int) -> torch.Tensor:
    """(length, width) sine/cosine positions (Vaswani et al. 2017, section 3.5), periods 2..200."""
    pos = torch.arange(length, dtype=torch.float32)[:, None]
    freq = torch.exp(-math.log(100.0) * torch.arange(width // 2, dtype=torch.float32) / (width // 2))
    ang = pos * freq[None, :] * math.pi
    return torch.cat([ang.sin(), ang.cos()], dim=1)


class Block(nn.Module):
    def __init__(self, width: int, heads: int, ff_mult: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.scale = 1.0 / math.sqrt(width // heads)
        self.norm1 = nn.LayerNorm(width, eps=1e-6)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.norm2 = nn.LayerNorm(width, eps=1e-6)
        self.ff = nn.Sequential(nn.Linear(width, ff_mult * width), nn.GELU(approximate="tanh"),
                                nn.Linear(ff_mult * width, width))
        # depthwise convolution over time: tokens are consecutive frames, and a local filter is
        # the inductive bias that lets a small model learn smooth motion quickly
        self.norm3 = nn.LayerNorm(width, eps=1e-6)
        self.conv = nn.Conv1d(width, width, kernel_size=5, padding=2, groups=width)
        self.drop = nn.Dropout(dropout)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        b, t, w = h.shape  # (B, T, W)
        y = self.norm1(h)
        qkv = self.qkv(y).reshape(b, t, 3, self.heads, w // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # each (B, H, T, W/H)
        att = (q @ k.transpose(-2, -1)) * self.scale  # (B, H, T, T)
        y = (att.softmax(dim=-1) @ v).transpose(1, 2).reshape(b, t, w)  # (B, T, W)
        h = h + self.drop(self.proj(y))
        h = h + self.conv(self.norm3(h).transpose(1, 2)).transpose(1, 2)  # (B, T, W)
        return h + self.drop(self.ff(self.norm2(h)))


class SealHead(nn.Module):
    """Per-frame logit that the lips are sealed (jawOpen - mouthClose below 0.1), from audio only.

    Bilabial closures (/p b m/) last one or two frames; the transformer, a regressor at heart,
    rounds them off. This small convolution over the audio tokens says where they are, and the
    denoiser closes the lips there (`Denoiser`). It sees frames t-7..t+1: exactly one frame of
    look-ahead, so a window's last frame is judged on the same audio offline and live."""

    def __init__(self, audio_dim: int, width: int):
        super().__init__()
        self.inp = nn.Linear(audio_dim, width)
        self.conv1 = nn.Conv1d(width, width, kernel_size=5)  # frames t-3..t+1
        self.conv2 = nn.Conv1d(width, width, kernel_size=5)  # frames t-4..t
        self.out = nn.Linear(width, 1)
        self.act = nn.GELU(approximate="tanh")
        self.drop = nn.Dropout(0.1)  # training only: it overfits the training voices without

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """audio (B, T, A) -> logits (B, T); the first frames see zero padding before them."""
        h = self.act(self.inp(audio)).transpose(1, 2)  # (B, W, T)
        h = self.act(self.conv1(nn.functional.pad(h, (3, 1))))
        h = self.drop(self.act(self.conv2(nn.functional.pad(self.drop(h), (4, 0)))))
        return self.out(h.transpose(1, 2))[..., 0]


class MotionTransformer(nn.Module):
    """F(x; sigma, conditions): the raw network inside the EDM preconditioning (`denoiser.py`).

    forward(x (B,N,58), c_noise (B,), audio (B,C+N+L,A), context (B,C,58), emotion (B,) int64
    in 0..5 (0 = unspecified), gaze (B,2), intensity (B,), keep (B,5) in {0,1}) -> (B,N,58).
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        w, m = config.width, config.motion_dim
        self.motion_in = nn.Linear(m, w)
        self.last_in = nn.Linear(m, w)  # the last context frame, given to every window token
        self.audio_in = nn.Sequential(nn.Linear(config.audio_dim, w), nn.GELU(approximate="tanh"),
                                      nn.Linear(w, w))
        self.null_audio = nn.Parameter(torch.zeros(w))
        self.null_context = nn.Parameter(torch.zeros(w))
        self.type_emb = nn.Parameter(torch.randn(3, w) * 0.02)  # context, window, look-ahead
        self.pos_emb = nn.Parameter(0.1 * _sinusoids(config.max_tokens, w))  # learnable
        self.register_buffer("noise_freq", torch.randn(w // 2) * 4.0)  # fixed Fourier frequencies
        self.noise_mlp = nn.Sequential(nn.Linear(w, w), nn.SiLU(), nn.Linear(w, w))
        self.emotion_emb = nn.Embedding(len(EMOTIONS) + 1, w)
        nn.init.normal_(self.emotion_emb.weight, std=0.02)  # N(0, 1) would drown the motion input
        self.gaze_in = nn.Sequential(nn.Linear(2, w), nn.SiLU(), nn.Linear(w, w))
        self.intensity_in = nn.Sequential(nn.Linear(1, w), nn.SiLU(), nn.Linear(w, w))
        self.null_gaze = nn.Parameter(torch.zeros(w))
        self.null_intensity = nn.Parameter(torch.zeros(w))
        self.blocks = nn.ModuleList(Block(w, config.heads, config.ff_mult, config.dropout)
                                    for _ in range(config.layers))
        self.norm_out = nn.LayerNorm(w, eps=1e-6)
        self.out = nn.Linear(w, m)
        self.seal_head = SealHead(config.audio_dim, config.seal) if config.seal else None

    def forward(self, x, c_noise, audio, context, emotion, gaze, intensity, keep):
        cfg = self.config
        n = x.shape[1]
        c_len = cfg.context
        keep = keep.to(x.dtype)
        k_audio, k_ctx = keep[:, KEEP_AUDIO, None, None], keep[:, KEEP_CONTEXT, None, None]
        k_gaze, k_int = keep[:, KEEP_GAZE, None], keep[:, KEEP_INTENSITY, None]
        emotion = emotion * keep[:, KEEP_EMOTION].long()  # dropped emotion -> row 0

        ctx = self.motion_in(context) * k_ctx + self.null_context * (1 - k_ctx)  # (B, C, W)
        win = self.motion_in(x) + self.last_in(context[:, -1:] * k_ctx)  # (B, N, W)
        la = torch.zeros_like(win[:, :1]).expand(-1, audio.shape[1] - c_len - n, -1)  # (B, L, W)
        h = torch.cat([ctx + self.type_emb[0], win + self.type_emb[1], la + self.type_emb[2]],
                      dim=1)  # (B, T, W)
        a = self.audio_in(audio) * k_audio + self.null_audio * (1 - k_audio)  # (B, T, W)
        h = h + a + self.pos_emb[: h.shape[1]]

        f = c_noise[:, None] * self.noise_freq[None, :]  # (B, W/2) Fourier features of ln(sigma)
        c = self.noise_mlp(torch.cat([f.cos(), f.sin()], dim=-1))
        c = c + self.emotion_emb(emotion)
        c = c + self.gaze_in(gaze) * k_gaze + self.null_gaze * (1 - k_gaze)
        c = c + self.intensity_in(intensity[:, None]) * k_int + self.null_intensity * (1 - k_int)
        h = h + c[:, None, :]  # global conditions reach every token

        for block in self.blocks:
            h = block(h)
        return self.out(self.norm_out(h[:, c_len:c_len + n]))  # (B, N, 58)

    def seal_logits(self, audio: torch.Tensor, n: int) -> torch.Tensor:
        """(B, N) lip-seal logits of the N window frames (audio tokens [context|window|ahead])."""
        c = self.config.context
        return self.seal_head(audio)[:, c:c + n]

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
