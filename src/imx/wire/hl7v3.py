"""HL7 v3 datatype builders and readers (HL7 V3 Data Types R1: II, PN, AD, TEL, TS, CE).

Pure lxml; shared by XCPD messages. Element names are in ``urn:hl7-org:v3``.
"""

from __future__ import annotations

import datetime as dt
import re

from lxml import etree

from imx.errors import MalformedMessageError
from imx.model.patient_discovery import Address, InstanceIdentifier, PersonName

__all__ = [
    "NS_HL7",
    "build_ad",
    "build_ii",
    "build_pn",
    "format_ts",
    "hl7",
    "parse_ad",
    "parse_ii",
    "parse_pn",
    "parse_ts_date",
    "sub",
]

NS_HL7 = "urn:hl7-org:v3"
Element = etree._Element


def hl7(tag: str) -> str:
    return f"{{{NS_HL7}}}{tag}"


def sub(parent: Element, tag: str, **attrs: str) -> Element:
    """A child element in the HL7 v3 namespace."""
    return etree.SubElement(parent, hl7(tag), **attrs)


def build_ii(parent: Element, tag: str, ii: InstanceIdentifier) -> Element:
    attrs = {"root": ii.root}
    if ii.extension:
        attrs["extension"] = ii.extension
    return etree.SubElement(parent, hl7(tag), **attrs)


def parse_ii(el: Element | None) -> InstanceIdentifier | None:
    if el is None or not el.get("root"):
        return None
    return InstanceIdentifier(root=el.get("root", "").strip(),
                              extension=(el.get("extension") or "").strip())


def build_pn(parent: Element, tag: str, name: PersonName) -> Element:
    # PN part order: prefix, given*, family, suffix (free order in R1; keep the common one).
    el = etree.SubElement(parent, hl7(tag))
    if name.prefix:
        etree.SubElement(el, hl7("prefix")).text = name.prefix
    for g in name.given:
        etree.SubElement(el, hl7("given")).text = g
    if name.family:
        etree.SubElement(el, hl7("family")).text = name.family
    if name.suffix:
        etree.SubElement(el, hl7("suffix")).text = name.suffix
    return el


def _texts(el: Element, tag: str) -> list[str]:
    return [" ".join((c.text or "").split()) for c in el.iterchildren(hl7(tag)) if (c.text or "").strip()]


def parse_pn(el: Element) -> PersonName:
    family = _texts(el, "family")
    prefix = _texts(el, "prefix")
    suffix = _texts(el, "suffix")
    return PersonName(given=tuple(_texts(el, "given")), family=" ".join(family),
                      prefix=" ".join(prefix), suffix=" ".join(suffix))


def build_ad(parent: Element, tag: str, addr: Address) -> Element:
    el = etree.SubElement(parent, hl7(tag))
    for line in addr.street_lines:
        etree.SubElement(el, hl7("streetAddressLine")).text = line
    for part, value in (("city", addr.city), ("state", addr.state),
                        ("postalCode", addr.postal_code), ("country", addr.country)):
        if value:
            etree.SubElement(el, hl7(part)).text = value
    return el


def parse_ad(el: Element) -> Address:
    def one(tag: str) -> str:
        values = _texts(el, tag)
        return values[0] if values else ""

    return Address(street_lines=tuple(_texts(el, "streetAddressLine")), city=one("city"),
                   state=one("state"), postal_code=one("postalCode"), country=one("country"))


_TS = re.compile(r"^(\d{4})(\d{2})(\d{2})")


def parse_ts_date(value: str) -> dt.date:
    """The date part of an HL7 TS (``YYYYMMDD[hhmm...]``); a year-only TS is refused."""
    m = _TS.match(value.strip())
    if m is None:
        raise MalformedMessageError("birth time must be an HL7 TS with at least day precision")
    try:
        return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError as exc:
        raise MalformedMessageError("birth time is not a valid date") from exc


def format_ts(value: dt.datetime) -> str:
    """HL7 TS with seconds and UTC offset (``YYYYMMDDhhmmss+0000``)."""
    return value.astimezone(dt.UTC).strftime("%Y%m%d%H%M%S+0000")
