"""A single-producer, single-consumer ring buffer of mono float32 samples.

The audio callback only copies into it (`write`); a worker reads fixed hops (`read`). No clock,
no thread of its own: tests drive it deterministically. When the reader falls behind by more
than the capacity, the oldest samples are overwritten and counted in `overflowed` — the
callback must never wait.
"""

from __future__ import annotations

import threading

import numpy as np

from ..errors import ConfigError


class RingBuffer:
    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ConfigError(f"ring buffer capacity is {capacity}: expected a positive number "
                              f"of samples")
        self._buf = np.zeros(capacity, np.float32)
        self._capacity = capacity
        self._write = 0  # total samples ever written
        self._read = 0  # total samples ever read (or skipped by overflow)
        self._lock = threading.Lock()
        self.overflowed = 0  # samples lost because the reader fell behind

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def available(self) -> int:
        with self._lock:
            return self._write - self._read

    @property
    def total_written(self) -> int:
        return self._write

    @property
    def total_read(self) -> int:
        """Samples consumed or skipped: the media position of the next `read`, in samples."""
        return self._read

    def write(self, samples: np.ndarray) -> None:
        samples = np.asarray(samples, np.float32).reshape(-1)
        n = len(samples)
        if n == 0:
            return
        if n > self._capacity:  # only the newest capacity samples can be kept
            lost = n - self._capacity
            samples = samples[lost:]
            n = self._capacity
        else:
            lost = 0
        with self._lock:
            start = (self._write + lost) % self._capacity
            first = min(n, self._capacity - start)
            self._buf[start:start + first] = samples[:first]
            self._buf[:n - first] = samples[first:]
            self._write += lost + n
            behind = self._write - self._read - self._capacity
            if behind > 0:
                self._read += behind
                self.overflowed += behind

    def read(self, n: int) -> np.ndarray | None:
        """Exactly n samples (a copy), or None when fewer are buffered."""
        with self._lock:
            if self._write - self._read < n:
                return None
            start = self._read % self._capacity
            first = min(n, self._capacity - start)
            out = np.empty(n, np.float32)
            out[:first] = self._buf[start:start + first]
            out[first:] = self._buf[:n - first]
            self._read += n
            return out
