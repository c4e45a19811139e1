"""Podman-style random container names: ``adjective_surname`` (``sleepy_hopper``)."""

from __future__ import annotations

import re
from collections.abc import Callable

TYPE_CHECKING = False  # no typing import at run time (start-up: docs/performance.md)
if TYPE_CHECKING:  # `random` is imported when a name is generated, not by every `ps`
    import random

ADJECTIVES = (
    "admiring", "adoring", "affectionate", "agitated", "amazing", "angry", "awesome", "beautiful",
    "blissful", "bold", "boring", "brave", "busy", "charming", "clever", "compassionate", "competent",
    "condescending", "confident", "cool", "cranky", "crazy", "dazzling", "determined", "distracted",
    "dreamy", "eager", "ecstatic", "elastic", "elated", "elegant", "eloquent", "epic", "exciting",
    "fervent", "festive", "flamboyant", "focused", "friendly", "frosty", "funny", "gallant", "gifted",
    "goofy", "gracious", "great", "happy", "hardcore", "heuristic", "hopeful", "hungry", "infallible",
    "inspiring", "intelligent", "interesting", "jolly", "jovial", "keen", "kind", "laughing", "loving",
    "lucid", "magical", "modest", "musing", "naughty", "nervous", "nice", "nifty", "nostalgic",
    "objective", "optimistic", "peaceful", "pedantic", "pensive", "practical", "priceless", "quirky",
    "quizzical", "recursing", "relaxed", "reverent", "romantic", "sad", "serene", "sharp", "silly",
    "sleepy", "stoic", "strange", "stupefied", "suspicious", "sweet", "tender", "thirsty", "trusting",
    "unruffled", "upbeat", "vibrant", "vigilant", "vigorous", "wizardly", "wonderful", "xenodochial",
    "youthful", "zealous", "zen",
)
SURNAMES = (
    "agnesi", "albattani", "allen", "almeida", "archimedes", "ardinghelli", "aryabhata", "austin",
    "babbage", "banach", "bardeen", "bartik", "bassi", "bell", "bhabha", "blackwell", "bohr", "booth",
    "borg", "bose", "boyd", "brahmagupta", "brattain", "brown", "carson", "chandrasekhar", "chatelet",
    "clarke", "colden", "cori", "cray", "curie", "darwin", "davinci", "dijkstra", "dubinsky", "easley",
    "einstein", "elion", "engelbart", "euclid", "euler", "fermat", "fermi", "feynman", "franklin",
    "galileo", "gates", "goldberg", "goldstine", "goodall", "hamilton", "hawking", "heisenberg",
    "hermann", "hodgkin", "hoover", "hopper", "hypatia", "jackson", "jang", "jennings", "johnson",
    "kalam", "keller", "kepler", "khorana", "kilby", "knuth", "kowalevski", "lalande", "lamarr",
    "lamport", "leakey", "leavitt", "lovelace", "lumiere", "mahavira", "mayer", "mccarthy", "mcclintock",
    "meitner", "mendel", "mirzakhani", "montalcini", "moore", "morse", "napier", "nash", "newton",
    "nobel", "noether", "noyce", "pare", "pascal", "pasteur", "payne", "perlman", "pike", "poincare",
    "ptolemy", "raman", "ramanujan", "ritchie", "rosalind", "saha", "sammet", "shannon", "shockley",
    "sinoussi", "snyder", "spence", "stonebraker", "swartz", "tesla", "thompson", "torvalds", "turing",
    "vaughan", "villani", "visvesvaraya", "volhard", "wescoff", "wiles", "williams", "wilson", "wing",
    "wozniak", "wright", "yalow", "yonath",
)
NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")


def generate_name(taken: Callable[[str], bool] = lambda _n: False, rng: random.Random | None = None) -> str:
    """A free ``adjective_surname``; after many collisions a numeric suffix is added."""
    if rng is None:
        import random

        rng = random.SystemRandom()
    r = rng
    for attempt in range(64):
        name = f"{r.choice(ADJECTIVES)}_{r.choice(SURNAMES)}"
        if attempt >= 8:
            name += str(r.randint(0, 99))
        if not taken(name):
            return name
    raise RuntimeError("could not generate a free container name")


def valid_name(name: str) -> bool:
    """Podman's rule: ``[a-zA-Z0-9][a-zA-Z0-9_.-]*``."""
    return bool(NAME_RE.match(name))
