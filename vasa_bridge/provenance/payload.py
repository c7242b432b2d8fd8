"""Watermark payload: 32 bits of identity, a CRC-16, and a rate-1/3 convolutional code.

Layout of the 32-bit payload (most significant bit first on the wire):

    bits 31..24  generator id  (8 bits)   0x5B = vasa_bridge
    bits 23..0   session id    (24 bits)  random per `serve`/`render` session

The 32 payload bits are followed by CRC-16/CCITT-FALSE of the 4 payload bytes (big-endian), then
6 zero tail bits; the 54 bits are encoded with the K=7 rate-1/3 convolutional code of LTE
(generators 133, 171, 165 octal), giving 162 coded bits. Detection decodes soft bits with a
Viterbi decoder; a payload counts only when its CRC matches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ..errors import ConfigError

GENERATOR_VASA_BRIDGE = 0x5B  # the generator id written by vasa_bridge
PAYLOAD_BITS = 32
CRC_BITS = 16
_K = 7  # constraint length
_GENERATORS = (0o133, 0o171, 0o165)
_TAIL = _K - 1
MESSAGE_BITS = PAYLOAD_BITS + CRC_BITS  # 48
CODED_BITS = (MESSAGE_BITS + _TAIL) * len(_GENERATORS)  # 162


@dataclass(frozen=True)
class Payload:
    """What the mark says: who generated the frame (generator id) and in which session."""

    generator_id: int  # 0..255
    session_id: int  # 0..2**24-1

    def __post_init__(self):
        if not 0 <= self.generator_id < 256:
            raise ConfigError(f"generator_id must be in [0, 255], got {self.generator_id}")
        if not 0 <= self.session_id < 1 << 24:
            raise ConfigError(f"session_id must be in [0, 2**24 - 1], got {self.session_id}")

    def to_int(self) -> int:
        return (self.generator_id << 24) | self.session_id

    @classmethod
    def from_int(cls, value: int) -> "Payload":
        return cls(generator_id=(value >> 24) & 0xFF, session_id=value & 0xFFFFFF)

    def __str__(self) -> str:
        return f"generator=0x{self.generator_id:02X} session=0x{self.session_id:06X}"


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF): crc16(b"123456789") == 0x29B1."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def _int_to_bits(value: int, n: int) -> np.ndarray:
    return np.array([(value >> (n - 1 - i)) & 1 for i in range(n)], dtype=np.uint8)


def _bits_to_int(bits: np.ndarray) -> int:
    value = 0
    for b in bits:
        value = (value << 1) | int(b)
    return value


def message_bits(payload: Payload) -> np.ndarray:
    """The 48 message bits: payload then its CRC-16."""  # (48,)
    value = payload.to_int()
    crc = crc16(value.to_bytes(4, "big"))
    return np.concatenate([_int_to_bits(value, PAYLOAD_BITS), _int_to_bits(crc, CRC_BITS)])


def _parity(x: int) -> int:
    return bin(x).count("1") & 1


# Trellis tables. State = the last K-1 input bits, newest in the most significant position.
_N_STATES = 1 << (_K - 1)
_OUT = np.zeros((_N_STATES, 2, len(_GENERATORS)), dtype=np.uint8)  # coded bits per (state, input)
_NEXT = np.zeros((_N_STATES, 2), dtype=np.int64)
for _s in range(_N_STATES):
    for _b in range(2):
        _reg = (_b << (_K - 1)) | _s  # K bits: input bit then the state
        _OUT[_s, _b] = [_parity(_reg & g) for g in _GENERATORS]
        _NEXT[_s, _b] = _reg >> 1
# Predecessors of each state: for next state t, input bit b = t's top bit, prev states p with
# _NEXT[p, b] == t. Two per state.
_PREV = np.zeros((_N_STATES, 2), dtype=np.int64)
_PREV_BIT = np.zeros(_N_STATES, dtype=np.int64)
for _t in range(_N_STATES):
    _ps = [p for p in range(_N_STATES) for b in range(2) if _NEXT[p, b] == _t]
    _PREV[_t] = _ps
    _PREV_BIT[_t] = _t >> (_K - 2)
_OUT_SIGNED = 2.0 * _OUT.astype(np.float64) - 1.0  # bit 1 -> +1, bit 0 -> -1


def conv_encode(bits: np.ndarray) -> np.ndarray:
    """Encode message bits (+ zero tail) with the K=7 rate-1/3 code."""  # (3 * (n + 6),)
    state = 0
    out = []
    for b in np.concatenate([bits.astype(np.uint8), np.zeros(_TAIL, np.uint8)]):
        out.extend(_OUT[state, b])
        state = _NEXT[state, b]
    return np.array(out, dtype=np.uint8)


def encode(payload: Payload) -> np.ndarray:
    """The 162 coded bits of a payload, as 0/1."""
    return conv_encode(message_bits(payload))


def viterbi_decode(soft: np.ndarray) -> np.ndarray:
    """Soft-input Viterbi decode; soft > 0 means bit 1. Returns the message bits (tail dropped)."""
    n_gen = len(_GENERATORS)
    steps = soft.shape[0] // n_gen
    soft = soft[: steps * n_gen].reshape(steps, n_gen).astype(np.float64)  # (steps, 3)
    metric = np.full(_N_STATES, -np.inf)
    metric[0] = 0.0
    choices = np.zeros((steps, _N_STATES), dtype=np.int8)
    for t in range(steps):
        branch = _OUT_SIGNED @ soft[t]  # (states, 2): correlation of each branch with the input
        # candidate metric for each next state from its two predecessors
        p0, p1 = _PREV[:, 0], _PREV[:, 1]
        b = _PREV_BIT
        m0 = metric[p0] + branch[p0, b]
        m1 = metric[p1] + branch[p1, b]
        pick = m1 > m0
        choices[t] = pick
        metric = np.where(pick, m1, m0)
    state = 0  # the tail drives the encoder back to state 0
    bits = np.zeros(steps, dtype=np.uint8)
    for t in range(steps - 1, -1, -1):
        bits[t] = _PREV_BIT[state]
        state = _PREV[state, choices[t, state]]
    return bits[: steps - _TAIL]


class Decoded(NamedTuple):
    payload: Payload | None  # None when the CRC-16 does not match
    recoded: np.ndarray  # (162,) the decoded message re-encoded, 0/1
    raw: int  # the 32 payload bits as decoded, whether or not the CRC matched


def decode(soft: np.ndarray) -> Decoded:
    """Decode 162 soft bits (soft > 0 means bit 1)."""
    if soft.shape != (CODED_BITS,):
        raise ConfigError(f"soft bits must have shape ({CODED_BITS},), got {soft.shape}")
    bits = viterbi_decode(soft)
    value = _bits_to_int(bits[:PAYLOAD_BITS])
    crc = _bits_to_int(bits[PAYLOAD_BITS:MESSAGE_BITS])
    recoded = conv_encode(bits)
    ok = crc16(value.to_bytes(4, "big")) == crc
    return Decoded(Payload.from_int(value) if ok else None, recoded, value)


def new_session_payload(generator_id: int = GENERATOR_VASA_BRIDGE) -> Payload:
    """A payload with a fresh random 24-bit session id (one per `serve`/`render` session)."""
    import secrets

    return Payload(generator_id=generator_id, session_id=secrets.randbits(24))
