"""Deterministic extraction of lead data and intents from chat text (pt-BR and English).

Pure functions used by the local model; they read what a lead wrote, never guess.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

import phonenumbers

from shared.leads.fields import normalise_email, normalise_phone

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_WORD = r"[^\W\d_]+"
# Explicit introductions accept any casing ("meu nome é ana"); ambiguous ones ("sou o", "I'm")
# need a capitalised name, or "I'm interested" would be read as a name.
_NAME_EXPLICIT = re.compile(rf"(?i:meu nome é|me chamo|my name is)\s+({_WORD}(?:[ \t]+{_WORD}){{0,3}})")
_NAME_AMBIGUOUS = re.compile(
    rf"(?i:\bsou (?:o|a)|\baqui é (?:o|a)|\bI'm|\bI am|\bthis is)\s+([A-ZÀ-Ý]{_WORD}(?:[ \t]+[A-ZÀ-Ý]{_WORD}){{0,3}})"
)
_NAME_STOP = {"e", "and", "meu", "minha", "my", "mas", "but", "quero", "tenho", "estou", "from", "com", "i", "aqui"}

_NUMBER = r"\d+(?:[.,]\d+)*"
_SCALE = r"\s*(mil|k|milh(?:ão|ao|ões|oes)|mi|million|thousand)\b"
_MONEY = re.compile(
    rf"(?i)(?:R\$|US\$|\$|€)\s*(?P<a>{_NUMBER})"
    rf"|(?P<b>{_NUMBER})(?={_SCALE}|\s*(?:reais|d[óo]lares|dollars)\b)"
    rf"|(?:or[çc]amento|budget|verba)\D{{0,20}}?(?P<c>{_NUMBER})"
)
_SCALES = {"mil": 1_000, "k": 1_000, "thousand": 1_000, "mi": 1_000_000, "million": 1_000_000}

_COUNT = r"(?:\d+|um|uma|dois|duas|tr[êe]s|quatro|seis|a|an|one|two|three|four|six)"
_MONTHS = (
    r"(?:janeiro|fevereiro|mar[çc]o|abril|maio|junho|julho|agosto|setembro|outubro|novembro|dezembro|"
    r"january|february|march|april|may|june|july|august|september|october|november|december)"
)
_TIMELINE = re.compile(
    rf"(?i)\b(?:(?:em|dentro de|daqui a|nos pr[óo]ximos|nas pr[óo]ximas|in|within|in the next)\s+{_COUNT}\s+"
    rf"(?:dias?|semanas?|m[êe]s|meses|anos?|days?|weeks?|months?|years?)"
    rf"|(?:pr[óo]xim[oa]|next|this|este|esta|neste|nesta)\s+(?:m[êe]s|semana|ano|month|week|year)"
    rf"|(?:m[êe]s|semana|ano) que vem"
    rf"|(?:até|em|by|in|before)\s+(?:o (?:fim|final) d[oae] |the end of )?(?:{_MONTHS}|ano|m[êe]s|year|month)"
    rf"|o quanto antes|imediatamente|urgente|asap|right away|immediately)\b"
)
_HANDOFF = re.compile(
    r"(?i)\b(?:falar|conversar|atendimento)\s+(?:com\s+)?(?:(?:um|uma|o|a)\s+)?"
    r"(?:humano|atendente|pessoa|corretor|corretora|vendedor|consultor|gente de verdade)"
    r"|\batendimento humano|\b(?:talk|speak|chat)\s+(?:to|with)\s+(?:(?:a|an|the)\s+)?"
    r"(?:human|agent|person|representative|someone|real person)"
)
_NOT_INTERESTED = re.compile(
    r"(?i)\bn[ãa]o tenho(?: mais)? interesse|\bsem interesse|\bn[ãa]o quero mais|\bn[ãa]o estou interessad"
    r"|\bnot interested|\bno longer interested|\bstop messaging"
)
_GOODBYE = re.compile(r"(?i)\b(?:tchau|adeus|até mais|até logo|goodbye|bye)\b")


def email(text: str) -> str | None:
    """The first valid e-mail address in ``text``, lower-cased."""
    return next((v for m in _EMAIL.finditer(text) if (v := normalise_email(m.group()))), None)


def phone(text: str, region: str = "BR") -> str | None:
    """The first valid phone number in ``text``, as E.164 (national numbers read in ``region``)."""
    for match in phonenumbers.PhoneNumberMatcher(_EMAIL.sub(" ", text), region):
        value = normalise_phone(match.raw_string, region)
        if value:
            return value
    return None


def name(text: str) -> str | None:
    """A name the lead introduced themself with ("meu nome é Ana", "I'm John Smith")."""
    for pattern in (_NAME_EXPLICIT, _NAME_AMBIGUOUS):
        match = pattern.search(text)
        if match:
            words: list[str] = []
            for word in match.group(1).split():
                if word.lower() in _NAME_STOP:
                    break
                words.append(word)
            if words:
                return " ".join(w.capitalize() if w.islower() else w for w in words)
    return None


def money(text: str, bare: bool = False) -> int | float | None:
    """An amount of money ("R$ 500 mil", "500k", "$2,000", "orçamento de 300000"); ``bare`` accepts any number."""
    text = _EMAIL.sub(" ", text)  # digits inside an address are not an amount
    match = _MONEY.search(text)
    if match is None and bare:
        match = re.search(f"(?P<a>{_NUMBER})", text)
    if match is None:
        return None
    group = next(g for g in ("a", "b", "c") if match.groupdict().get(g))
    amount = _number(match.group(group))
    scale = re.match(_SCALE, text[match.end(group) :], re.IGNORECASE)
    if amount is None:
        return None
    word = scale.group(1).lower() if scale else ""
    return _plain(amount * _SCALES.get("mi" if word.startswith("milh") else word, 1))


def timeline(text: str) -> str | None:
    """A purchase timeline as the lead wrote it ("em 3 meses", "next month"), lower-cased."""
    match = _TIMELINE.search(text)
    return match.group().lower() if match else None


def wants_human(text: str) -> bool:
    """True when the lead asks for a person."""
    return _HANDOFF.search(text) is not None


def farewell(text: str) -> str | None:
    """``not_interested`` or ``goodbye`` when the lead ends the conversation, else None."""
    if _NOT_INTERESTED.search(text):
        return "not_interested"
    return "goodbye" if _GOODBYE.search(text) else None


def _number(raw: str) -> Decimal | None:
    """Read "300.000", "2,000", "1,5", "1.234,56": a last group of three digits means thousands."""
    cut = max(raw.rfind("."), raw.rfind(","))
    digits, fraction = (raw, "") if cut < 0 else (raw[:cut], raw[cut + 1 :])
    if len(fraction) == 3:
        digits, fraction = digits + fraction, ""
    try:
        return Decimal(re.sub(r"[.,]", "", digits) + (f".{fraction}" if fraction else ""))
    except InvalidOperation:
        return None


def _plain(amount: Decimal) -> int | float:
    return int(amount) if amount == amount.to_integral_value() else float(amount)


def yes_no(text: str) -> bool | None:
    """True for "sim"/"yes", False for "não"/"no", None when the answer is neither."""
    first = re.sub(r"[^\w\s]", " ", text.strip().lower()).split()[:1]
    if first and first[0] in ("sim", "yes", "claro", "yeah", "yep", "s"):
        return True
    if first and first[0] in ("não", "nao", "no", "nope", "n"):
        return False
    return None
