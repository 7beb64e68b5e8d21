"""SOAP 1.2 faults (W3C SOAP 1.2 Part 1 §5.4): build and parse ``env:Fault``.

Fault reasons go to peers and logs: callers pass PHI-free text (CONVENTIONS §4).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from lxml import etree

from imx.errors import MalformedMessageError
from imx.wire.soap import NS_SOAP12, build_envelope, soap

__all__ = [
    "FaultCode",
    "SoapFault",
    "build_fault",
    "build_must_understand_envelope",
    "build_version_mismatch_envelope",
    "parse_fault",
]

FaultCode = Literal[
    "Sender", "Receiver", "VersionMismatch", "MustUnderstand", "DataEncodingUnknown"
]
_CODES: Final = frozenset(
    {"Sender", "Receiver", "VersionMismatch", "MustUnderstand", "DataEncodingUnknown"}
)
_XML_LANG: Final = "{http://www.w3.org/XML/1998/namespace}lang"
_MAX_REASON_CHARS: Final = 1024

Element = etree._Element


@dataclass(frozen=True, slots=True, kw_only=True)
class SoapFault:
    """A parsed env:Fault.

    Attributes:
        code: the local name of env:Code/env:Value (``Sender``, ``Receiver``, ...).
        subcodes: Clark names of nested env:Subcode values, outermost first.
        reason: the first env:Reason/env:Text.
        detail: the env:Detail element, if any.
    """

    code: str
    subcodes: tuple[str, ...]
    reason: str
    detail: Element | None = None


def _subcode_qname(subcode: str, fault: Element) -> str:
    """Write a subcode QName: Clark ``{ns}local`` gets a prefix declared; else kept as given."""
    if not subcode.startswith("{"):
        return subcode
    qname = etree.QName(subcode)
    prefix = next((p for p, ns in fault.nsmap.items() if ns == qname.namespace and p), None)
    if prefix is None:
        raise ValueError("subcode namespace must be declared via build_fault(nsmap=...)")
    return f"{prefix}:{qname.localname}"


def build_fault(
    code: FaultCode,
    subcode: str | None,
    reason: str,
    *,
    lang: str = "en",
    nsmap: dict[str, str] | None = None,
    detail: Element | None = None,
) -> Element:
    """Build an env:Fault (Part 1 §5.4) with xml:lang on the reason text.

    Args:
        code: one of the SOAP 1.2 fault codes (Part 1 §5.4.6).
        subcode: a QName, either ``prefix:local`` or Clark ``{ns}local`` (its namespace must
            then be in ``nsmap``); None for no subcode.
        reason: PHI-free human-readable text.
        lang: the xml:lang of the reason.
        nsmap: extra prefixes to declare on the Fault (for the subcode QName).
        detail: an element to place in env:Detail.

    Returns:
        The env:Fault element.
    """
    if code not in _CODES:
        raise ValueError(f"not a SOAP 1.2 fault code: {code}")
    fault = etree.Element(soap("Fault"), nsmap={"soap": NS_SOAP12, **(nsmap or {})})
    code_el = etree.SubElement(fault, soap("Code"))
    etree.SubElement(code_el, soap("Value")).text = f"soap:{code}"
    if subcode:
        sub = etree.SubElement(code_el, soap("Subcode"))
        etree.SubElement(sub, soap("Value")).text = _subcode_qname(subcode, fault)
    text = etree.SubElement(etree.SubElement(fault, soap("Reason")), soap("Text"))
    text.set(_XML_LANG, lang)
    text.text = reason[:_MAX_REASON_CHARS]
    if detail is not None:
        etree.SubElement(fault, soap("Detail")).append(detail)
    return fault


def _resolve(value_el: Element) -> str:
    raw = (value_el.text or "").strip()
    prefix, sep, local = raw.rpartition(":")
    namespace = value_el.nsmap.get(prefix if sep else None)
    return f"{{{namespace}}}{local}" if namespace else raw


def parse_fault(fault: Element) -> SoapFault:
    """Read an env:Fault element.

    Raises:
        MalformedMessageError: not a SOAP 1.2 Fault, or Code/Reason missing.
    """
    if fault.tag != soap("Fault"):
        raise MalformedMessageError("not a SOAP 1.2 Fault")
    value = fault.find(f"{soap('Code')}/{soap('Value')}")
    text = fault.find(f"{soap('Reason')}/{soap('Text')}")
    if value is None or text is None:
        raise MalformedMessageError("SOAP Fault without Code or Reason")
    code = _resolve(value)
    subcodes: list[str] = []
    sub = fault.find(f"{soap('Code')}/{soap('Subcode')}")
    while sub is not None and len(subcodes) < 8:
        sub_value = sub.find(soap("Value"))
        if sub_value is None:
            break
        subcodes.append(_resolve(sub_value))
        sub = sub.find(soap("Subcode"))
    # A Clark name is "{ns}local": the local part is what follows the closing brace (QName()
    # would raise ValueError on a value that only looks like one).
    return SoapFault(
        code=code.rpartition("}")[2] if code.startswith("{") else code.rpartition(":")[2],
        subcodes=tuple(subcodes),
        reason=(text.text or "").strip(),
        detail=fault.find(soap("Detail")),
    )


def build_version_mismatch_envelope() -> Element:
    """The reply to a non-SOAP-1.2 envelope: VersionMismatch plus env:Upgrade (Part 1 §5.4.7)."""
    upgrade = etree.Element(soap("Upgrade"), nsmap={"soap": NS_SOAP12})
    supported = etree.SubElement(upgrade, soap("SupportedEnvelope"))
    supported.set("qname", "soap:Envelope")  # the "soap" prefix is declared on Upgrade
    fault = build_fault("VersionMismatch", None, "Only SOAP 1.2 envelopes are accepted")
    return build_envelope(fault, [upgrade])


def build_must_understand_envelope(not_understood: Sequence[str]) -> Element:
    """MustUnderstand fault with one env:NotUnderstood header per block (Part 1 §5.4.8)."""
    headers = []
    for i, clark in enumerate(not_understood):
        name = etree.QName(clark)
        nsmap = {"soap": NS_SOAP12, f"n{i}": name.namespace or ""}
        block = etree.Element(soap("NotUnderstood"), nsmap=nsmap)
        block.set("qname", f"n{i}:{name.localname}")
        headers.append(block)
    fault = build_fault("MustUnderstand", None, "Mandatory SOAP header block not understood")
    return build_envelope(fault, headers)
