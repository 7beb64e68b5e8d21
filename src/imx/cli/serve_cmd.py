"""``imx serve``: one process serving HTTP (DICOMweb, later SOAP/FHIR) and DIMSE."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import typer
import uvicorn
from rich.console import Console

from imx.cli.options import ConfigOption, settings_from
from imx.settings import Settings

log = logging.getLogger(__name__)


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(config: ConfigOption = None) -> None:
        """Serve the node: DICOMweb + DIMSE (C-ECHO/STORE/FIND/GET/MOVE)."""
        settings = settings_from(config)
        problems = settings.problems()
        if problems:
            for p in problems:
                Console(stderr=True).print(f"[red]refusing to start:[/red] {p}")
            raise typer.Exit(2)
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
        # pynetdicom logs every request at INFO (and identifiers at DEBUG): keep PHI out.
        logging.getLogger("pynetdicom").setLevel(logging.WARNING)
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run_node(settings))


async def run_node(settings: Settings) -> None:
    """Run every listener of the node until cancelled or SIGINT/SIGTERM."""
    # Imported here so `imx --help` and the other commands stay light.
    from imx.dimse.server import DimseServer
    from imx.http.app import build_app
    from imx.runtime import open_node

    async with open_node(settings) as services:
        dimse = None
        if settings.dimse.enabled:
            dimse = DimseServer(services, loop=asyncio.get_running_loop())
            port = dimse.start()
            log.info("DIMSE listening", extra={"ae_title": settings.dimse.ae_title, "port": port})
        mllp = None
        if settings.hl7v2.enabled:
            from imx.hl7v2.mllp import MllpServer

            mllp = MllpServer(services.patient_feed, services.clock, host=settings.hl7v2.host,
                              port=settings.hl7v2.port)
            log.info("MLLP listening", extra={"port": await mllp.start()})
        manifest_task = asyncio.create_task(services.manifests.run(), name="manifests")
        index_task = asyncio.create_task(services.ingest.run_indexer(), name="indexer")
        config = uvicorn.Config(
            build_app(services), host=settings.http.host, port=settings.http.port,
            log_level="warning", access_log=False, lifespan="on",
        )
        server = uvicorn.Server(config)
        try:
            await server.serve()
        finally:
            for task in (manifest_task, index_task):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if dimse is not None:
                dimse.stop()
            if mllp is not None:
                await mllp.stop()
            await services.manifests.flush()
