"""Phoneme -> viseme tables (one per phoneme set) and viseme -> ARKit blendshape targets.

The viseme inventory is the 15-class set used by MPEG-4 style lip-sync tools (Oculus/Meta's
``sil PP FF TH DD kk CH SS nn RR aa E I O U``) plus ``HH``: a transparent class for /h/ and
unknown symbols, which takes the shape of its neighbours (its dominance is tiny).

Diphthongs and affricate-like labels map to a *sequence* of visemes that share the segment's
time (``"aɪ"`` -> aa then I). The tables are printed in docs/data.md by ``describe_tables``.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from ..motion.names import INDEX, NUM_BLENDSHAPES

import numpy as np

VISEMES = ("sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "I", "O", "U",
           "HH")
VISEME_INDEX = {v: i for i, v in enumerate(VISEMES)}

# --- ARPAbet (festival radio phones, CMU dictionary / pocketsphinx) ------------------------------
ARPABET: dict[str, tuple[str, ...]] = {
    "sil": ("sil",),
    # vowels
    "aa": ("aa",), "ae": ("aa",), "ah": ("aa",), "ax": ("E",), "ix": ("I",), "axr": ("E", "RR"),
    "ao": ("O",), "aw": ("aa", "U"), "ay": ("aa", "I"), "eh": ("E",), "er": ("RR",),
    "ey": ("E", "I"), "ih": ("I",), "iy": ("I",), "ow": ("O", "U"), "oy": ("O", "I"),
    "uh": ("U",), "uw": ("U",),
    # consonants
    "b": ("PP",), "p": ("PP",), "m": ("PP",), "em": ("PP",),
    "f": ("FF",), "v": ("FF",),
    "th": ("TH",), "dh": ("TH",),
    "t": ("DD",), "d": ("DD",), "dx": ("DD",),
    "n": ("nn",), "en": ("nn",), "nx": ("nn",), "l": ("nn",), "el": ("nn",),
    "k": ("kk",), "g": ("kk",), "ng": ("kk",),
    "ch": ("CH",), "jh": ("CH",), "sh": ("CH",), "zh": ("CH",),
    "s": ("SS",), "z": ("SS",),
    "r": ("RR",), "w": ("U",), "y": ("I",), "hh": ("HH",),
}

# --- IPA (espeak-ng phoneme events, any language) -----------------------------------------------
# Multi-character symbols first (matched greedily), then single characters.
IPA_MULTI: dict[str, str] = {"tʃ": "CH", "dʒ": "CH", "ts": "SS", "dz": "SS", "tɕ": "CH",
                             "dʑ": "CH", "ʈʂ": "CH"}
IPA: dict[str, str] = {
    # bilabial stops and nasal close the lips
    "p": "PP", "b": "PP", "m": "PP",
    # labiodentals; bilabial fricatives approximate them without full closure
    "f": "FF", "v": "FF", "ɱ": "FF", "ʋ": "FF", "ɸ": "FF", "β": "FF",
    "θ": "TH", "ð": "TH",
    "t": "DD", "d": "DD", "ɾ": "DD", "ʈ": "DD", "ɖ": "DD", "c": "DD", "ɟ": "DD",
    "n": "nn", "ɲ": "nn", "ɳ": "nn", "l": "nn", "ɫ": "nn", "ʎ": "nn", "ɬ": "nn", "ɭ": "nn",
    "k": "kk", "g": "kk", "ɡ": "kk", "ŋ": "kk", "x": "kk", "ɣ": "kk", "q": "kk", "ɢ": "kk",
    "χ": "kk", "ʁ": "kk", "ʔ": "kk", "ɴ": "kk",
    "h": "HH", "ɦ": "HH", "ħ": "HH", "ʕ": "HH",
    "ʃ": "CH", "ʒ": "CH", "ɕ": "CH", "ʑ": "CH", "ç": "CH", "ʝ": "CH", "ʂ": "CH", "ʐ": "CH",
    "s": "SS", "z": "SS",
    "r": "RR", "ɹ": "RR", "ɻ": "RR", "ʀ": "RR", "ɚ": "RR", "ɝ": "RR",
    "w": "U", "ʍ": "U", "ɥ": "U", "j": "I",
    # open vowels
    "a": "aa", "ɑ": "aa", "ɐ": "aa", "æ": "aa", "ä": "aa", "ʌ": "aa", "ᵻ": "I",
    # mid / central vowels
    "e": "E", "ɛ": "E", "ə": "E", "ɜ": "E", "ɘ": "E", "ɤ": "E", "ɞ": "O",
    # close front vowels spread the lips
    "i": "I", "ɪ": "I", "ɨ": "I", "ɯ": "I",
    # rounded vowels
    "o": "O", "ɔ": "O", "ɒ": "O", "ɶ": "O", "ø": "O", "œ": "O",
    "u": "U", "ʊ": "U", "ʉ": "U", "y": "U", "ʏ": "U",
}
_IPA_IGNORED = set("ˈˌːˑ‿|‖.-'ʰʲʷˠˤ̩̯̥̬̪̃̊̚ʼ") | {"\u0303", "\u0329", "\u032f", "\u0325", "\u02de"}


def ipa_to_visemes(label: str) -> tuple[str, ...]:
    """'ˈaɪ' -> ('aa', 'I'); unknown symbols map to the transparent 'HH'."""
    if label == "sil":
        return ("sil",)
    text = unicodedata.normalize("NFD", label)
    out: list[str] = []
    i = 0
    while i < len(text):
        two = text[i:i + 2]
        if two in IPA_MULTI:
            out.append(IPA_MULTI[two])
            i += 2
            continue
        ch = text[i]
        i += 1
        if ch in _IPA_IGNORED or unicodedata.category(ch) == "Mn":
            continue
        out.append(IPA.get(ch, "HH"))
    collapsed = [v for j, v in enumerate(out) if j == 0 or v != out[j - 1]]
    return tuple(collapsed) or ("HH",)


def arpabet_to_visemes(label: str) -> tuple[str, ...]:
    return ARPABET.get(label.lower().rstrip("012"), ("HH",))


def to_visemes(label: str, phoneset: str) -> tuple[str, ...]:
    return ipa_to_visemes(label) if phoneset == "ipa" else arpabet_to_visemes(label)


# --- Viseme -> blendshape targets -----------------------------------------------------------------
# Articulator groups blend independently (a /t/ between two /u/ keeps rounded lips: its lip
# dominance is low, its jaw dominance moderate).
JAW = ("jawOpen", "jawForward")
TONGUE = ("tongueOut",)
LIPS = tuple(n for n in INDEX if n.startswith("mouth")) + ("cheekPuff",)
GROUPS = {"jaw": JAW, "lips": LIPS, "tongue": TONGUE}


def _both(name: str, v: float) -> dict[str, float]:
    return {name + "Left": v, name + "Right": v}


@dataclass(frozen=True)
class VisemeShape:
    targets: dict  # ARKit name -> value in [0, 1]; missing names are 0
    dominance: tuple[float, float, float]  # jaw, lips, tongue: how strongly it imposes itself

    def vector(self) -> np.ndarray:
        v = np.zeros(NUM_BLENDSHAPES, np.float32)
        for k, x in self.targets.items():
            v[INDEX[k]] = x
        return v


SHAPES: dict[str, VisemeShape] = {
    "sil": VisemeShape({}, (0.5, 0.5, 0.5)),
    # Bilabials: lips sealed. mouthClose equals jawOpen: ARKit's mouthClose closes the lips of an
    # open jaw, so sealed lips are jawOpen == mouthClose.
    "PP": VisemeShape({"jawOpen": 0.06, "mouthClose": 0.06, **_both("mouthPress", 0.35),
                       "mouthRollLower": 0.12, "mouthRollUpper": 0.08}, (0.9, 1.0, 0.3)),
    # Labiodentals: lower lip tucked under the upper teeth.
    "FF": VisemeShape({"jawOpen": 0.1, "mouthRollLower": 0.5, **_both("mouthUpperUp", 0.25),
                       "mouthShrugUpper": 0.1}, (0.6, 0.9, 0.3)),
    # Dentals: the tongue tip shows between the teeth.
    "TH": VisemeShape({"jawOpen": 0.15, "tongueOut": 0.35, **_both("mouthUpperUp", 0.1)},
                      (0.6, 0.4, 1.0)),
    "DD": VisemeShape({"jawOpen": 0.14, **_both("mouthStretch", 0.1)}, (0.4, 0.2, 0.3)),
    "kk": VisemeShape({"jawOpen": 0.2, **_both("mouthStretch", 0.08)}, (0.4, 0.15, 0.3)),
    "CH": VisemeShape({"jawOpen": 0.12, "mouthFunnel": 0.45, "mouthPucker": 0.25,
                       **_both("mouthUpperUp", 0.15), **_both("mouthLowerDown", 0.15)},
                      (0.5, 0.7, 0.3)),
    "SS": VisemeShape({"jawOpen": 0.07, **_both("mouthStretch", 0.3), **_both("mouthSmile", 0.12),
                       **_both("mouthUpperUp", 0.1), **_both("mouthLowerDown", 0.1)},
                      (0.7, 0.5, 0.3)),
    "nn": VisemeShape({"jawOpen": 0.14, **_both("mouthStretch", 0.05)}, (0.4, 0.2, 0.3)),
    "RR": VisemeShape({"jawOpen": 0.15, "mouthFunnel": 0.25, "mouthPucker": 0.2},
                      (0.4, 0.5, 0.3)),
    # Open vowels open the jaw.
    "aa": VisemeShape({"jawOpen": 0.6, **_both("mouthLowerDown", 0.3),
                       **_both("mouthUpperUp", 0.1), **_both("mouthStretch", 0.1)},
                      (0.9, 0.6, 0.3)),
    "E": VisemeShape({"jawOpen": 0.35, **_both("mouthStretch", 0.25), **_both("mouthSmile", 0.1),
                      **_both("mouthLowerDown", 0.15)}, (0.7, 0.5, 0.3)),
    # Spread vowels.
    "I": VisemeShape({"jawOpen": 0.18, **_both("mouthStretch", 0.35), **_both("mouthSmile", 0.3),
                      **_both("mouthUpperUp", 0.1)}, (0.6, 0.6, 0.3)),
    # Rounded vowels.
    "O": VisemeShape({"jawOpen": 0.4, "mouthFunnel": 0.55, "mouthPucker": 0.3},
                     (0.8, 0.8, 0.3)),
    "U": VisemeShape({"jawOpen": 0.15, "mouthPucker": 0.7, "mouthFunnel": 0.35},
                     (0.6, 0.9, 0.3)),
    # Transparent: takes its neighbours' shape.
    "HH": VisemeShape({"jawOpen": 0.25}, (0.05, 0.05, 0.05)),
}
assert set(SHAPES) == set(VISEMES)

TARGETS = np.stack([SHAPES[v].vector() for v in VISEMES])  # (V, 52)
DOMINANCE = np.array([SHAPES[v].dominance for v in VISEMES], np.float32)  # (V, 3)


def describe_tables() -> str:
    """Markdown tables of both phoneme maps and the viseme targets (used for docs/data.md)."""
    lines = ["| viseme | ARPAbet | IPA |", "| --- | --- | --- |"]
    for v in VISEMES:
        arpa = sorted(k for k, vs in ARPABET.items() if vs == (v,))
        arpa += sorted(k + "*" for k, vs in ARPABET.items() if len(vs) > 1 and vs[0] == v)
        ipa = sorted([k for k, x in IPA.items() if x == v] + [k for k, x in IPA_MULTI.items()
                                                             if x == v])
        lines.append(f"| {v} | {' '.join(arpa)} | {' '.join(ipa)} |")
    lines += ["", "| viseme | dominance (jaw, lips, tongue) | targets |", "| --- | --- | --- |"]
    for v in VISEMES:
        s = SHAPES[v]
        tg = ", ".join(f"{k} {x:g}" for k, x in s.targets.items()) or "(rest)"
        lines.append(f"| {v} | {s.dominance} | {tg} |")
    return "\n".join(lines)
