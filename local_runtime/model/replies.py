"""What the local model says: questions per field, acknowledgements and next steps (pt and en)."""

from __future__ import annotations

from typing import Any, Protocol

CURRENCY = {"pt": "BRL", "en": "USD"}
HELP = {"pt": "Como posso te ajudar?", "en": "How can I help you?"}
HANDOFF = {
    "pt": "Claro! Vou te passar para uma pessoa da nossa equipe.",
    "en": "Sure! I'm handing you over to a person on our team.",
}
FAREWELL = {
    "pt": {
        "not_interested": "Tudo bem, obrigado pelo seu tempo! Se mudar de ideia, é só chamar.",
        "goodbye": "Obrigado pela conversa! Até mais.",
    },
    "en": {
        "not_interested": "No problem, thanks for your time! If you change your mind, just message us.",
        "goodbye": "Thanks for the chat! Talk soon.",
    },
}
_QUESTIONS = {
    "pt": {
        "name": "Como posso te chamar?",
        "email": "Qual é o seu e-mail?",
        "phone": "Qual é o seu telefone com DDD?",
        "money": "Qual é o orçamento que você tem em mente?",
        "timeline": "Para quando você está planejando?",
        "other": "Pode me informar: {description}?",
    },
    "en": {
        "name": "What's your name?",
        "email": "What's your email address?",
        "phone": "What's the best phone number to reach you?",
        "money": "What budget do you have in mind?",
        "timeline": "What's your timeline?",
        "other": "Could you tell me: {description}?",
    },
}
_DONE = {"pt": "Já tenho tudo o que preciso. ", "en": "I have everything I need. "}
_NEXT = {
    "pt": {
        "book_meeting": "Qual o melhor dia e horário para uma conversa com um especialista?",
        "purchase": "Posso te enviar o link para concluir a compra?",
        "qualify": "Um especialista vai falar com você em breve.",
    },
    "en": {
        "book_meeting": "What day and time work best for a call with a specialist?",
        "purchase": "Shall I send you the link to complete your purchase?",
        "qualify": "A specialist will be in touch shortly.",
    },
}


class FieldLike(Protocol):
    """A qualification field: enough to phrase a question about it."""

    @property
    def name(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def description(self) -> str: ...


def question(field: FieldLike, lang: str) -> str:
    """The question that asks the lead for ``field``."""
    table = _QUESTIONS[lang]
    key = "timeline" if field.name == "prazo" else field.name
    template = table.get(key) or table.get(field.type) or table["other"]
    return template.format(description=(field.description or field.name).rstrip(" ?.").lower())


def acknowledge(lang: str, found: dict[str, Any], *, first: bool) -> str:
    """A short opener: greet a new name, thank for new data, or say hello on the first turn."""
    if found.get("name"):
        return f"Prazer, {found['name']}! " if lang == "pt" else f"Nice to meet you, {found['name']}! "
    if found:
        return "Anotado! " if lang == "pt" else "Got it! "
    if first:
        return "Olá! " if lang == "pt" else "Hi! "
    return ""


def next_step(lang: str, goal: str) -> str:
    """What to do once every required field is known, by the agent's goal."""
    return _DONE[lang] + _NEXT[lang].get(goal, _NEXT[lang]["qualify"])
