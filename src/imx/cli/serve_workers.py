"""``http.workers``: more processes accepting on the node's one HTTP socket.

A single Python process answers XCPD on one core (the GIL); a responder that must answer
every Treatment query at peak needs the others. The primary ``imx serve`` binds the socket,
then starts ``workers - 1`` children that inherit it (``--worker-fd``); the kernel hands each
new connection to whichever process accepts first, so a busy process takes fewer. The
children serve the stateless endpoints (SOAP, DICOMweb, /healthz: ``Settings.problems``
refuses the JSON API and the portal with workers) from the same database and blob store;
node-wide jobs (DIMSE, MLLP, ATNA shipping, directory sync, certificate expiry) stay in the
primary, which ships the audit records the children leave in the shared outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import uvicorn

from imx.settings import Settings

__all__ = [
    "SharedListener",
    "bind_http_socket",
    "run_http_worker",
    "share_accepts",
    "start_http_workers",
    "stop_http_workers",
]

log = logging.getLogger(__name__)

PRIMARY_PID_ENV = "IMX_HTTP_PRIMARY_PID"


def primary_pid() -> int:
    """The primary that started this worker (from the environment; else our parent)."""
    return int(os.environ.get(PRIMARY_PID_ENV) or os.getppid())


LISTEN_BACKLOG = 2048  # the kernel's queue of connections not yet accepted


class SharedListener(socket.socket):
    """The node's listening socket, shared by every HTTP process.

    asyncio accepts up to ``backlog`` connections each time the socket turns readable
    (``selector_events._accept_connection``), and uvicorn passes its ``backlog`` there and to
    ``listen()``. With the default (2048) a process back from a long turn of its loop took
    every connection waiting, however busy it was. ``share_accepts`` sets the per-wakeup
    count to 1, so a process takes one connection per turn and one that is idle in
    ``epoll_wait`` gets the next; this class keeps the kernel's queue at ``LISTEN_BACKLOG``
    whatever count ``listen()`` is given. It is a race, not a balancer: connections opened in
    one burst while every process is idle (a client starting 8-16 keep-alive connections at
    once, on a 2-CPU machine where that client holds the other CPU) can still all land on
    one process; ``http.max_requests_per_connection`` (http/keepalive.py) makes peers
    reconnect now and then, so the split follows the load (docs/architecture.md).
    """

    def listen(self, backlog: int = LISTEN_BACKLOG) -> None:
        super().listen(LISTEN_BACKLOG)


def bind_http_socket(host: str, port: int) -> SharedListener:
    """The listening socket every process accepts on (inheritable by the children)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, backlog=LISTEN_BACKLOG)
    # proto must read IPPROTO_TCP (create_server leaves 0): the accepted sockets copy it, and
    # asyncio sets TCP_NODELAY only on sockets whose proto says TCP (base_events._set_nodelay).
    # Without it Nagle held each answer's last segment for the client's delayed ACK: ~40 ms
    # per XCPD query on the primary's connections (measured: 22 queries/s on one connection).
    shared = SharedListener(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
    # Linux also hands TCP_NODELAY on to accepted sockets; set for any other acceptor.
    shared.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    shared.set_inheritable(True)
    return shared


def share_accepts(config: uvicorn.Config) -> uvicorn.Config:
    """One connection accepted per wakeup of the event loop (see ``SharedListener``)."""
    config.backlog = 1
    return config


def start_http_workers(sock: socket.socket, count: int, config: Path | None,
                       ) -> list[subprocess.Popen[bytes]]:
    fd = sock.fileno()
    argv = [sys.executable, "-m", "imx", "serve", "--worker-fd", str(fd)]
    if config is not None:
        argv += ["--config", str(config)]
    # The primary's pid travels with the child: one that starts after its primary died
    # must notice (its getppid() is already someone else's).
    env = {**os.environ, PRIMARY_PID_ENV: str(os.getpid())}
    workers = [subprocess.Popen(argv, pass_fds=(fd,), env=env)  # noqa: S603 - our own argv
               for _ in range(count)]
    log.info("HTTP workers started", extra={"workers": count})
    return workers


def stop_http_workers(workers: list[subprocess.Popen[bytes]], *, timeout_s: float = 15) -> None:
    for proc in workers:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
    for proc in workers:
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def _exit_with_parent(server: uvicorn.Server, parent: int) -> None:
    # A child whose primary died (SIGKILL, OOM) must not keep answering on its own.
    while os.getppid() == parent:
        await asyncio.sleep(1)
    log.warning("primary imx serve is gone: HTTP worker exiting")
    server.should_exit = True


async def run_http_worker(settings: Settings, fd: int, parent: int) -> None:
    """One extra HTTP process: the node's services over the inherited socket, nothing else."""
    from imx.cli.serve_cmd import http_server_config
    from imx.runtime import open_node

    sock = SharedListener(fileno=fd)
    async with open_node(settings, auto_upgrade=False, primary=False) as services:
        tasks = [asyncio.create_task(services.manifests.run(), name="manifests"),
                 asyncio.create_task(services.ingest.run_indexer(), name="indexer")]
        config = share_accepts(http_server_config(services, host=settings.http.host,
                                                  port=settings.http.port, lifespan="on"))
        server = uvicorn.Server(config)
        tasks.append(asyncio.create_task(_exit_with_parent(server, parent), name="parent"))
        try:
            await server.serve(sockets=[sock])
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await services.manifests.flush()
