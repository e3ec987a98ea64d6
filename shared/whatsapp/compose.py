"""Request bodies for the Graph API: text (split to fit) and the agent's approved template. Pure."""

from __future__ import annotations

import re
from typing import Any

MAX_TEXT = 4096  # characters in one text body
_NAME = re.compile(r"^[a-z0-9_]{1,512}$")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(_[A-Za-z0-9]{2,4})?$")
# Finest last: a paragraph break, then a sentence end, then any space. Cutting earlier than half
# the limit would leave a tiny chunk, so a finer boundary further on is preferred.
_BOUNDARIES = (re.compile(r"\n[ \t]*\n"), re.compile(r"(?<=[.!?…])\s+"), re.compile(r"\s+"))
# What a template variable may name; anything else is sent as written.
SOURCES = ("lead_name", "lead_first_name", "reply")


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """``text`` in chunks of at most ``limit`` characters, cut between paragraphs, sentences or words."""
    chunks: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        cut = _cut(rest, limit)
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        chunks.append(rest)
    return chunks


def _cut(text: str, limit: int) -> int:
    window = text[: limit + 1]  # one past the limit: a space there still ends a full-size chunk
    for boundary in _BOUNDARIES:
        cuts = [m.start() for m in boundary.finditer(window) if limit // 2 <= m.start() <= limit]
        if cuts:
            return max(cuts)
    return limit  # one "word" longer than the limit (a long URL): nothing better exists


def recipient(phone: str) -> str:
    """The ``to`` of a request: the lead's E.164 number without the ``+``, as Meta's wa_id."""
    return phone.removeprefix("+")


def text_body(phone: str, text: str) -> dict[str, Any]:
    """A free-form text message (only inside the 24-hour window)."""
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": recipient(phone),
        "type": "text",
        "text": {"preview_url": False, "body": text},
    }


def template_body(phone: str, template: Any, values: dict[str, str]) -> dict[str, Any] | None:
    """The agent's approved template (``whatsapp.template``), or None when it is missing or invalid.

    ``template`` is ``{name, language, variables: [...]}``; a variable is a name in ``SOURCES``,
    ``{"source": name, "default": text}``, or literal text. Parameters are made single-line.
    """
    if not isinstance(template, dict) or not _NAME.match(str(template.get("name") or "")):
        return None
    language = template.get("language")
    code = language.get("code") if isinstance(language, dict) else language
    if not isinstance(code, str) or not _LANGUAGE.match(code):
        return None
    variables = template.get("variables") if isinstance(template.get("variables"), list) else []
    body: dict[str, Any] = {"name": template["name"], "language": {"code": code}}
    if variables:
        parameters = [{"type": "text", "text": _parameter(_value(v, values))} for v in variables]
        body["components"] = [{"type": "body", "parameters": parameters}]
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": recipient(phone),
        "type": "template",
        "template": body,
    }


def template_values(lead_name: str | None, reply: str) -> dict[str, str]:
    """What template variables can name."""
    name = (lead_name or "").strip()
    return {"lead_name": name, "lead_first_name": name.split(" ")[0] if name else "", "reply": reply}


def _parameter(value: str) -> str:
    # New lines, tabs and runs of spaces are refused in template parameters; an empty one too.
    return " ".join(value.split()) or "-"


def _value(variable: Any, values: dict[str, str]) -> str:
    if isinstance(variable, dict):
        return values.get(str(variable.get("source")), "") or str(variable.get("default") or "")
    return values.get(str(variable), str(variable))
