"""FastAPI wiring shared by every HTTP function.

``CurrentUser`` lives in ``shared.http.deps``: only functions that verify a user's JWT import
it, so the others neither load the verifier nor need the JWT secret (see shared/settings.py).
"""

from shared.http.app import create_app

__all__ = ["create_app"]
