"""Phoneme timelines: what was said when, in one engine's phoneme set.

A timeline is N contiguous-or-gapped segments `[start, end)` in seconds with a label each.
Two phoneme sets occur:

- ``"ipa"``: espeak-ng's IPA strings (``"ˈoʊ"``, ``"tʃ"``); stress marks are kept in the label;
- ``"arpabet"``: festival's radio phones and the CMU/pocketsphinx phones (``"aa"``, ``"hh"``),
  lower case, without stress digits.

Silence is always the label ``"sil"`` (espeak's empty pause events, festival's ``pau``/``h#``,
pocketsphinx's ``SIL``/``+NOISE+`` fillers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from ..errors import DataError

PHONESETS = ("ipa", "arpabet")
SILENCE = "sil"
_ARPABET_SILENCES = {"pau", "h#", "sil", "brth", "", "sp", "spn"}


def normalise_label(label: str, phoneset: str) -> str:
    """Engine label -> stored label: silence becomes 'sil', ARPAbet loses case and stress."""
    label = label.strip()
    if phoneset == "arpabet":
        low = label.lower().rstrip("012")
        if low in _ARPABET_SILENCES or (low.startswith("+") and low.endswith("+")) or low.startswith("<"):
            return SILENCE
        return low
    if phoneset == "ipa":
        return label if label and label != "_" else SILENCE
    raise DataError(f"phoneset {phoneset!r} is unknown: expected one of {PHONESETS}")


@dataclass(frozen=True)
class PhonemeTimeline:
    labels: tuple[str, ...]  # (N,) normalised labels
    starts: np.ndarray  # (N,) float64 seconds
    ends: np.ndarray  # (N,) float64 seconds, ends[i] >= starts[i]
    phoneset: str  # "ipa" | "arpabet"

    def __post_init__(self) -> None:
        if self.phoneset not in PHONESETS:
            raise DataError(f"phoneset {self.phoneset!r} is unknown: expected one of {PHONESETS}")
        labels = tuple(str(x) for x in self.labels)
        starts = np.array(self.starts, dtype=np.float64).reshape(-1)
        ends = np.array(self.ends, dtype=np.float64).reshape(-1)
        if not len(labels) == len(starts) == len(ends):
            raise DataError(f"timeline has {len(labels)} labels, {len(starts)} starts and "
                            f"{len(ends)} ends: expected the same count")
        if len(starts) and (not np.all(np.isfinite(starts)) or not np.all(np.isfinite(ends))):
            raise DataError("timeline times are not all finite: expected finite seconds")
        if np.any(ends < starts):
            i = int(np.argmax(ends < starts))
            raise DataError(f"segment {i} ({labels[i]!r}) ends at {ends[i]:.3f} s before it starts "
                            f"at {starts[i]:.3f} s: expected end >= start")
        if np.any(np.diff(starts) < -1e-9):
            i = int(np.argmax(np.diff(starts) < -1e-9)) + 1
            raise DataError(f"segment {i} starts at {starts[i]:.3f} s, before segment {i - 1} "
                            f"({starts[i - 1]:.3f} s): expected segments in time order")
        for arr in (starts, ends):
            arr.setflags(write=False)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "starts", starts)
        object.__setattr__(self, "ends", ends)

    @classmethod
    def from_segments(cls, segments: Iterable[tuple[str, float, float]], phoneset: str,
                      *, merge_silence: bool = True) -> "PhonemeTimeline":
        """Build from (label, start, end) with engine labels; adjacent silences are merged."""
        labels: list[str] = []
        starts: list[float] = []
        ends: list[float] = []
        for label, start, end in segments:
            label = normalise_label(label, phoneset)
            if end <= start:
                continue
            if merge_silence and labels and label == SILENCE and labels[-1] == SILENCE \
                    and abs(starts[-1] + (ends[-1] - starts[-1]) - start) < 1e-6:
                ends[-1] = end
                continue
            labels.append(label)
            starts.append(start)
            ends.append(end)
        return cls(tuple(labels), np.array(starts), np.array(ends), phoneset)

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def duration(self) -> float:
        return float(self.ends[-1]) if len(self) else 0.0

    def speech_mask(self, times: np.ndarray) -> np.ndarray:
        """(T,) bool: True where a non-silence segment covers the time."""
        times = np.asarray(times, np.float64)
        idx = np.searchsorted(self.starts, times, side="right") - 1
        ok = idx >= 0
        idx = np.clip(idx, 0, max(len(self) - 1, 0))
        if not len(self):
            return np.zeros(times.shape, bool)
        inside = ok & (times < self.ends[idx])
        speech = np.array([lab != SILENCE for lab in self.labels])
        return inside & speech[idx]

    def shifted(self, offset: float) -> "PhonemeTimeline":
        return PhonemeTimeline(self.labels, self.starts + offset, self.ends + offset, self.phoneset)

    def slice(self, t0: float, t1: float) -> "PhonemeTimeline":
        """Segments overlapping [t0, t1), clipped to it and re-timed so t0 becomes 0."""
        keep = (self.ends > t0) & (self.starts < t1)
        idx = np.flatnonzero(keep)
        return PhonemeTimeline(tuple(self.labels[i] for i in idx),
                               np.clip(self.starts[idx], t0, t1) - t0,
                               np.clip(self.ends[idx], t0, t1) - t0, self.phoneset)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The arrays stored in a dataset clip (docs/data.md)."""
        return {"phone_labels": np.array(self.labels, dtype=str),
                "phone_starts": self.starts.astype(np.float64),
                "phone_ends": self.ends.astype(np.float64),
                "phoneset": np.array(self.phoneset)}

    @classmethod
    def from_arrays(cls, arrays) -> "PhonemeTimeline":
        labels: Sequence[str] = [str(x) for x in arrays["phone_labels"]]
        return cls(tuple(labels), arrays["phone_starts"], arrays["phone_ends"],
                   str(arrays["phoneset"]))
