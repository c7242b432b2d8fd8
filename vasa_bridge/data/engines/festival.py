"""festival: the `kal` and `ked` diphone voices (16 kHz, two US men recorded by CMU/OGI) and the
`slt` HTS voice (32 kHz), English; the Italian diphone voices `lp` (a woman) and `pc` (a man),
16 kHz, of the Italian FESTIVAL Modules (ISTC-CNR Padova and ITC-irst; Debian festvox-italp16k
festvox-itapc16k).

One long-lived `festival --pipe` process per engine object receives Scheme commands on stdin
(stdout line-buffered through `stdbuf`); each utterance is written to a temporary RIFF file and
its Segment relation (phone name + end time) is printed back.
Debian packages: festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts (and for
Italian festvox-italp16k festvox-itapc16k). English phones are ARPAbet (the radio phone set);
the Italian voices' SAMPA phones are stored as IPA (`ITALIAN_IPA`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ...errors import DataError, EngineUnavailable
from .base import Prosody, Utterance, Voice, utterance_from_wav

# voice function -> (speaker, gender, voice folder that must exist, language)
VOICES = {
    "voice_kal_diphone": ("festival:kal", "male", "english/kal_diphone", "en"),
    "voice_ked_diphone": ("festival:ked", "male", "english/ked_diphone", "en"),  # kdlpc16k
    "voice_cmu_us_slt_arctic_hts": ("festival:slt", "female", "us/cmu_us_slt_arctic_hts", "en"),
    "voice_lp_diphone": ("festival:lp", "female", "italian/lp_diphone", "it"),  # italp16k
    "voice_pc_diphone": ("festival:pc", "male", "italian/pc_diphone", "it"),  # itapc16k
}
VOICE_ROOT = Path("/usr/share/festival/voices")
# The Italian voices' phones (SAMPA, a trailing 1 for stress) -> IPA; '#' is their silence.
ITALIAN_IPA = {"E": "ɛ", "O": "ɔ", "J": "ɲ", "L": "ʎ", "S": "ʃ", "dZ": "dʒ", "tS": "tʃ",
               "nf": "ɱ", "ng": "ŋ", "#": "_"}
_DIPHONE_PITCH = {"voice_kal_diphone", "voice_ked_diphone"}  # int_lr_params sets their pitch


def italian_ipa(label: str) -> str:
    """An Italian voice's phone ('a1', 'dZ', 'nf', '#') -> IPA ('ˈa', 'dʒ', 'ɱ', '_')."""
    stressed = label.endswith("1")
    base = label[:-1] if stressed else label
    ipa = ITALIAN_IPA.get(base, base)
    return "ˈ" + ipa if stressed else ipa


def _scheme_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class FestivalEngine:
    name = "festival"

    def __init__(self) -> None:
        exe = shutil.which("festival")
        if exe is None:
            raise EngineUnavailable("festival is not installed: expected the Debian packages "
                                    "festival festvox-kallpc16k festvox-kdlpc16k "
                                    "festvox-us-slt-hts")
        prefix = ["stdbuf", "-oL"] if shutil.which("stdbuf") else []
        self._proc = subprocess.Popen(prefix + [exe, "--pipe"], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      # festival reads and writes bytes; its Italian lexicon
                                      # is Latin-1 ("perché"); English text is ASCII
                                      encoding="latin-1", errors="replace", bufsize=1)
        self._tmp = tempfile.TemporaryDirectory(prefix="vasa-festival-")
        self._count = 0
        self._current: str | None = None

    def voices(self, language: str) -> list[Voice]:
        return [Voice(self.name, fn, lang, speaker, gender)
                for fn, (speaker, gender, folder, lang) in VOICES.items()
                if lang == language and (VOICE_ROOT / folder).is_dir()]

    def _command(self, scheme: str) -> list[str]:
        self._count += 1
        marker = f"VASA-DONE-{self._count}"
        if self._proc.poll() is not None:
            raise EngineUnavailable(f"festival exited with code {self._proc.returncode}")
        self._proc.stdin.write(scheme + f'\n(format t "{marker}\\n")\n')
        self._proc.stdin.flush()
        lines: list[str] = []
        while True:
            line = self._proc.stdout.readline()
            if not line:
                raise EngineUnavailable("festival stopped answering; its last output: "
                                        + " | ".join(lines[-5:]))
            if line.strip() == marker:
                return lines
            lines.append(line.rstrip("\n"))

    def synth(self, text: str, voice: Voice, prosody: Prosody = Prosody()) -> Utterance:
        if voice.name not in VOICES:
            raise EngineUnavailable(f"festival voice {voice.name!r} is unknown: expected one of "
                                    f"{sorted(VOICES)}")
        if self._current != voice.name:
            self._command(f"({voice.name})")
            self._current = voice.name
        wav = os.path.join(self._tmp.name, "u.wav")
        clean = " ".join(text.split())
        # Duration_Stretch > 1 is slower speech. int_lr_params (the English diphone voices'
        # intonation, both 105 Hz mean; kal's range 14 Hz, ked's 15) sets the mean pitch and
        # range; the HTS voice ignores them, the Italian voices have their own intonation.
        pitch = ""
        if voice.name in _DIPHONE_PITCH:
            pitch = (f"(set! int_lr_params '((target_f0_mean {105 * prosody.pitch:.1f}) "
                     f"(target_f0_std {14 * prosody.range:.1f}) (model_f0_mean 170) "
                     f"(model_f0_std 34)))")
        out = self._command(
            f"(Parameter.set 'Duration_Stretch {1.0 / prosody.rate:.3f})\n{pitch}\n"
            f"(set! vasa_u (utt.synth (Utterance Text {_scheme_string(clean)})))\n"
            f"(utt.save.wave vasa_u {_scheme_string(wav)} 'riff)\n"
            "(mapcar (lambda (s) (format t \"SEG %s %f\\n\" (item.name s) (item.feat s 'end))) "
            "(utt.relation.items vasa_u 'Segment))")
        segs, t0 = [], 0.0
        for line in out:
            parts = line.split()
            if len(parts) == 3 and parts[0] == "SEG":
                end = float(parts[2])
                segs.append((parts[1], t0, end))
                t0 = end
        if not segs or not os.path.exists(wav):
            raise DataError(f"festival produced no speech for {text[:40]!r}; its output: "
                            + " | ".join(out[-5:]))
        if VOICES[voice.name][3] == "it":
            return utterance_from_wav(wav, [(italian_ipa(lab), a, b) for lab, a, b in segs],
                                      voice, prosody, text, "ipa")
        return utterance_from_wav(wav, segs, voice, prosody, text)

    def close(self) -> None:
        if self._proc.poll() is None:
            try:
                self._proc.stdin.close()
                self._proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self._proc.kill()
                self._proc.wait()
        self._tmp.cleanup()

    def __enter__(self) -> "FestivalEngine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
