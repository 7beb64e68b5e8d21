"""A whole node (HTTP + optional DIMSE) running in a background thread with its own loop."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import uvicorn

from imx.cli.serve_cmd import http_server_config
from imx.runtime import open_node
from imx.services.context import NodeServices
from imx.settings import Settings
from tests.support.node import test_settings

T = TypeVar("T")


class NodeThread:
    def __init__(self, settings: Settings, *, dimse: bool = False) -> None:
        self.settings = settings
        self._dimse = dimse
        self.loop = asyncio.new_event_loop()
        self.services: NodeServices | None = None
        self.port = 0
        self.dimse_port = 0
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._server: uvicorn.Server | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def url(self) -> str:
        scheme = "https" if self.settings.tls.enabled else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    @property
    def dicomweb(self) -> str:
        return self.url + self.settings.dicomweb.prefix

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._main())
        except BaseException as exc:  # noqa: BLE001 - reported to the test thread
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        async with open_node(self.settings) as services:
            self.services = services
            dimse_server = None
            if self._dimse:
                from imx.dimse.server import DimseServer

                dimse_server = DimseServer(services, loop=asyncio.get_running_loop())
                self.dimse_port = dimse_server.start()
            # The serve command's own listener config: HTTPS + client certs when tls is set.
            config = http_server_config(services, host="127.0.0.1", port=self.settings.http.port,
                                        lifespan="off")
            self._server = uvicorn.Server(config)
            serve = asyncio.create_task(self._server.serve())
            while not self._server.started:
                await asyncio.sleep(0.01)
                if serve.done():
                    await serve
            self.port = self._server.servers[0].sockets[0].getsockname()[1]
            self._ready.set()
            await serve
            if dimse_server is not None:
                dimse_server.stop()

    def start(self) -> NodeThread:
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error
        return self

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the node's loop (its stores live there)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    def xua_verifier(self) -> Any:
        """The SOAP endpoint's XUA verifier process, started and ready (trust on, and
        ``trust.verifier_process``): the hostile-request suites then run through it."""
        app = self._server.config.loaded_app if self._server is not None else None
        while app is not None and not hasattr(app, "soap"):
            app = getattr(app, "app", None)
        verifier = app.soap._trust._verifier if app is not None else None  # noqa: SLF001
        assert verifier is not None, "no XUA verifier process in this node"

        async def started() -> None:
            verifier.start()
            for _ in range(500):
                if verifier.ready:
                    return
                await asyncio.sleep(0.02)
            raise AssertionError("the XUA verifier process did not start")

        self.call(started())
        return verifier

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        self._thread.join(30)
        if not self._thread.is_alive():
            self.loop.close()


@contextlib.contextmanager
def running_node(
    tmp_path: Path, *, with_dimse: bool = False, **overrides: Any
) -> Iterator[NodeThread]:
    node = NodeThread(test_settings(tmp_path, **overrides), dimse=with_dimse).start()
    try:
        yield node
    finally:
        node.stop()
