"""The one crossing between pynetdicom's association threads and the node's event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["LoopBridge"]

T = TypeVar("T")


class LoopBridge:
    def __init__(self, loop: asyncio.AbstractEventLoop, *, timeout_s: float = 120) -> None:
        self._loop = loop
        self._timeout_s = timeout_s

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop and wait for its result from a pynetdicom thread."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(self._timeout_s)
