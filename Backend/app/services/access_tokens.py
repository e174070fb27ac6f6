"""Access tokens of the REST API: short-lived JWTs (HS256) naming a user and session.

Stateless on purpose: checking one costs no database round trip. A session that
ends (logout, a reused refresh token) is told to the API's revocation list, so
its access tokens stop working before they expire.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from app.config import Settings
from app.errors import InvalidToken

ISSUER = "paytrace"
AUDIENCE = "paytrace-api"
ALGORITHM = "HS256"


@dataclass(frozen=True)
class AccessClaims:
    user_id: int
    session_id: uuid.UUID
    expires_at: datetime


class AccessTokens:
    def __init__(self, secret: str, ttl_s: int) -> None:
        if not secret:
            raise ValueError("an access-token secret is required")
        self._secret = secret
        self.ttl_s = ttl_s

    @classmethod
    def from_settings(cls, settings: Settings) -> AccessTokens:
        """Raises ValueError when API_TOKEN_SECRET is missing."""
        if settings.api_token_secret is None:
            raise ValueError("API_TOKEN_SECRET is not set")
        return cls(settings.api_token_secret.get_secret_value(), settings.access_token_ttl_s)

    def issue(self, user_id: int, session_id: uuid.UUID, now: datetime | None = None) -> str:
        now = now or datetime.now(UTC)
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": str(user_id),
            "sid": str(session_id),
            "iat": now,
            "exp": now + timedelta(seconds=self.ttl_s),
            "typ": "access",
            # Two tokens issued in the same second must still differ.
            "jti": secrets.token_urlsafe(12),
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> AccessClaims:
        """The claims of a valid token; raises InvalidToken for anything else."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "sid", "typ"]},
            )
            if claims["typ"] != "access":
                raise InvalidToken("not an access token")
            return AccessClaims(
                user_id=int(claims["sub"]),
                session_id=uuid.UUID(claims["sid"]),
                expires_at=datetime.fromtimestamp(claims["exp"], UTC),
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("the access token has expired: refresh it") from None
        except (jwt.InvalidTokenError, ValueError, TypeError, KeyError):
            raise InvalidToken("the access token is not valid") from None
