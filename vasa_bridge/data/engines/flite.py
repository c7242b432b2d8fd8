"""flite (CMU's small synthesiser, Debian package `flite`): its built-in clustergen voices
`awb` (a Scottish man), `rms` (a US man) and `slt` (a US woman), each a statistical model of one
real speaker's recordings (CMU ARCTIC), English only. New speakers for the live mouth's acoustic
head (issue 15); `slt` is the speaker festival's HTS voice was made from, the validation voice,
so a corpus that trains the head leaves `flite:slt` out too.

One `flite` process per utterance: the text goes in through a file, the audio comes back as a
RIFF file, the phones with their end times (`-psdur`) on stdout. Speaking rate is flite's
`duration_stretch`; these voices keep their own pitch (flite's intonation targets drive only
its diphone voices).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

from ...errors import DataError, EngineUnavailable
from .base import Prosody, Utterance, Voice, utterance_from_wav

# flite voice -> (speaker, gender)
VOICES = {
    "awb": ("flite:awb", "male"),
    "rms": ("flite:rms", "male"),
    "slt": ("flite:slt", "female"),
}
TIMEOUT_S = 60.0  # one utterance; flite speaks a sentence in well under a second


def parse_phones(text: str) -> list[tuple[str, float, float]]:
    """flite's `-psdur` output -> (label, start, end) segments, seconds from the audio's start.
    flite speaks a text as utterances (sentences, phrases) one after another and prints a line
    per utterance, each phone with its end ("pau:0.269 g:0.319 ..."), the times starting again
    at 0 on every line: each line is placed after the ones before it."""
    segs: list[tuple[str, float, float]] = []
    offset = 0.0
    for line in text.splitlines():
        t0 = 0.0
        for token in line.split():
            label, sep, end = token.rpartition(":")
            if not sep or not label:
                continue
            try:
                t1 = float(end)
            except ValueError:
                continue
            if t1 >= t0:
                segs.append((label, offset + t0, offset + t1))
                t0 = t1
        offset += t0
    return segs


class FliteEngine:
    name = "flite"

    def __init__(self) -> None:
        self._exe = shutil.which("flite")
        if self._exe is None:
            raise EngineUnavailable("flite is not installed: expected the Debian package flite")
        self._tmp = tempfile.TemporaryDirectory(prefix="vasa-flite-")
        self._known: set[str] | None = None

    def _installed(self) -> set[str]:
        """The voices this flite has built in (`flite -lv`)."""
        if self._known is None:
            out = subprocess.run([self._exe, "-lv"], capture_output=True, text=True,
                                 timeout=TIMEOUT_S).stdout
            self._known = set(out.split(":", 1)[-1].split())
        return self._known

    def voices(self, language: str) -> list[Voice]:
        if language != "en":
            return []
        return [Voice(self.name, name, "en", speaker, gender)
                for name, (speaker, gender) in VOICES.items() if name in self._installed()]

    def synth(self, text: str, voice: Voice, prosody: Prosody = Prosody()) -> Utterance:
        if voice.name not in VOICES:
            raise EngineUnavailable(f"flite voice {voice.name!r} is unknown: expected one of "
                                    f"{sorted(VOICES)}")
        txt = os.path.join(self._tmp.name, "u.txt")
        wav = os.path.join(self._tmp.name, "u.wav")
        with open(txt, "w", encoding="utf-8") as f:
            f.write(" ".join(text.split()) + "\n")
        cmd = [self._exe, "-voice", voice.name, "-psdur",
               "--setf", f"duration_stretch={1.0 / prosody.rate:.3f}", "-f", txt, "-o", wav]
        try:
            run = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise EngineUnavailable(f"flite took over {TIMEOUT_S:.0f} s on {text[:40]!r}: "
                                    f"expected well under a second") from None
        segs = parse_phones(run.stdout)
        if run.returncode != 0 or not segs or not os.path.exists(wav):
            raise DataError(f"flite produced no speech for {text[:40]!r} (exit "
                            f"{run.returncode}); its output: {run.stderr.strip()[-200:]!r}")
        return utterance_from_wav(wav, segs, voice, prosody, text)

    def close(self) -> None:
        self._tmp.cleanup()

    def __enter__(self) -> "FliteEngine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
