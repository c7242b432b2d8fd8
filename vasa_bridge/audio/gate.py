"""Speech presence: an energy gate with hangover, and a smooth weight between silence and
speech, so a face eases into and out of talking (runtime/speech.py blends idle life and speech
motion by it; audio/ahead.py cuts a live voice into phrases at its pauses).

Pure (no clock): one call per audio hop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GateConfig:
    open_db: float = -42.0  # RMS level (dBFS) that opens the gate
    close_db: float = -50.0  # level below which it may close (hysteresis)
    hangover_s: float = 0.35  # keep talking through short pauses
    ramp_s: float = 0.15  # idle <-> speech cross-fade time


class SpeechGate:
    def __init__(self, config: GateConfig = GateConfig()) -> None:
        self.config = config
        self.speaking = False
        self._quiet_s = 0.0
        self.weight = 0.0  # 0 = idle life, 1 = speech motion

    @staticmethod
    def level_db(samples: np.ndarray) -> float:
        if len(samples) == 0:
            return -120.0
        rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
        return 20.0 * np.log10(max(rms, 1e-6))

    def update(self, samples: np.ndarray, hop_s: float) -> str | None:
        """Feed one hop; returns "speech_start", "speech_end" or None."""
        c = self.config
        db = self.level_db(samples)
        event = None
        if db >= c.open_db:
            self._quiet_s = 0.0
            if not self.speaking:
                self.speaking, event = True, "speech_start"
        elif self.speaking:
            if db < c.close_db:
                self._quiet_s += hop_s
            if self._quiet_s >= c.hangover_s:
                self.speaking, event = False, "speech_end"
        step = hop_s / c.ramp_s if c.ramp_s > 0 else 1.0
        self.weight = float(np.clip(self.weight + (step if self.speaking else -step), 0.0, 1.0))
        return event
