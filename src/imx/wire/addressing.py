"""WS-Addressing 1.0 SOAP binding headers (W3C WS-Addressing 1.0 Core §3, SOAP Binding §2).

Parsing tolerates what real initiators send (shared/peers/README.md): whitespace around the
Action (dicomtrolley sends a trailing space), a ``To`` that is not our URL (it is recorded,
never enforced), and the 2004/08 member-submission namespace. Building follows SPEC-NOTES 1.3:
Action and To carry ``mustUnderstand``; synchronous requests reply to the anonymous address.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from lxml import etree

from imx.errors import MalformedMessageError
from imx.wire.soap import NS_SOAP12, soap

__all__ = [
    "ANONYMOUS",
    "NS_WSA",
    "UNDERSTOOD_HEADERS",
    "AddressingHeaders",
    "build_request_headers",
    "build_response_headers",
    "parse_addressing",
    "wsa",
]

NS_WSA: Final = "http://www.w3.org/2005/08/addressing"
NS_WSA_2004: Final = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
ANONYMOUS: Final = "http://www.w3.org/2005/08/addressing/anonymous"
_NAMESPACES: Final = (NS_WSA, NS_WSA_2004)
_MAX_URI_CHARS: Final = 2048

Element = etree._Element


def wsa(local: str) -> str:
    """Clark name of a WS-Addressing 1.0 element."""
    return f"{{{NS_WSA}}}{local}"


@dataclass(frozen=True, slots=True, kw_only=True)
class AddressingHeaders:
    """The message addressing properties of one SOAP message (Core §3.1).

    ``action`` is stripped of surrounding whitespace; the others are None when absent.
    """

    action: str
    message_id: str | None = None
    to: str | None = None
    reply_to: str | None = None
    relates_to: str | None = None


_HEADER_NAMES: Final = ("Action", "MessageID", "To", "ReplyTo", "RelatesTo", "From", "FaultTo")
#: Header block names this module processes (pass to ``soap.check_must_understand``).
UNDERSTOOD_HEADERS: Final = frozenset(f"{{{ns}}}{n}" for ns in _NAMESPACES for n in _HEADER_NAMES)
# The qualified names of each header in every accepted WS-Addressing namespace.
_TAGS: Final = {n: frozenset(f"{{{ns}}}{n}" for ns in _NAMESPACES) for n in _HEADER_NAMES}


def _text(block: Element, name: str) -> str:
    value = "".join(str(t) for t in block.itertext()).strip()
    if len(value) > _MAX_URI_CHARS:
        raise MalformedMessageError(f"wsa:{name} longer than {_MAX_URI_CHARS} characters")
    return value


def _find(headers: Sequence[Element], name: str) -> str | None:
    tags = _TAGS[name]
    values = {_text(h, name) for h in headers if h.tag in tags}
    if len(values) > 1:
        # SOAP Binding §6.4.1 InvalidAddressingHeader (identical duplicates are tolerated:
        # zeep with its WSA plugin repeats the same headers).
        raise MalformedMessageError(f"conflicting wsa:{name} headers")
    return values.pop() if values else None


def _reply_to(headers: Sequence[Element]) -> str | None:
    for h in headers:
        if h.tag in _TAGS["ReplyTo"]:
            address = next(
                (a for a in h if a.tag == f"{{{etree.QName(h).namespace}}}Address"), None
            )
            return _text(address, "ReplyTo/Address") if address is not None else None
    return None


def parse_addressing(
    headers: Sequence[Element], *, require_action: bool = True
) -> AddressingHeaders:
    """Read the WS-Addressing headers among a message's SOAP header blocks.

    Args:
        headers: the element children of env:Header.
        require_action: raise when wsa:Action is absent (a responder dispatches on it).

    Returns:
        The addressing properties.

    Raises:
        MalformedMessageError: Action missing or empty, or conflicting duplicates.
    """
    action = _find(headers, "Action")
    if require_action and not action:
        raise MalformedMessageError("wsa:Action header missing")
    return AddressingHeaders(
        action=action or "",
        message_id=_find(headers, "MessageID"),
        to=_find(headers, "To"),
        reply_to=_reply_to(headers),
        relates_to=_find(headers, "RelatesTo"),
    )


def _block(local: str, text: str, *, must_understand: bool = False) -> Element:
    el = etree.Element(wsa(local), nsmap={"wsa": NS_WSA, "soap": NS_SOAP12})
    el.text = text
    if must_understand:
        el.set(soap("mustUnderstand"), "1")  # SPEC-NOTES 1.3: mustUnderstand="1"
    return el


def build_request_headers(action: str, to: str, message_id: str) -> list[Element]:
    """Request headers: Action (mU), MessageID, anonymous ReplyTo, To (mU) (SPEC-NOTES 1.3).

    Args:
        action: the request action URI.
        to: the endpoint URL.
        message_id: a unique URI, normally ``urn:uuid:<uuid>``.

    Returns:
        The header blocks, in that order.
    """
    reply_to = etree.Element(wsa("ReplyTo"), nsmap={"wsa": NS_WSA})
    etree.SubElement(reply_to, wsa("Address")).text = ANONYMOUS
    return [
        _block("Action", action, must_understand=True),
        _block("MessageID", message_id),
        reply_to,
        _block("To", to, must_understand=True),
    ]


def build_response_headers(action: str, relates_to: str | None, message_id: str) -> list[Element]:
    """Response headers: Action (mU), MessageID, RelatesTo (the request's MessageID).

    Args:
        action: the response action URI.
        relates_to: the request's MessageID; omitted when the request had none.
        message_id: a unique URI for this response.

    Returns:
        The header blocks, in that order.
    """
    blocks = [_block("Action", action, must_understand=True), _block("MessageID", message_id)]
    if relates_to:
        blocks.append(_block("RelatesTo", relates_to))
    return blocks
