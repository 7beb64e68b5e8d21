"""XOP 1.0 references and Content-IDs (W3C XOP 1.0 §3; RFC 2392 ``cid:`` URLs).

Shared by the MTOM writer (``wire.mtom``) and reader (``wire.mtom_reader``).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from typing import Final
from urllib.parse import quote, unquote

from lxml import etree

from imx.errors import MalformedMessageError

__all__ = [
    "NS_XOP",
    "ChunkSource",
    "aiter_chunks",
    "check_content_id",
    "href_content_id",
    "new_content_id",
    "normalise_content_id",
    "xop_include",
]

NS_XOP: Final = "http://www.w3.org/2004/08/xop/include"
_CID_CHARS = re.compile(r"^[\x21-\x7e]{1,250}$")  # printable ASCII: no CR/LF header injection

Element = etree._Element
ChunkSource = AsyncIterable[bytes] | Iterable[bytes]


def new_content_id(domain: str = "imx") -> str:
    """A random Content-ID addr-spec (RFC 2392), without angle brackets."""
    return f"{uuid.uuid4().hex}@{domain}"


def check_content_id(content_id: str) -> str:
    """Return ``content_id`` if it is a safe header value, else raise ``ValueError``."""
    if not _CID_CHARS.match(content_id) or "<" in content_id or ">" in content_id:
        raise ValueError("Content-ID must be printable ASCII without angle brackets")
    return content_id


def xop_include(content_id: str) -> Element:
    """``<xop:Include href="cid:...">`` for a part (XOP 1.0 §3.2; RFC 2392 URL-encodes the id)."""
    href = "cid:" + quote(check_content_id(content_id), safe="@!$&'()*+,;=:~-._")
    return etree.Element(f"{{{NS_XOP}}}Include", nsmap={"xop": NS_XOP}, href=href)


def href_content_id(href: str) -> str:
    """The Content-ID an ``xop:Include/@href`` names (``cid:`` prefix off, %-decoded)."""
    href = href.strip()
    if href[:4].lower() != "cid:":
        raise MalformedMessageError("xop:Include href is not a cid: URL")
    return unquote(href[4:])


def normalise_content_id(value: str) -> str:
    """A Content-ID header value without angle brackets and whitespace."""
    return value.strip().removeprefix("<").removesuffix(">").strip()


async def aiter_chunks(source: ChunkSource) -> AsyncIterator[bytes]:
    """Iterate sync or async chunk sources alike."""
    if isinstance(source, AsyncIterable):
        async for chunk in source:
            yield chunk
    else:
        for chunk in source:
            yield chunk
