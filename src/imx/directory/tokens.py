"""API tokens of the directory service, stored hashed (``dir_token``), and the resolver."""

from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa

from imx.directory.auth import (
    Identity,
    hash_token,
    identity_from_certificate,
    new_token,
    same_hash,
    token_from_header,
)
from imx.directory.store import DirectoryStore

__all__ = ["Authenticator"]


class Authenticator:
    """Resolves an ``Identity`` from request credentials; the edge decides 401/403 from it."""

    def __init__(
        self,
        store: DirectoryStore,
        *,
        admin_token_sha256: str | None = None,
        certificate_subjects: Mapping[str, str] | None = None,
    ) -> None:
        self._store = store
        self._admin = admin_token_sha256
        self._subjects = dict(certificate_subjects or {})

    async def issue_token(self, organization: str, *, label: str = "") -> str:
        """A new token for ``organization`` (an OID); only its hash is kept."""
        token = new_token()
        t = self._store.t.token
        async with self._store.engine.begin() as conn:
            await conn.execute(
                sa.insert(t).values(
                    token_sha256=hash_token(token),
                    organization=organization,
                    is_admin=False,
                    label=label[:200],
                )
            )
        return token

    async def identify(
        self, *, authorization: str | None, certificate_subject: str | None = None
    ) -> Identity | None:
        by_certificate = identity_from_certificate(certificate_subject, self._subjects)
        if by_certificate is not None:
            return by_certificate
        token = token_from_header(authorization)
        if token is None:
            return None
        digest = hash_token(token)
        if self._admin is not None and same_hash(digest, self._admin):
            return Identity(organization="", is_admin=True, via="admin-token")
        t = self._store.t.token
        async with self._store.engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(t.c.organization, t.c.is_admin).where(t.c.token_sha256 == digest)
                )
            ).first()
        if row is None:
            return None
        return Identity(organization=row.organization, is_admin=bool(row.is_admin))
