"""Who is writing to the directory, and may they (pure).

An ``Identity`` is resolved at the edge from an admin bearer token, a per-organisation API token
or a client-certificate subject mapped to an organisation OID (mTLS). Tokens are random 256-bit
strings, so an unsalted SHA-256 is enough to store them (nothing to brute-force, unlike
passwords); comparison is by hash, constant-time. The rule: an organisation writes only entries
it owns, that is itself and whatever hangs below it by ``partOf``/``org-managing-org``, both
before and after the change. Deactivation is a write (``active=false``); there is no delete.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from imx.errors import NotAuthorizedError

__all__ = [
    "AuthenticationRequiredError",
    "Identity",
    "check_write",
    "hash_token",
    "identity_from_certificate",
    "new_token",
    "token_from_header",
]


class AuthenticationRequiredError(NotAuthorizedError):
    """No credentials, or credentials we do not know (HTTP 401, not 403)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Identity:
    organization: str  # OID; "" for an administrator
    is_admin: bool = False
    via: str = "token"  # "token" | "admin-token" | "certificate"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def same_hash(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def token_from_header(authorization: str | None) -> str | None:
    """``Bearer <t>`` (RFC 6750) or Carequality's ``api-key <t>`` (SPEC-NOTES §7.1)."""
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() in ("bearer", "api-key") and value.strip():
        return value.strip()
    return None


def identity_from_certificate(subject: str | None, subjects: Mapping[str, str]) -> Identity | None:
    """The organisation a verified client certificate's RFC 4514 subject is mapped to."""
    if subject and subject in subjects:
        return Identity(organization=subjects[subject], via="certificate")
    return None


def check_write(
    identity: Identity | None,
    *,
    owners_before: Collection[str] | None,
    owners_after: Collection[str],
) -> None:
    """Raise unless ``identity`` may replace an entry.

    ``owners_*`` are the entry's organisation and its ancestors (partOf / managing org) in the
    stored version (None when creating) and in the new one.
    """
    if identity is None:
        raise AuthenticationRequiredError("writes need an API token or a client certificate")
    if identity.is_admin:
        return
    if owners_before is not None and identity.organization not in owners_before:
        raise NotAuthorizedError("this entry belongs to another organization")
    if identity.organization not in owners_after:
        raise NotAuthorizedError("an organization may only write its own entries and facilities")
