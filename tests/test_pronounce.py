"""Words outside the CMU dictionary get espeak-ng's pronunciation (data/pronounce.py), so a
transcript with a name in it ("Geralt", "Skyrim") still aligns."""

import difflib
import os
import random
import re

import pytest

from vasa_bridge.data.pronounce import IPA_TO_ARPABET, ipa_to_arpabet, pronounce

pytest.importorskip("espeakng_loader")
pocketsphinx = pytest.importorskip("pocketsphinx")


def cmu_words() -> dict[str, list[str]]:
    path = os.path.join(pocketsphinx.get_model_path(), "en-us", "cmudict-en-us.dict")
    out = {}
    for line in open(path):
        word, *phones = line.split()
        if re.match(r"^[a-z]+$", word):  # no alternates "(2)", no punctuation
            out[word] = phones
    return out


def test_pronunciations_agree_with_the_cmu_dictionary_on_words_it_has():
    cmu = cmu_words()
    words = random.Random(7).sample(sorted(cmu), 300)
    exact = missed = total = 0
    for word in words:
        guess = pronounce(word)
        assert guess is not None, word
        phones = guess.split()
        assert set(phones) <= {p for v in IPA_TO_ARPABET.values() for p in v}
        exact += phones == cmu[word]
        ops = difflib.SequenceMatcher(a=cmu[word], b=phones).get_opcodes()
        missed += sum(max(i2 - i1, j2 - j1) for op, i1, i2, j1, j2 in ops if op != "equal")
        total += len(cmu[word])  # as bench/bench_pronounce.py counts
    # mostly names and rare words: letter-to-sound rules guess some vowels differently
    assert exact / len(words) >= 0.5 and missed / total <= 0.12, (exact, missed / total)


@pytest.mark.parametrize("word,phones", [("geralt", "JH EH R AO L T"),
                                         ("skyrim", "S K AY R IH M"),
                                         ("meeters", "M IY T ER Z"),
                                         ("curl", "K ER L"),  # the /l/ after a vowel is kept
                                         ("corroborate", "K ER AA B ER EY T")])  # ɚ ɹ -> ER
def test_names_get_their_phones(word, phones):
    assert pronounce(word) == phones


def test_what_cannot_be_pronounced_is_none():
    assert pronounce("a" * 45) is None  # longer than any word
    assert pronounce("Geralt") is None  # callers pass normalised (lower-case) words
    assert ipa_to_arpabet(["ɡ", "ˈɛ", "ʘ"]) is None  # a click: no ARPAbet phone
    assert ipa_to_arpabet(["sil", "dʒ", "ˈɛ", "ɹ", "əl"]) == ["JH", "EH", "R", "AH", "L"]
