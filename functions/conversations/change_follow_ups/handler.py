"""POST /conversations/{conversation_id}/follow-ups/{action}: pause, resume or cancel one conversation's follow-ups."""

import uuid

from mangum import Mangum

from shared.followups.api import Action, FollowUps, change
from shared.http import create_app
from shared.http.deps import CurrentUser
from shared.http.openapi import problems

app = create_app("change-follow-ups")


@app.post(
    "/conversations/{conversation_id}/follow-ups/{action}",
    response_model=FollowUps,
    responses=problems(401, 403, 404, 422, 429),
    tags=["conversations"],
)
async def change_follow_ups(conversation_id: uuid.UUID, action: Action, user: CurrentUser) -> FollowUps:
    """An operator (editor or above) pauses, resumes or cancels the follow-ups; cancelled steps keep the reason."""
    return await change(user, conversation_id, action)


handler = Mangum(app, lifespan="off")
