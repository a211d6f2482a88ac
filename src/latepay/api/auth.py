"""Who may call what: a bearer key's role is checked on every route.

Without a valid key a route answers 401; with a key whose role the route does not allow, 403.
``admin`` may call every route. Looked-up roles are remembered for a few seconds so a busy
scoring endpoint does not query the keys table on every call; a revoked key stops working
within that time.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine

from latepay.api.keys import Role, hash_key, role_of_digest

ROLE_CACHE_SECONDS = 5.0

bearer = HTTPBearer(auto_error=False, description="An API key from `latepay keys create`.")


class KeyChecker:
    """Roles of keys, read from the database and remembered for ``ttl`` seconds."""

    def __init__(self, engine: Engine, ttl: float = ROLE_CACHE_SECONDS) -> None:
        self.engine = engine
        self.ttl = ttl
        self._known: dict[str, tuple[Role | None, float]] = {}
        self._lock = threading.Lock()

    def role(self, key: str) -> Role | None:
        return self.role_of_digest(hash_key(key))

    def role_of_digest(self, digest: str) -> Role | None:
        """The role of the key hashed to ``digest`` (a dashboard session holds only that)."""
        remembered = self._remembered(digest)
        return self._read(digest) if remembered is None else remembered[0]

    async def role_from_loop(self, key: str) -> Role | None:
        """:meth:`role`, called from the event loop: a remembered role at once, without the
        hop to a worker thread that every request would otherwise pay; a lookup in the
        database in a thread."""
        digest = hash_key(key)
        remembered = self._remembered(digest)
        if remembered is None:
            return await asyncio.to_thread(self._read, digest)
        return remembered[0]

    def _remembered(self, digest: str) -> tuple[Role | None] | None:
        """The role remembered for ``digest`` (in a tuple: None is a known answer, no such
        key), or None when it must be read."""
        with self._lock:
            cached = self._known.get(digest)
        if cached is None or cached[1] <= time.monotonic():
            return None
        return (cached[0],)

    def _read(self, digest: str) -> Role | None:
        asked_at = time.monotonic()
        role = role_of_digest(self.engine, digest)
        with self._lock:
            self._known[digest] = (role, asked_at + self.ttl)
        return role


def require(*roles: Role) -> Callable[..., Role]:
    """A dependency admitting ``roles`` (and admin); it returns the caller's role."""
    allowed = {Role.ADMIN, *roles}

    async def check(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Depends(bearer),  # noqa: B008
    ) -> Role:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "send an API key as 'Authorization: Bearer <key>'",
                headers={"WWW-Authenticate": "Bearer"},
            )
        role = await request.app.state.keys.role_from_loop(credentials.credentials)
        if role is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "unknown or revoked API key",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if role not in allowed:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"a {role.value} key may not do this; it needs one of: "
                + ", ".join(sorted(r.value for r in allowed)),
            )
        return role

    return check


ANY_ROLE = (Role.BILLING, Role.COLLECTOR, Role.VIEWER)
