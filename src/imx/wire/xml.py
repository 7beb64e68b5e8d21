"""The single hardened XML parser: every inbound XML byte goes through ``parse_xml``.

Defences, in order (OWASP XXE cheat sheet; libxml2 parser options):

1. a size cap before anything is parsed;
2. only UTF-8 / UTF-16 / ASCII / Latin-1 documents (a UTF-7 or EBCDIC declaration could hide
   a ``<!DOCTYPE`` from the byte scan below);
3. any ``<!DOCTYPE`` or ``<!ENTITY`` is rejected before parsing: no DTD means no internal
   entities (billion laughs, quadratic blowup) and no external ones (XXE, parameter entities);
4. libxml2 runs with ``resolve_entities=False, load_dtd=False, no_network=True, huge_tree=False``
   (text nodes above 10 MB fail; large documents must travel as MTOM parts);
5. a depth cap: libxml2 itself stops at 256 levels (``huge_tree=False``), and the parsed tree
   is refused when any element sits deeper than ``max_depth`` (one compiled XPath walk in C;
   per-element pull events in Python cost half of an XCPD request's parse);
6. after parsing, a DOCTYPE that slipped through anyway is still refused.

Errors raise ``MalformedMessageError`` whose detail names the check that failed and at most a
line/column: never message content (it may be PHI).
"""

from __future__ import annotations

import functools
import re
import threading
from typing import Final

from lxml import etree

from imx.errors import MalformedMessageError

__all__ = ["DEFAULT_MAX_BYTES", "DEFAULT_MAX_DEPTH", "parse_xml", "serialize"]

DEFAULT_MAX_BYTES: Final = 16 * 1024 * 1024
DEFAULT_MAX_DEPTH: Final = 64

_ALLOWED_ENCODINGS: Final = frozenset(
    {"utf-8", "utf8", "utf-16", "utf16", "us-ascii", "ascii", "iso-8859-1", "latin-1", "latin1"}
)
_DECLARED_ENCODING = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")
# DOCTYPE / ENTITY markup in single-byte and both UTF-16 byte orders.
_FORBIDDEN_MARKUP: Final = tuple(
    word.encode(enc)
    for word in ("<!DOCTYPE", "<!ENTITY")
    for enc in ("ascii", "utf-16-le", "utf-16-be")
)


def _check_encoding(data: bytes) -> None:
    head = data[:4]
    if head.startswith(
        (b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00", b"\x00\x00\x00<", b"<\x00\x00\x00")
    ):
        raise MalformedMessageError("XML encoding not supported (UTF-32)")
    if head.startswith((b"\xfe\xff", b"\xff\xfe", b"\x00<", b"<\x00")):
        return  # UTF-16: a byte-level declaration scan does not apply; markup scan covers it
    m = _DECLARED_ENCODING.match(data[:200].lstrip(b"\xef\xbb\xbf"))
    if m and m.group(1).decode("ascii").lower() not in _ALLOWED_ENCODINGS:
        raise MalformedMessageError("XML encoding not supported")


_local = threading.local()  # lxml parsers are not to be shared between threads


def _parser() -> etree.XMLParser:
    parser: etree.XMLParser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = etree.XMLParser(
            resolve_entities=False,
            load_dtd=False,
            dtd_validation=False,
            no_network=True,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
            collect_ids=False,
        )
    return parser


@functools.cache
def _deeper_than(max_depth: int) -> etree.XPath:
    """True when an element sits at depth ``max_depth + 1`` (the root is depth 1)."""
    return etree.XPath("boolean(/*" + "/*" * max_depth + ")")


def parse_xml(
    data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, max_depth: int = DEFAULT_MAX_DEPTH
) -> etree._Element:
    """Parse untrusted XML bytes with every defence on.

    Args:
        data: the raw document (an XML declaration and BOM are honoured).
        max_bytes: refuse larger inputs before parsing.
        max_depth: refuse documents nesting elements deeper than this.

    Returns:
        The root element (comments and processing instructions removed).

    Raises:
        MalformedMessageError: too big, too deep, a DTD, an unsupported encoding, or not
            well-formed. The detail carries no document content.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise MalformedMessageError("XML input must be bytes")
    data = bytes(data)
    if len(data) > max_bytes:
        raise MalformedMessageError(f"XML document larger than {max_bytes} bytes")
    if not data.strip():
        raise MalformedMessageError("XML document is empty")
    _check_encoding(data)
    if any(marker in data for marker in _FORBIDDEN_MARKUP):
        raise MalformedMessageError("XML DOCTYPE/ENTITY declarations are not allowed")
    root = _parse_with_depth_cap(data, max_depth)
    docinfo = root.getroottree().docinfo
    if getattr(docinfo, "doctype", ""):  # lxml-stubs lack DocInfo.doctype
        raise MalformedMessageError("XML DOCTYPE declarations are not allowed")
    return root


def _parse_with_depth_cap(data: bytes, max_depth: int) -> etree._Element:
    try:
        root: etree._Element = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        if "depth" in str(exc).lower():  # libxml2's own 256-level stop
            raise MalformedMessageError(f"XML nested deeper than {max_depth} elements") from None
        line, column = exc.position if exc.position else (0, 0)
        raise MalformedMessageError(f"XML not well-formed (line {line}, column {column})") from None
    if _deeper_than(max_depth)(root):
        raise MalformedMessageError(f"XML nested deeper than {max_depth} elements")
    return root


def serialize(element: etree._Element, *, xml_declaration: bool = True) -> bytes:
    """Serialize an element tree to UTF-8 bytes (with an XML declaration by default).

    Args:
        element: the root of what to write.
        xml_declaration: prefix ``<?xml version='1.0' encoding='UTF-8'?>``.

    Returns:
        The UTF-8 encoded document.
    """
    return etree.tostring(element, encoding="UTF-8", xml_declaration=xml_declaration)
