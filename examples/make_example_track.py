"""Make the bundled example track: 8 s of synthetic vowel babble with matching motion.

The audio is a formant synthesiser (a glottal pulse train through two resonators per vowel);
the motion follows the same syllable plan, so mouth and sound agree exactly. Blinks and head
sway are seeded. Deterministic: the same bytes on every run.

    python examples/make_example_track.py examples/talk.npz vasa_bridge/assets/example_track.npz
"""

from __future__ import annotations

import sys

import numpy as np
from scipy.signal import lfilter

from vasa_bridge.motion import MotionTrack, save
from vasa_bridge.motion.names import INDEX

RATE = 16000  # Hz
FPS = 25.0
SECONDS = 8.0
# vowel: (F1, F2 in Hz, jawOpen, funnel, pucker, stretch)
VOWELS = {
    "a": (750, 1200, 0.70, 0.00, 0.00, 0.10),
    "e": (500, 1900, 0.40, 0.00, 0.00, 0.45),
    "i": (300, 2300, 0.20, 0.00, 0.00, 0.60),
    "o": (500, 900, 0.45, 0.55, 0.20, 0.00),
    "u": (320, 800, 0.20, 0.30, 0.70, 0.00),
}


def syllable_plan(rng: np.random.Generator) -> list[tuple[float, float, str]]:
    """(start s, end s, vowel) for each syllable; phrases of 3-7 syllables with pauses."""
    plan, t = [], 0.4
    while t < SECONDS - 0.8:
        for _ in range(rng.integers(3, 8)):
            dur = rng.uniform(0.14, 0.26)
            if t + dur > SECONDS - 0.5:
                break
            plan.append((t, t + dur, rng.choice(list(VOWELS))))
            t += dur + rng.uniform(0.03, 0.07)  # a consonant gap: the lips meet or narrow
        t += rng.uniform(0.35, 0.7)  # a pause between phrases
    return plan


def resonator(x: np.ndarray, freq: float, bw: float) -> np.ndarray:
    r = np.exp(-np.pi * bw / RATE)
    a = [1.0, -2 * r * np.cos(2 * np.pi * freq / RATE), r * r]
    return lfilter([1 - r], a, x)


def synthesize(plan, rng) -> np.ndarray:
    n = int(SECONDS * RATE)
    out = np.zeros(n)
    t = np.arange(n) / RATE
    f0 = 125 + 15 * np.sin(2 * np.pi * 0.3 * t)  # a gentle intonation
    phase = np.cumsum(f0 / RATE)
    pulses = (np.diff(np.floor(phase), prepend=0) > 0).astype(float)
    for start, end, vowel in plan:
        a, b = int(start * RATE), int(end * RATE)
        f1, f2 = VOWELS[vowel][:2]
        src = pulses[a:b] + 0.02 * rng.standard_normal(b - a)
        seg = resonator(src, f1, 90) + 0.6 * resonator(src, f2, 120)
        env = np.sin(np.linspace(0, np.pi, b - a)) ** 0.6
        out[a:b] += seg * env
    return (0.6 * out / np.abs(out).max()).astype(np.float32)


def motion(plan, rng) -> MotionTrack:
    T = int(SECONDS * FPS)
    times = np.arange(T) / FPS
    shapes = np.zeros((T, 52), np.float32)
    for start, end, vowel in plan:
        _, _, jaw, funnel, pucker, stretch = VOWELS[vowel]
        # The lips lead the sound by ~40 ms and ease in and out.
        w = np.clip(np.sin(np.pi * (times - start + 0.04) / (end - start + 0.04)), 0, 1) * \
            ((times >= start - 0.04) & (times <= end))
        for name, value in (("jawOpen", jaw), ("mouthFunnel", funnel), ("mouthPucker", pucker),
                            ("mouthStretchLeft", stretch), ("mouthStretchRight", stretch)):
            shapes[:, INDEX[name]] = np.maximum(shapes[:, INDEX[name]], value * w)
    speaking = shapes[:, INDEX["jawOpen"]] > 0.02
    shapes[:, INDEX["mouthClose"]] = np.where(speaking, 0.0, 0.05)
    t = rng.uniform(0.8, 2.0)
    while t < SECONDS:  # blinks: 150 ms, every 2-5 s
        k = (times >= t) & (times < t + 0.15)
        shapes[k, INDEX["eyeBlinkLeft"]] = shapes[k, INDEX["eyeBlinkRight"]] = \
            np.sin(np.pi * (times[k] - t) / 0.15)
        t += rng.uniform(2.0, 5.0)
    brow = 0.25 * np.clip(np.sin(2 * np.pi * 0.2 * times), 0, 1)
    shapes[:, INDEX["browInnerUp"]] = brow
    rot = np.stack([3 * np.sin(2 * np.pi * 0.35 * times + 1.0),
                    6 * np.sin(2 * np.pi * 0.13 * times),
                    2 * np.sin(2 * np.pi * 0.21 * times + 0.5)], axis=1)
    trans = np.stack([0.005 * np.sin(2 * np.pi * 0.1 * times), np.zeros(T),
                      0.003 * np.sin(2 * np.pi * 0.07 * times)], axis=1)
    return MotionTrack(np.clip(shapes, 0, 1), rot, trans, FPS)


def make() -> MotionTrack:
    rng = np.random.default_rng(2024)
    plan = syllable_plan(rng)
    audio = synthesize(plan, rng)
    return motion(plan, rng).with_audio(audio, RATE)


if __name__ == "__main__":
    track = make()
    for path in sys.argv[1:] or ["examples/talk.npz"]:
        print(save(track, path), f"{len(track)} frames at {track.fps:g} fps, "
              f"{len(track.audio) / RATE:.1f} s of audio")
