"""A 300 MB attachment streams writer -> reader without the process growing by more than 50 MB."""

from __future__ import annotations

import resource
import time
import tracemalloc
from collections.abc import AsyncIterator

from imx.wire.mtom import content_type_header, mtom_stream, parse_http_body, xop_include
from imx.wire.soap import build_envelope
from imx.wire.xml import serialize

SIZE = 300 * 1024 * 1024
CHUNK = b"Z\r\n-" * (256 * 1024)  # 1 MiB of delimiter-like bytes


async def attachment() -> AsyncIterator[bytes]:
    for _ in range(SIZE // len(CHUNK)):
        yield CHUNK


async def chunks_of(stream: AsyncIterator[bytes], size: int = 256 * 1024) -> AsyncIterator[bytes]:
    """Re-chunk like a transport would (writer chunk edges never line up with reads)."""
    pending = b""
    async for chunk in stream:
        pending += chunk
        while len(pending) >= size:
            yield pending[:size]
            pending = pending[size:]
    if pending:
        yield pending


async def test_300_mb_attachment_streams_in_bounded_memory() -> None:
    root = serialize(build_envelope(xop_include("big@x")))
    body = mtom_stream(
        root, [("big@x", "application/dicom", attachment())], "bnd_big", root_content_id="r@x"
    )
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    tracemalloc.start()
    started = time.perf_counter()
    try:
        message = await parse_http_body(content_type_header("bnd_big", "r@x"), chunks_of(body))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    elapsed = time.perf_counter() - started
    rss_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - rss_before
    with message:
        attachment_ = message.attachments["big@x"]
        assert attachment_.size == SIZE
        total = 0
        for piece in attachment_.iter_chunks(1 << 20):
            assert piece == CHUNK[: len(piece)]
            total += len(piece)
        assert total == SIZE
    assert peak < 50 * 1024 * 1024, f"traced peak {peak / 2**20:.1f} MiB"
    assert rss_growth < 50 * 1024 * 1024, f"RSS grew {rss_growth / 2**20:.1f} MiB"
    assert elapsed < 30, f"300 MiB took {elapsed:.1f} s"
