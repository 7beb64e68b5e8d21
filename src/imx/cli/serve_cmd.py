"""``imx serve``: one process serving HTTP (DICOMweb, later SOAP/FHIR) and DIMSE."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
import uvicorn
from rich.console import Console

from imx.cli.options import ConfigOption, settings_from
from imx.settings import Settings

if TYPE_CHECKING:
    import socket
    import subprocess

    from imx.services.context import NodeServices

log = logging.getLogger(__name__)


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(config: ConfigOption = None,
              worker_fd: Annotated[int | None, typer.Option(
                  hidden=True, help="internal: serve HTTP on this inherited socket")] = None,
              ) -> None:
        """Serve the node: SOAP gateway, DICOMweb, JSON API, portal + DIMSE and MLLP."""
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
            if worker_fd is not None:
                from imx.cli.serve_workers import primary_pid, run_http_worker

                asyncio.run(run_http_worker(settings, worker_fd, primary_pid()))
            else:
                asyncio.run(run_node(settings, config))


async def run_node(settings: Settings, config_path: Path | None = None) -> None:
    """Run every listener of the node until cancelled or SIGINT/SIGTERM."""
    # Imported here so `imx --help` and the other commands stay light.
    from imx.dimse.server import DimseServer
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
        tasks = [manifest_task]
        if settings.tls.enabled:
            tasks.append(asyncio.create_task(_watch_expiry(settings), name="tls-expiry"))
        index_task = asyncio.create_task(services.ingest.run_indexer(), name="indexer")
        config = http_server_config(services, host=settings.http.host, port=settings.http.port,
                                    lifespan="on")
        server = uvicorn.Server(config)
        sockets: list[socket.socket] | None = None
        workers: list[subprocess.Popen[bytes]] = []
        if settings.http.workers > 1:  # started once the database is migrated
            from imx.cli.serve_workers import bind_http_socket, share_accepts, start_http_workers

            share_accepts(config)
            sockets = [bind_http_socket(settings.http.host, settings.http.port)]
            workers = start_http_workers(sockets[0], settings.http.workers - 1, config_path)
        try:
            await server.serve(sockets=sockets)
        finally:
            if workers:
                from imx.cli.serve_workers import stop_http_workers

                await asyncio.to_thread(stop_http_workers, workers)
            for task in (*tasks, index_task):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if dimse is not None:
                dimse.stop()
            if mllp is not None:
                await mllp.stop()
            await services.manifests.flush()


def http_server_config(services: NodeServices, *, host: str, port: int,
                       lifespan: Literal["on", "off"]) -> uvicorn.Config:
    """The HTTP listener: HTTPS requiring a verified client certificate when ``tls`` is set.

    Plain HTTP remains only for loopback with ``http.insecure_plain_http`` (enforced by
    ``Settings.problems`` before we get here).
    """
    from imx.http.app import build_app
    from imx.http.keepalive import with_request_cap

    settings = services.settings
    app = build_app(services)
    cap = settings.http.requests_per_connection
    if not settings.tls.enabled:
        from imx.http.zerocopy import ZeroCopyHttpToolsProtocol

        # Plain HTTP sends stored instances with sendfile(2) (ASGI Zero Copy Send).
        return uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                              lifespan=lifespan, http=with_request_cap(ZeroCopyHttpToolsProtocol,
                                                                       cap))
    from imx.http.tls_transport import ClientCertificateGate, audit_refusal, https_config
    from imx.security.tls import ReloadingServerContext

    tls = settings.tls
    if not tls.crl_files:
        log.warning("tls.crl_files is empty: revoked peer certificates cannot be refused")
    gated = ClientCertificateGate(app, audit=services.audit, clock=services.clock)
    return https_config(gated, ReloadingServerContext(tls), host=host, port=port,
                        on_refused=audit_refusal(services.audit, services.clock),
                        max_requests_per_connection=cap,
                        log_level="warning", access_log=False, lifespan=lifespan)


async def _watch_expiry(settings: Settings, *, interval_s: float = 12 * 3600) -> None:
    """Log a warning, at start and twice a day, for every certificate or CRL about to expire."""
    from imx.security.expiry import check_files

    tls = settings.tls
    certs = [p for p in (tls.cert_file, tls.trust_bundle) if p is not None]
    while True:
        try:
            statuses = check_files(certificates=certs, crls=tls.crl_files,
                                   now=dt.datetime.now(dt.UTC),
                                   warning_days=tls.expiry_warning_days)
        except (OSError, ValueError) as exc:
            log.warning("TLS files unreadable for the expiry check",
                        extra={"error": type(exc).__name__})
            statuses = []
        for status in statuses:
            if status.state != "ok":
                log.warning(status.message, extra={"tls_expiry": status.state})
        await asyncio.sleep(interval_s)
