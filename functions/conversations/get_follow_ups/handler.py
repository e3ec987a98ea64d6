"""GET /conversations/{conversation_id}/follow-ups: the next scheduled follow-up and the history."""

import uuid

from mangum import Mangum

from shared.followups.api import FollowUps, follow_ups
from shared.http import create_app
from shared.http.deps import CurrentUser
from shared.http.openapi import problems

app = create_app("get-follow-ups")


@app.get(
    "/conversations/{conversation_id}/follow-ups",
    response_model=FollowUps,
    responses=problems(401, 404, 422, 429),
    tags=["conversations"],
)
async def get_follow_ups(conversation_id: uuid.UUID, user: CurrentUser) -> FollowUps:
    """The conversation's next follow-up and its sent, skipped and stopped ones, each with its reason."""
    return await follow_ups(user, conversation_id)


handler = Mangum(app, lifespan="off")
