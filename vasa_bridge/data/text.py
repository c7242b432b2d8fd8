"""Offline text for the speech corpus.

English: words of the CMU pronouncing dictionary shipped with pocketsphinx, arranged into
sentence-like strings (content words with function words between them, commas for pauses,
questions, exclamations, numbers), mixed with sentences written here. Other languages: the
sentences written here, recombined, with numbers read by espeak-ng in that language.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import numpy as np

from ..errors import DataError

KINDS = ("statement", "question", "exclamation")

SENTENCES: dict[str, tuple[str, ...]] = {
    "en": (
        "The quick brown fox jumps over the lazy dog.",
        "Could you please call me back before five o'clock?",
        "Wait... I think I left the keys on the kitchen table.",
        "That was absolutely amazing!",
        "We need 12 eggs, 3 lemons and about 250 grams of sugar.",
        "Are you sure this is the right way to the station?",
        "My phone number is 0 7 9 4, 5 5 1, 2 8 3.",
        "Honestly, I never expected the meeting to last that long.",
        "Stop right there!",
        "In 1969, two people walked on the moon for the first time.",
        "Why would anyone build a bridge in the middle of nowhere?",
        "Please, take a seat, and tell me what happened.",
        "The weather today is cloudy, with a chance of rain in the afternoon.",
        "Oh no, the train has already left!",
        "She bought a blue umbrella, a pair of boots, and a warm woolen scarf.",
        "How many people live in this city?",
        "Let me think about it for a moment.",
        "It costs 19 dollars and 99 cents.",
        "Hmm, maybe we should try again tomorrow morning.",
        "Welcome back, everyone, it's great to see you!",
        "Peter picked a peck of pickled peppers.",
        "Five wives vowed to leave the village every Friday.",
        "Which one do you prefer, the thin one or the thick one?",
        "Measure the pressure, then check the leisure schedule.",
        "Judge Charles chose cheese and jam for lunch.",
        "Your turn: do you really want to wait until June?",
        "Bob bought a big black bag, but Mum made him bring it back.",
        "The room was quiet; nobody said a word.",
        "Is it true that the museum opens at 9:30?",
        "Look out!",
        "Around 40 percent of the votes were counted by midnight.",
        "Well... that's not what I meant, to be honest.",
    ),
    "de": (
        "Guten Morgen, wie geht es Ihnen heute?",
        "Der Zug nach Berlin fährt um 14 Uhr ab.",
        "Das ist wirklich eine großartige Idee!",
        "Ich habe leider keine Zeit, vielleicht morgen.",
        "Wo ist der nächste Bahnhof?",
        "Wir brauchen 3 Äpfel, 2 Birnen und ein Brot.",
        "Moment mal... das stimmt doch nicht.",
        "Fischers Fritz fischt frische Fische.",
        "Kannst du mir bitte das Salz geben?",
        "Im Jahr 1989 fiel die Mauer.",
    ),
    "fr": (
        "Bonjour, comment allez-vous aujourd'hui ?",
        "Le train part à 8 heures précises.",
        "C'est vraiment magnifique !",
        "Je ne sais pas, peut-être demain.",
        "Où se trouve la bibliothèque municipale ?",
        "Il faut acheter 6 oeufs, du beurre et de la farine.",
        "Attendez... je crois que j'ai oublié mon parapluie.",
        "Les chaussettes de l'archiduchesse sont-elles sèches ?",
        "Nous avons marché pendant 3 heures dans la forêt.",
        "Quelle belle journée pour une promenade !",
    ),
    "es": (
        "Buenos días, ¿cómo estás?",
        "El autobús llega a las 7 y media.",
        "¡Qué sorpresa tan bonita!",
        "No lo sé, tal vez mañana.",
        "¿Dónde está la estación de tren?",
        "Necesitamos 4 tomates, una cebolla y un poco de aceite.",
        "Espera... creo que me he equivocado de calle.",
        "Tres tristes tigres tragaban trigo en un trigal.",
        "En 1492 Colón llegó a América.",
        "Me encanta pasear por la playa al atardecer.",
    ),
    "it": (
        "Buongiorno, come stai oggi?",
        "Il treno parte alle 9 e un quarto.",
        "Che bella sorpresa!",
        "Non lo so, forse domani.",
        "Dov'è la fermata dell'autobus?",
        "Abbiamo bisogno di 2 chili di farina e di 5 uova.",
        "Aspetta... mi sono dimenticato il portafoglio.",
        "Trentatré trentini entrarono a Trento tutti e trentatré trotterellando.",
        "La cena sarà pronta fra venti minuti.",
        "Che tempo fa a Roma questa settimana?",
        # added for the Italian festival voices (issue 15): more sounds, more bilabials
        "Mamma mia, hai mangiato tutta la torta di mele?",
        "Il babbo porta il bambino al parco ogni mattina.",
        "Paolo preferisce la pizza margherita con il basilico.",
        "Mi piacciono molto i film in bianco e nero.",
        "Per favore, potresti aprire la finestra?",
        "Le biciclette sono ferme davanti alla biblioteca.",
        "Bevo un bicchiere d'acqua fresca prima di partire.",
        "Ho comprato pane, burro e mozzarella al mercato.",
        "Il medico mi ha detto di camminare di più.",
        "Vieni anche tu alla festa di compleanno di Bruno?",
        "Sopra la panca la capra campa, sotto la panca la capra crepa.",
        "Il mare era calmo e il cielo limpido.",
        "Non ho mai visto una montagna così alta!",
        "Abbiamo perso l'ultimo autobus per Milano.",
        "Quanto costa questo maglione blu?",
        "Mio fratello lavora in una fabbrica di scarpe.",
        "Guarda, piove ancora... prendiamo l'ombrello.",
        "La professoressa spiega bene la matematica.",
        "Buona notte, a domani mattina.",
        "Perché non mi hai chiamato ieri sera?",
        "Un povero pescatore vendeva pesce fresco sulla spiaggia.",
        "Vorrei prenotare un tavolo per quattro persone.",
        "Il gatto dorme sul divano vicino al camino.",
        "Beviamo un caffè insieme dopo pranzo?",
        "Ogni estate andiamo in montagna con i nonni.",
        "Ho sbagliato strada e sono arrivato in ritardo.",
        "Le bambine ballano felici nel prato fiorito.",
        "Il treno per Firenze parte dal binario sette.",
        "Forse il museo apre alle dieci e mezza.",
        "Questa musica mi ricorda le vacanze al mare.",
        "Puoi passarmi il sale e il pepe, per piacere?",
        "Il vento muove piano le foglie degli alberi.",
        "Bisogna pagare il biglietto prima di salire.",
        "Mi sembra una buona idea, proviamo!",
        "Nel pomeriggio studio, poi vado in palestra.",
        "Il pittore dipinge un paesaggio pieno di luce.",
        "Dove hai messo le chiavi della macchina?",
        "Il pubblico applaudiva forte alla fine dello spettacolo.",
        "Bruno ha vinto una medaglia d'oro nel nuoto.",
        "Fa freddo, mettiti il cappotto e la sciarpa.",
    ),
    "pt": (
        "Bom dia, tudo bem com você?",
        "O avião parte às 10 horas da manhã.",
        "Que notícia maravilhosa!",
        "Não sei, talvez amanhã.",
        "Onde fica o mercado central?",
        "Precisamos de 3 laranjas, pão e um pouco de queijo.",
        "Espera... acho que perdi as chaves.",
        "O rato roeu a roupa do rei de Roma.",
        "Em 1500 os portugueses chegaram ao Brasil.",
        "Vamos ao cinema no sábado?",
    ),
    "nl": (
        "Goedemorgen, hoe gaat het met je?",
        "De trein vertrekt om 11 uur.",
        "Wat een prachtige dag!",
        "Ik weet het niet, misschien morgen.",
        "Waar is het dichtstbijzijnde station?",
        "We hebben 5 appels, melk en brood nodig.",
        "Wacht even... ik ben mijn tas vergeten.",
        "Achtentachtig prachtige grachtenpanden.",
        "Zullen we vanavond samen eten?",
        "Het regent al de hele week!",
    ),
}
LANGUAGES = tuple(SENTENCES)

_FUNCTION_WORDS = ("the", "a", "of", "and", "to", "in", "with", "for", "on", "my", "your",
                   "this", "that", "was", "is", "but", "or", "we", "they", "it", "not", "very",
                   "from", "at", "by", "his", "her", "our", "some", "every")
_OPENERS = ("so", "well", "now", "then", "actually", "honestly", "look", "listen", "okay", "and")
_QUESTION_STARTS = ("do you think", "did you see", "is there", "why is", "where was", "have you",
                    "can we", "what about", "how is", "would you")


@functools.lru_cache(maxsize=1)
def cmu_words() -> tuple[str, ...]:
    """Plain alphabetic words of 2-12 letters from the CMU dictionary (pocketsphinx's copy)."""
    try:
        from pocketsphinx import get_model_path
    except ImportError:
        raise DataError("pocketsphinx is not installed: expected it for the CMU dictionary "
                        "(pip install pocketsphinx)") from None
    path = Path(get_model_path()) / "en-us" / "cmudict-en-us.dict"
    words = []
    word_re = re.compile(r"^[a-z]{2,12}$")
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            w = line.split(" ", 1)[0]
            if word_re.match(w):
                words.append(w)
    return tuple(words)


def _number(rng: np.random.Generator) -> str:
    kind = rng.integers(0, 4)
    if kind == 0:
        return str(int(rng.integers(0, 100)))
    if kind == 1:
        return str(int(rng.integers(100, 10000)))
    if kind == 2:
        return f"{int(rng.integers(1, 100))}.{int(rng.integers(0, 10))}"
    return str(int(rng.integers(1900, 2030)))


def dictionary_sentence(rng: np.random.Generator, kind: str) -> str:
    """A sentence-like string of dictionary words: not grammar, but English rhythm and phones."""
    words = cmu_words()
    n = int(rng.integers(3, 11))
    parts: list[str] = []
    if kind == "question":
        parts.append(str(rng.choice(_QUESTION_STARTS)))
    elif rng.random() < 0.25:
        parts.append(str(rng.choice(_OPENERS)) + ",")
    for i in range(n):
        if i and rng.random() < 0.4:
            parts.append(str(rng.choice(_FUNCTION_WORDS)))
        parts.append(_number(rng) if rng.random() < 0.06 else str(words[rng.integers(len(words))]))
        if i < n - 1 and rng.random() < 0.12:
            parts[-1] += "," if rng.random() < 0.8 else "..."
    text = " ".join(parts)
    text = text[0].upper() + text[1:]
    return text + {"statement": ".", "question": "?", "exclamation": "!"}[kind]


def _kind_of(sentence: str) -> str:
    s = sentence.rstrip()
    return "question" if s.endswith("?") else "exclamation" if s.endswith("!") else "statement"


def make_text(rng: np.random.Generator, language: str) -> tuple[str, str]:
    """(text, kind of its last sentence) for one clip: 1-3 sentences."""
    if language not in SENTENCES:
        raise DataError(f"language {language!r} has no corpus text: expected one of "
                        f"{list(LANGUAGES)}")
    sentences: list[str] = []
    for _ in range(int(rng.integers(1, 4))):
        if language == "en" and rng.random() < 0.5:
            kind = str(rng.choice(KINDS, p=[0.6, 0.25, 0.15]))
            sentences.append(dictionary_sentence(rng, kind))
        else:
            pool = SENTENCES[language]
            s = pool[int(rng.integers(len(pool)))]
            if language != "en" and rng.random() < 0.2:
                s = s.rstrip(".!?") + ", " + _number(rng) + "."
            sentences.append(s)
    text = " ".join(sentences)
    return text, _kind_of(sentences[-1])
