"""SOAP 1.2 envelopes (W3C SOAP 1.2 Part 1 §5): build, parse, and header processing rules.

Parsing is tolerant where real clients are sloppy (dicomtrolley puts a stray text node in the
Body: whitespace and text around the body element are ignored, the first element child is the
payload) and strict where the spec is: a SOAP 1.1 envelope is answered with a VersionMismatch
fault (Part 1 §5.4.7), and a header block marked ``mustUnderstand`` that we do not process
raises ``MustUnderstandError`` (Part 1 §5.2.3).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from lxml import etree

from imx.errors import MalformedMessageError

__all__ = [
    "NS_SOAP11",
    "NS_SOAP12",
    "ROLE_NEXT",
    "ROLE_ULTIMATE_RECEIVER",
    "MustUnderstandError",
    "SoapMessage",
    "VersionMismatchError",
    "build_envelope",
    "check_must_understand",
    "is_must_understand",
    "not_understood_headers",
    "header_blocks",
    "parse_envelope",
    "soap",
]

NS_SOAP12: Final = "http://www.w3.org/2003/05/soap-envelope"
NS_SOAP11: Final = "http://schemas.xmlsoap.org/soap/envelope/"
ROLE_NEXT: Final = "http://www.w3.org/2003/05/soap-envelope/role/next"
ROLE_ULTIMATE_RECEIVER: Final = "http://www.w3.org/2003/05/soap-envelope/role/ultimateReceiver"
_OUR_ROLES: Final = frozenset({"", ROLE_NEXT, ROLE_ULTIMATE_RECEIVER})

Element = etree._Element


def soap(local: str) -> str:
    """Clark name of a SOAP 1.2 element, e.g. ``soap("Body")``."""
    return f"{{{NS_SOAP12}}}{local}"


class VersionMismatchError(MalformedMessageError):
    """The envelope is not SOAP 1.2 (answer: env:VersionMismatch + env:Upgrade, Part 1 §5.4.7)."""


class MustUnderstandError(MalformedMessageError):
    """Header blocks marked mustUnderstand were not understood (Part 1 §5.4.8).

    ``not_understood`` holds their Clark names (element names, never values).
    """

    def __init__(self, detail: str = "", *, not_understood: Sequence[str] = ()) -> None:
        super().__init__(detail)
        self.not_understood = tuple(not_understood)


@dataclass(frozen=True, slots=True, kw_only=True)
class SoapMessage:
    """A parsed SOAP 1.2 envelope.

    Attributes:
        envelope: the env:Envelope element.
        headers: the header blocks (element children of env:Header), in order.
        body_child: the first element child of env:Body (the payload, or env:Fault).
    """

    envelope: Element
    headers: tuple[Element, ...]
    body_child: Element

    @property
    def is_fault(self) -> bool:
        """True when the body carries an env:Fault."""
        return self.body_child.tag == soap("Fault")

    def header(self, clark_name: str) -> Element | None:
        """The first header block with this Clark name, or None."""
        return next((h for h in self.headers if h.tag == clark_name), None)


def build_envelope(body: Element, headers: Iterable[Element] = ()) -> Element:
    """Wrap a payload in a SOAP 1.2 envelope.

    Args:
        body: the element to place in env:Body (moved, not copied).
        headers: header blocks for env:Header (omitted when empty).

    Returns:
        The env:Envelope element.
    """
    envelope = etree.Element(soap("Envelope"), nsmap={"soap": NS_SOAP12})
    blocks = list(headers)
    if blocks:
        header = etree.SubElement(envelope, soap("Header"))
        header.extend(blocks)
    etree.SubElement(envelope, soap("Body")).append(body)
    return envelope


def _element_children(parent: Element) -> list[Element]:
    # Comments/PIs are already dropped by parse_xml; skip them anyway for built trees.
    return [c for c in parent if isinstance(c.tag, str)]


def header_blocks(root: Element, children: list[Element] | None = None) -> tuple[Element, ...]:
    """The element children of the envelope's env:Header (first child), as ``parse_envelope``
    reads them; empty when there is no Header."""
    children = _element_children(root) if children is None else children
    if children and children[0].tag == soap("Header"):
        return tuple(_element_children(children[0]))
    return ()


def parse_envelope(root: Element) -> SoapMessage:
    """Read a SOAP 1.2 envelope (from ``wire.xml.parse_xml``).

    Args:
        root: the document element.

    Returns:
        The headers and the first element child of the Body.

    Raises:
        VersionMismatchError: a SOAP 1.1 (or other-namespace) Envelope.
        MalformedMessageError: not an envelope, no Body, an empty Body, or misplaced children.
    """
    qname = etree.QName(root)
    if qname.localname == "Envelope" and qname.namespace != NS_SOAP12:
        raise VersionMismatchError("SOAP envelope is not SOAP 1.2")
    if root.tag != soap("Envelope"):
        raise MalformedMessageError("document element is not a SOAP 1.2 Envelope")
    children = _element_children(root)
    headers = header_blocks(root, children)
    if children and children[0].tag == soap("Header"):
        children = children[1:]
    # Part 1 §5.1: Envelope = Header? Body, nothing after the Body.
    if len(children) != 1 or children[0].tag != soap("Body"):
        raise MalformedMessageError("SOAP Envelope must hold an optional Header and one Body")
    payload = _element_children(children[0])
    if not payload:
        raise MalformedMessageError("SOAP Body is empty")
    return SoapMessage(envelope=root, headers=headers, body_child=payload[0])


def is_must_understand(block: Element) -> bool:
    """Whether a header block is mandatory for us (Part 1 §5.2.3, §5.2.2 roles)."""
    flag = (block.get(soap("mustUnderstand")) or "").strip()
    role = (block.get(soap("role")) or "").strip()
    return flag in ("true", "1") and role in _OUR_ROLES


def not_understood_headers(message: SoapMessage, understood: Collection[str]) -> list[str]:
    """Clark names of mandatory header blocks not in ``understood``."""
    return [h.tag for h in message.headers if is_must_understand(h) and h.tag not in understood]


def check_must_understand(message: SoapMessage, understood: Collection[str]) -> None:
    """Raise when a mandatory header block is not understood (Part 1 §5.2.3).

    Raises:
        MustUnderstandError: listing the not-understood block names.
    """
    missing = not_understood_headers(message, understood)
    if missing:
        raise MustUnderstandError("mandatory SOAP header not understood", not_understood=missing)
