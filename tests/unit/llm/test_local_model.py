"""The deterministic local model: what it extracts, which tools it calls, what it says."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from local_runtime.model import extract
from local_runtime.model.local_model import read_request, register, respond
from shared.agents.config import QualificationField
from shared.llm.sdk import litellm
from shared.llm.tools import build_tools
from shared.turns import prompt
from shared.turns.context import TurnContext
from tests.support.aio import run

FIELDS: list[dict[str, Any]] = [
    {"name": "name", "type": "text", "required": True, "description": "Nome do lead"},
    {"name": "email", "type": "email", "required": True, "description": "E-mail"},
    {"name": "phone", "type": "phone", "required": False, "description": "Telefone"},
    {"name": "budget", "type": "money", "required": True, "description": "Orçamento"},
    {"name": "timeline", "type": "text", "required": True, "description": "Prazo"},
]

TYPED = [QualificationField.model_validate(f) for f in FIELDS]


def _messages(*turns: tuple[str, str], known: dict[str, Any] | None = None, **config: Any) -> list[dict[str, Any]]:
    """The messages ``shared.turns.prompt`` builds for a conversation of (role, text) turns."""
    ctx = TurnContext(
        status="ok",
        organization_id=uuid.uuid4(),
        conversation={"id": str(uuid.uuid4())},
        config={
            "persona": "Sofia",
            "goal": "book_meeting",
            "language": "pt-BR",
            "qualification_fields": FIELDS,
            **config,
        },
        lead={"qualification": known or {}},
        history=[{"id": str(uuid.UUID(int=i)), "role": role, "content": text} for i, (role, text) in enumerate(turns)],
        pending=[],
        alias="fast",
        reservation_id=None,
    )
    return prompt.messages(ctx)


def _respond(*turns: tuple[str, str], known: dict[str, Any] | None = None, **config: Any) -> tuple[str, dict[str, Any]]:
    content, calls = respond(read_request(_messages(*turns, known=known, **config), build_tools(TYPED)))
    return content, dict(calls)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("meu nome é Ana Souza", "Ana Souza"),
        ("Oi! me chamo joão e quero um apê", "João"),
        ("sou a Carla, tudo bem?", "Carla"),
        ("my name is john smith", "John Smith"),
        ("Hi, I'm Mary and I need a house", "Mary"),
        ("I'm interested in the flat", None),
    ],
)
def test_names_are_read_from_introductions(text: str, expected: str | None) -> None:
    # given a lead's message / when a name is extracted / then only an introduction counts
    assert extract.name(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("R$ 500 mil", 500_000),
        ("tenho uns 500k", 500_000),
        ("$2,000", 2_000),
        ("meu orçamento de 300000", 300_000),
        ("1,5 milhão de reais", 1_500_000),
        ("R$ 1.234,56", 1234.56),
        ("budget is around 40000", 40_000),
        ("em 3 meses", None),
        ("meu e-mail é joao2000@example.com", None),
    ],
)
def test_money_is_read_in_brazilian_and_english_notation(text: str, expected: float | None) -> None:
    # given an amount written as leads write them / then it is read as a plain number
    assert extract.money(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("quero comprar em 3 meses", "em 3 meses"),
        ("até dezembro", "até dezembro"),
        ("no próximo mês", "próximo mês"),
        ("next month would be great", "next month"),
        ("within 2 weeks", "within 2 weeks"),
        ("o quanto antes!", "o quanto antes"),
        ("R$ 500 mil", None),
    ],
)
def test_timelines_are_read_as_the_lead_wrote_them(text: str, expected: str | None) -> None:
    # given a timeline phrase / then it is returned lower-cased, as written
    assert extract.timeline(text) == expected


def test_contacts_are_normalised() -> None:
    # given an e-mail and a Brazilian mobile written loosely / then e-mail is lower-cased and the phone E.164
    assert extract.email("é ANA.Souza@Example.com.br, obrigada") == "ana.souza@example.com.br"
    assert extract.phone("meu whats é (11) 98765-4321") == "+5511987654321"
    assert extract.phone("call me at +1 650 253 0000") == "+16502530000"
    assert extract.phone("R$ 500 mil") is None


def test_a_first_message_is_captured_and_the_next_required_field_asked_in_portuguese() -> None:
    # given a pt-BR agent / when the lead introduces themself with name, e-mail and phone
    content, calls = _respond(("lead", "Oi, meu nome é Ana, ana@example.com, (11) 98765-4321"))
    # then one update_lead carries every value, and the reply asks for the budget
    assert calls == {"update_lead": {"name": "Ana", "email": "ana@example.com", "phone": "+5511987654321"}}
    assert content == "Prazer, Ana! Qual é o orçamento que você tem em mente?"


def test_an_english_agent_asks_in_english() -> None:
    # given an English agent / when the lead greets
    content, calls = _respond(("lead", "Hello there"), language="en-US")
    # then nothing is captured and the first required field is asked in English
    assert calls == {}
    assert content == "Hi! What's your name?"


def test_a_bare_answer_fills_the_field_just_asked() -> None:
    # given the model asked for the budget / when the lead answers with a bare number
    asked = "Prazer, Ana! Qual é o orçamento que você tem em mente?"
    turns = (("lead", "Oi, me chamo Ana"), ("assistant", asked), ("lead", "uns 300.000"))
    _, calls = _respond(*turns, known={"name": "Ana"})
    # then it is captured as the budget
    assert calls == {"update_lead": {"budget": 300_000}}


def test_a_conversion_is_not_proposed_while_a_required_field_is_missing() -> None:
    # given a lead without a budget / when they give a timeline
    content, calls = _respond(("lead", "em 3 meses"), known={"name": "Ana", "email": "ana@example.com"})
    # then the timeline is captured and the budget asked, with no conversion
    assert calls == {"update_lead": {"timeline": "em 3 meses"}}
    assert "record_conversion" not in calls
    assert content.endswith("Qual é o orçamento que você tem em mente?")


@pytest.mark.parametrize(("goal", "conversion_type"), [("book_meeting", "meeting"), ("qualify", "qualified_lead")])
def test_a_conversion_is_proposed_once_every_required_field_is_known(goal: str, conversion_type: str) -> None:
    # given a lead missing only the timeline / when they give it
    known = {"name": "Ana", "email": "ana@example.com", "budget": 500_000}
    content, calls = _respond(("lead", "quero fechar até dezembro"), known=known, goal=goal)
    # then the conversion is recorded with the goal's type and the budget as value
    assert calls["record_conversion"] == {"type": conversion_type, "value": 500_000, "currency": "BRL"}
    assert content.startswith("Anotado! Já tenho tudo o que preciso.")


@pytest.mark.parametrize("text", ["quero falar com um atendente", "posso falar com uma pessoa?", "talk to a human"])
def test_asking_for_a_person_requests_a_handoff(text: str) -> None:
    # given a lead asking for a person / then the model hands off and asks nothing
    content, calls = _respond(("lead", text))
    assert calls == {"request_handoff": {"reason": "lead_asked_for_a_human"}}
    assert content == "Claro! Vou te passar para uma pessoa da nossa equipe."


@pytest.mark.parametrize(
    ("text", "reason"), [("não tenho interesse, obrigado", "not_interested"), ("valeu, tchau!", "goodbye")]
)
def test_a_farewell_ends_the_conversation(text: str, reason: str) -> None:
    # given a lead who leaves / then the model ends the conversation with the reason
    _, calls = _respond(("lead", text))
    assert calls == {"end_conversation": {"reason": reason}}


def test_only_offered_tools_are_called() -> None:
    # given a request without tools / when the lead gives data
    content, calls = respond(read_request(_messages(("lead", "meu nome é Ana")), tools=None))
    # then the model only talks
    assert calls == []
    assert content.startswith("Prazer, Ana!")


def test_the_same_request_gets_the_same_answer_through_litellm() -> None:
    # given the local provider registered and one request
    register()
    messages, tools = _messages(("lead", "Oi, me chamo Ana, ana@example.com")), build_tools(TYPED)

    async def ask() -> Any:
        return await litellm.acompletion(model="local/sdr", messages=messages, tools=tools)

    # when it is sent twice (and once through the sync API)
    first, second = run(ask()), run(ask())
    sync = litellm.completion(model="local/sdr", messages=messages, tools=tools)
    # then the three answers are identical OpenAI-format tool calls, with usage
    answers = [_decoded(r) for r in (first, second, sync)]
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][1] == [("update_lead", {"name": "Ana", "email": "ana@example.com"})]
    assert answers[0][2][0] > 0


def _decoded(response: Any) -> tuple[str, list[tuple[str, Any]], tuple[int, int]]:
    message = response.choices[0].message
    calls = [(c.function.name, json.loads(c.function.arguments)) for c in message.tool_calls]
    return message.content, calls, (response.usage.prompt_tokens, response.usage.completion_tokens)
