"""FastAPI wiring shared by every HTTP function."""

from shared.http.app import create_app
from shared.http.deps import CurrentUser

__all__ = ["CurrentUser", "create_app"]
