"""The socket ``http.workers`` processes share: answers leave at once, the queue stays long."""

from __future__ import annotations

import asyncio
import os
import socket
from typing import ClassVar

from imx.cli.serve_workers import LISTEN_BACKLOG, SharedListener, bind_http_socket


class _Keep(asyncio.Protocol):
    transports: ClassVar[list[asyncio.Transport]] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transports.append(transport)


def test_connections_accepted_on_the_shared_socket_send_without_nagle_delay() -> None:
    # asyncio turns Nagle off only on sockets whose proto reads IPPROTO_TCP; the accepted
    # sockets copy the listener's. Nagle on held each answer's last segment ~40 ms waiting
    # for the client's delayed ACK (22 XCPD queries/s on one keep-alive connection).
    listener = bind_http_socket("127.0.0.1", 0)
    assert listener.proto == socket.IPPROTO_TCP

    async def main() -> int:
        loop = asyncio.get_running_loop()
        _Keep.transports = []
        server = await loop.create_server(_Keep, sock=listener, backlog=1)
        port = listener.getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(100):
            if _Keep.transports:
                break
            await asyncio.sleep(0.01)
        accepted = _Keep.transports[0].get_extra_info("socket")
        nodelay = accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        writer.close()
        _Keep.transports[0].close()
        server.close()
        await server.wait_closed()
        return nodelay

    assert asyncio.run(main()) == 1


def test_one_accept_per_wakeup_keeps_the_kernel_queue_long() -> None:
    listener = bind_http_socket("127.0.0.1", 0)
    try:
        listener.listen(1)  # what asyncio does with uvicorn's backlog=1 (share_accepts)
        port = listener.getsockname()[1]
        # More waiting connections than a backlog of 1 would let the kernel queue.
        clients = [socket.create_connection(("127.0.0.1", port), timeout=2) for _ in range(8)]
        accepted = [listener.accept()[0] for _ in clients]
        assert len(accepted) == 8
        for s in (*clients, *accepted):
            s.close()
    finally:
        listener.close()


def test_a_worker_sees_the_inherited_socket_as_tcp() -> None:
    listener = bind_http_socket("127.0.0.1", 0)
    child_view = SharedListener(fileno=os.dup(listener.fileno()))
    try:
        assert child_view.proto == socket.IPPROTO_TCP
        assert LISTEN_BACKLOG >= 1024
    finally:
        child_view.close()
        listener.close()
