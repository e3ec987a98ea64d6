"""Tool schemas: typed from the agent's fields, named as ``shared.turns.effects`` reads them."""

from __future__ import annotations

import uuid
from typing import Any

from shared.agents.config import QualificationField
from shared.leads.stages import STAGES
from shared.llm.tools import build_tools
from shared.turns.context import TurnContext
from shared.turns.effects import Call, plan

FIELDS: list[dict[str, Any]] = [
    {"name": "name", "type": "text", "required": True, "description": "Nome do lead"},
    {"name": "email", "type": "email", "required": True, "description": "E-mail"},
    {"name": "budget", "type": "money", "required": True, "description": "Orçamento"},
    {"name": "financing", "type": "boolean", "required": False, "description": "Precisa de financiamento"},
    {"name": "property", "type": "choice", "description": "Tipo de imóvel", "choices": ["casa", "apartamento"]},
]

TYPED = [QualificationField.model_validate(f) for f in FIELDS]


def _tools() -> dict[str, dict[str, Any]]:
    return {t["function"]["name"]: t["function"] for t in build_tools(TYPED)}


def test_the_five_tools_are_openai_function_schemas() -> None:
    # given the tools for an agent
    tools = build_tools(TYPED)
    # then each is an OpenAI function tool with an object schema
    assert [t["function"]["name"] for t in tools] == [
        "update_lead",
        "set_stage",
        "request_handoff",
        "record_conversion",
        "end_conversation",
    ]
    for tool in tools:
        assert tool["type"] == "function"
        assert tool["function"]["description"]
        assert tool["function"]["parameters"]["type"] == "object"


def test_update_lead_has_a_typed_property_per_field_plus_the_contact_fields() -> None:
    # given the update_lead schema
    update = _tools()["update_lead"]["parameters"]
    properties = update["properties"]
    # then every field is a property typed from the field type, and contacts are always there
    assert set(properties) == {"name", "email", "budget", "financing", "property", "phone"}
    types = {name: prop["type"] for name, prop in properties.items()}
    assert types == {
        "name": "string",
        "email": "string",
        "budget": "number",
        "financing": "boolean",
        "property": "string",
        "phone": "string",
    }
    assert properties["property"]["enum"] == ["casa", "apartamento"]
    assert properties["budget"]["description"].startswith("Orçamento")
    # and nothing is required in one call; the description names what a conversion needs
    assert "required" not in update
    assert "name, email, budget" in _tools()["update_lead"]["description"]


def test_set_stage_offers_exactly_the_lead_stages() -> None:
    # given set_stage / then its enum is the stage machine's
    parameters = _tools()["set_stage"]["parameters"]
    assert parameters["properties"]["stage"]["enum"] == list(STAGES)
    assert parameters["required"] == ["stage"]


def test_argument_names_are_the_ones_effects_reads() -> None:
    # given calls built only from the schemas' property names
    tools = _tools()
    assert set(tools["request_handoff"]["parameters"]["properties"]) == {"reason"}
    assert set(tools["record_conversion"]["parameters"]["properties"]) == {"type", "value", "currency"}
    assert set(tools["end_conversation"]["parameters"]["properties"]) == {"reason"}
    ctx = TurnContext(
        status="ok",
        organization_id=uuid.uuid4(),
        conversation={"id": str(uuid.uuid4())},
        config={"persona": "Sofia", "goal": "qualify", "qualification_fields": FIELDS},
        lead={"stage": "new", "qualification": {}},
        history=[],
        pending=[],
        alias="fast",
        reservation_id=None,
    )
    calls = [
        Call("update_lead", {"name": "Ana", "email": "ana@example.com", "budget": 1000, "phone": "11987654321"}),
        Call("record_conversion", {"type": "qualified_lead", "value": 1000, "currency": "usd"}),
    ]
    # when effects plans them
    outcome = plan(ctx, "ok", calls)
    # then every value is applied and the conversion recorded as sent
    assert outcome.lead["qualification"]["phone"] == "+5511987654321"
    assert outcome.conversion == {"type": "qualified_lead", "value": 1000.0, "currency": "USD"}


def test_an_agent_without_fields_still_gets_contact_properties() -> None:
    # given no qualification fields / then update_lead still captures name, e-mail and phone
    [update, *_] = build_tools([])
    assert set(update["function"]["parameters"]["properties"]) == {"name", "email", "phone"}
    assert update["function"]["description"].endswith("send only the fields you learned.")
