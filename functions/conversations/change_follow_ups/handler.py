"""POST /conversations/{conversation_id}/follow-ups: pause, resume or cancel one conversation's follow-ups."""

import uuid

from mangum import Mangum
from pydantic import BaseModel, ConfigDict

from shared.followups.api import Action, FollowUps, change
from shared.http import create_app
from shared.http.deps import CurrentUser
from shared.http.openapi import problems

app = create_app("change-follow-ups")


class FollowUpChange(BaseModel):
    """What the operator does: ``pause``, ``resume`` or ``cancel``."""

    model_config = ConfigDict(extra="forbid")
    action: Action


@app.post(
    "/conversations/{conversation_id}/follow-ups",
    response_model=FollowUps,
    responses=problems(401, 403, 404, 422, 429),
    tags=["conversations"],
)
async def change_follow_ups(conversation_id: uuid.UUID, body: FollowUpChange, user: CurrentUser) -> FollowUps:
    """An operator (editor or above) pauses, resumes or cancels the follow-ups; cancelled steps keep the reason."""
    return await change(user, conversation_id, body.action)


handler = Mangum(app, lifespan="off")
