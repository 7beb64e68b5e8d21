"""ebRIM 3.0 / ebRS 3.0 building blocks shared by XCA transactions (ITI TF-3 4.2.3, ITI TF-2a 3.18).

Pure lxml builders and readers: Slot, Name/LocalizedString, Classification,
ExternalIdentifier, RegistryError; the value encodings of stored query slots
(ITI TF-2a 3.18.4.1.2.3.5: quoted strings, parenthesised lists).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from lxml import etree

from imx.errors import MalformedMessageError

__all__ = [
    "NS_LCM",
    "NS_QUERY",
    "NS_RIM",
    "NS_RS",
    "classification",
    "external_identifier",
    "localized_name",
    "parse_query_list",
    "parse_query_value",
    "quote_query_value",
    "rim",
    "slot",
    "slot_values",
]

NS_RIM = "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"
NS_QUERY = "urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0"
NS_RS = "urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0"
NS_LCM = "urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0"

Element = etree._Element


def rim(tag: str) -> str:
    """Clark name of an ebRIM element."""
    return f"{{{NS_RIM}}}{tag}"


def slot(name: str, values: Iterable[str]) -> Element:
    """``<rim:Slot name=..><rim:ValueList><rim:Value>..`` (ebRIM 3.0 §4.2.1)."""
    el = etree.Element(rim("Slot"), name=name)
    vl = etree.SubElement(el, rim("ValueList"))
    for v in values:
        etree.SubElement(vl, rim("Value")).text = v
    return el


def localized_name(tag: str, value: str) -> Element:
    """``<rim:Name|Description><rim:LocalizedString value=../>``."""
    el = etree.Element(rim(tag))
    etree.SubElement(el, rim("LocalizedString"), value=value)
    return el


def classification(*, classification_scheme: str, classified_object: str, node_representation: str,
                   object_id: str, coding_scheme: str | None = None, display_name: str | None = None,
                   slots: Sequence[Element] = ()) -> Element:
    """An external classification (ITI TF-3 4.2.3.1.7 coded attributes)."""
    el = etree.Element(
        rim("Classification"), id=object_id, objectType=(
            "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Classification"),
        classificationScheme=classification_scheme, classifiedObject=classified_object,
        nodeRepresentation=node_representation,
    )
    # ebRIM element order: Slot*, Name?, Description?, ...
    for s in slots:
        el.append(s)
    if coding_scheme is not None:
        el.append(slot("codingScheme", [coding_scheme]))
    if display_name is not None:
        el.append(localized_name("Name", display_name))
    return el


def external_identifier(*, identification_scheme: str, registry_object: str, value: str,
                        object_id: str, name: str) -> Element:
    """``<rim:ExternalIdentifier>`` (ITI TF-3 4.2.3.1.7, patientId / uniqueId)."""
    el = etree.Element(
        rim("ExternalIdentifier"), id=object_id, objectType=(
            "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:ExternalIdentifier"),
        identificationScheme=identification_scheme, registryObject=registry_object, value=value,
    )
    el.append(localized_name("Name", name))
    return el


def slot_values(parent: Element) -> dict[str, list[str]]:
    """All ``rim:Slot`` children of ``parent`` as name -> values (repeated slots concatenated
    in document order, keeping each slot's values as separate entries)."""
    out: dict[str, list[str]] = {}
    for s in parent.iterchildren(rim("Slot")):
        name = s.get("name")
        if not name:
            raise MalformedMessageError("rim:Slot without a name")
        values = [(v.text or "").strip() for v in s.iter(rim("Value"))]
        out.setdefault(name, []).extend(values)
    return out


_QUOTED = re.compile(r"^'((?:[^']|'')*)'$")


def parse_query_value(raw: str) -> str:
    """One stored-query value: ``'text'`` → ``text`` (ITI TF-2a 3.18.4.1.2.3.5; '' escapes ')."""
    raw = raw.strip()
    m = _QUOTED.match(raw)
    if m is None:
        # Numbers and DTM values are unquoted (ITI TF-2a 3.18.4.1.2.3.5).
        if raw and "'" not in raw and "(" not in raw:
            return raw
        raise MalformedMessageError("stored query value is not a quoted string")
    return m.group(1).replace("''", "'")


def parse_query_list(raw: str) -> list[str]:
    """``('a','b')`` → ``['a', 'b']``; a bare ``'a'`` is accepted as a one-element list."""
    raw = raw.strip()
    if raw.startswith("(") and raw.endswith(")"):
        raw = raw[1:-1]
    items: list[str] = []
    buf: list[str] = []
    in_quote = False
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "'":
            if in_quote and i + 1 < len(raw) and raw[i + 1] == "'":
                buf.append("''")
                i += 2
                continue
            in_quote = not in_quote
            buf.append(ch)
        elif ch == "," and not in_quote:
            items.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
        i += 1
    if in_quote:
        raise MalformedMessageError("unterminated quoted value in stored query list")
    if "".join(buf).strip():
        items.append("".join(buf))
    return [parse_query_value(item) for item in items if item.strip()]


def quote_query_value(value: str) -> str:
    """Inverse of ``parse_query_value``."""
    return "'" + value.replace("'", "''") + "'"
