"""A deterministic local embedding model: hashed character n-grams and words, L2-normalised.

Served through LiteLLM as ``local/hashed-<dimension>`` (dev, tests, benchmarks). It carries real
lexical signal: texts that share words or word pieces ("garagem", "garagens") land close, so
retrieval tests and the golden-set benchmark measure something.
"""

from __future__ import annotations

import math
import re
import unicodedata
import zlib
from collections import Counter

_WORD = re.compile(r"[a-z0-9]+")
# Function words carry no topic; without them two unrelated questions would look alike.
_STOPWORDS = """
a o as os um uma uns umas de do da dos das e em no na nos nas ao aos à às por para pra com sem se que
qual quais quando onde como quanto quanta quantos quantas é são ser foi tem têm ter há ha eu voce você
vocês nos nós me meu minha seu sua seus suas ele ela eles elas isso isto esse essa este esta mais muito
ou mas também tambem já ja não nao sim pelo pela pelos pelas vai vou posso pode podem preciso existe
the of and to in is are for on with what how do does can i you
"""
STOPWORDS = frozenset(_STOPWORDS.split())


def fold(text: str) -> str:
    """``text`` lower-cased, accents folded."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def features(text: str) -> Counter[str]:
    """Content words (weight 2) and their character 3- and 4-grams, accents folded."""
    found: Counter[str] = Counter()
    for word in _WORD.findall(fold(text)):
        if word in STOPWORDS or len(word) < 2:
            continue
        found[f"w:{word}"] += 2
        padded = f" {word} "
        for size in (3, 4):
            for i in range(len(padded) - size + 1):
                found[padded[i : i + size]] += 1
    return found


def embed(text: str, dimension: int) -> list[float]:
    """The unit vector of ``text``: signed feature hashing, sublinear counts."""
    vector = [0.0] * dimension
    for feature, count in features(text).items():
        digest = zlib.crc32(feature.encode())
        vector[digest % dimension] += (1.0 + math.log(count)) * (1.0 if digest & 0x80000000 else -1.0)
    norm = math.sqrt(sum(v * v for v in vector))
    if norm == 0.0:
        vector[0] = 1.0  # a text with no content words still gets a valid, uninformative unit vector
        return vector
    return [v / norm for v in vector]


def dimension_of(model: str) -> int:
    """``hashed-384`` -> 384."""
    _, _, size = model.rpartition("-")
    if not size.isdigit() or not 8 <= int(size) <= 4096:
        raise ValueError(f"local embedding model {model!r} must be named hashed-<dimension>")
    return int(size)
