"""A cap on the requests one keep-alive connection carries (``http.max_requests_per_connection``).

Gateways open a few keep-alive connections and keep them for hours. With ``http.workers`` the
kernel hands each new connection to whichever process accepts first, and a burst opened while
every process was idle can all land on one (docs/architecture.md, Scaling out): without
reconnections that split never changes, and the other processes idle. Answering the N-th
request of a connection with ``Connection: close`` (RFC 9112 §9.6; nginx ``keepalive_requests``,
Apache ``MaxKeepAliveRequests``) makes the peer open a new one, which the least busy process,
the one waiting in ``epoll_wait``, tends to accept: the split follows the load. The client
sees an ordinary close after a complete answer, which every HTTP/1.1 client handles.
"""

from __future__ import annotations

from typing import Any

__all__ = ["with_request_cap"]


class _RequestCap:
    """Mixin for uvicorn's HttpToolsProtocol (its ``cycle`` is made in on_headers_complete)."""

    max_requests = 0
    _served = 0

    def on_headers_complete(self) -> None:
        super().on_headers_complete()  # type: ignore[misc]
        self._served += 1
        cycle: Any = getattr(self, "cycle", None)
        if self.max_requests and self._served >= self.max_requests and cycle is not None:
            # uvicorn then sends "connection: close" and closes after this response.
            cycle.keep_alive = False


def with_request_cap(protocol: type, max_requests: int) -> type:
    """``protocol`` closing each connection after ``max_requests`` answers (0: never)."""
    if not max_requests:
        return protocol
    return type(protocol.__name__, (_RequestCap, protocol), {"max_requests": max_requests})
