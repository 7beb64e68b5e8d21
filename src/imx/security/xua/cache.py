"""Bounded caches for the XUA responder: certificates, certificate paths, verified assertions.

Carequality initiators reuse one assertion for the requests of a session (SPEC-NOTES §5.1), and
every request names the same few certificates, so the responder keeps what it already proved:

- ``certificate``: a parsed ``x509.Certificate`` per exact base64 text (parsing is deterministic),
  and its subject string and SHA-256 fingerprint (``names``);
- ``path_validity``: for a (leaf, intermediates) chain already proven to reach an anchor, the
  window in which every certificate on that path is valid; a hit is re-checked against ``now``;
- ``assertion``: the facts read from an assertion whose *time-independent* checks all passed
  (schema, signature and digest, Version, Issuer, audience, attributes), keyed by SHA-256 of the
  exact bytes that were verified (the serialised assertion with its in-scope namespaces, i.e. the
  input of the XML-DSig check). A changed byte anywhere in the assertion, signature or
  certificate is another key, so a tampered replay is verified from scratch and fails. An entry
  lives until the assertion's NotOnOrAfter + clock skew (SAML core 2.5.1.2), after which the
  window check would refuse it anyway.

The checks that depend on time or on the rest of the message (the envelope structure, chain and
confirmation-certificate validity at ``now``, the assertion window, the Timestamp and its
signature) run on every request, hit or miss. Failures are never cached. One cache belongs to
one ``TrustConfig`` (its anchors, audiences and skew), and is safe across worker threads.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes

__all__ = ["BoundedCache", "PathValidity", "XuaCache"]

K = TypeVar("K")
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """A thread-safe LRU map with a per-entry expiry (aware datetimes)."""

    def __init__(self, max_entries: int) -> None:
        self._max = max_entries
        self._lock = threading.Lock()
        self._entries: OrderedDict[K, tuple[dt.datetime | None, V]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K, now: dt.datetime) -> V | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return None
            expires, value = entry
            if expires is not None and now >= expires:
                del self._entries[key]  # expired: evict, and the caller verifies afresh
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: K, value: V, *, expires: dt.datetime | None, now: dt.datetime) -> None:
        if self._max <= 0 or (expires is not None and now >= expires):
            return
        with self._lock:
            self._entries[key] = (expires, value)
            self._entries.move_to_end(key)
            # O(1): drop from the least recently used end. Entries expire in about the order
            # they were stored, so expired ones sit there; any other is evicted when a get
            # finds it expired. (A full scan for expired entries here cost ~0.2 ms per new
            # assertion once 4,096 were cached: every put ran it.)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)


@dataclass(frozen=True, slots=True)
class PathValidity:
    """When every certificate on a proven path to an anchor is within its validity."""

    not_before: dt.datetime
    not_after: dt.datetime

    def covers(self, now: dt.datetime) -> bool:
        return self.not_before <= now <= self.not_after



class XuaCache:
    """The three caches of one responder (see module docstring). ``max_entries=0`` disables."""

    def __init__(self, *, max_assertions: int = 4096, max_certificates: int = 256) -> None:
        self.certificates: BoundedCache[str, x509.Certificate] = BoundedCache(max_certificates)
        self.signer_names: BoundedCache[str, tuple[str, str]] = BoundedCache(max_certificates)
        self.paths: BoundedCache[tuple[str, ...], PathValidity] = BoundedCache(max_certificates)
        self.assertions: BoundedCache[bytes, object] = BoundedCache(max_assertions)

    @staticmethod
    def assertion_key(verified_bytes: bytes) -> bytes:
        return hashlib.sha256(verified_bytes).digest()

    def names(self, text: str, cert: x509.Certificate, now: dt.datetime) -> tuple[str, str]:
        """(RFC 4514 subject, SHA-256 fingerprint hex) of the certificate parsed from ``text``."""
        names = self.signer_names.get(text, now)
        if names is None:
            names = (cert.subject.rfc4514_string(), cert.fingerprint(hashes.SHA256()).hex())
            self.signer_names.put(text, names, expires=None, now=now)
        return names

    def certificate(self, text: str, load: Callable[[str], x509.Certificate],
                    now: dt.datetime) -> x509.Certificate:
        cert = self.certificates.get(text, now)
        if cert is None:
            cert = load(text)  # raises on damage: nothing is cached
            self.certificates.put(text, cert, expires=None, now=now)
        return cert
