"""The bearer-token check every write route depends on (constant-time comparison)."""
from __future__ import annotations

import hmac

from fastapi import HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

bearer = HTTPBearer(auto_error=False, description="Token from `fedforge monitor token`")


def check_token(request: Request, credentials: HTTPAuthorizationCredentials | None) -> None:
    """Raise 401 unless the request carries `Authorization: Bearer <the monitor token>`."""
    expected = request.app.state.settings.token
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing bearer token: send "
                            "'Authorization: Bearer <token>' (see `fedforge monitor token`)",
                            headers={"WWW-Authenticate": "Bearer"})
    if not hmac.compare_digest(credentials.credentials.encode(), expected.encode()):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong bearer token (see `fedforge monitor token`)",
                            headers={"WWW-Authenticate": "Bearer"})
