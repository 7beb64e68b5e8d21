"""XSD validation of messages against the schemas shipped in this folder.

Compiled lazily once per schema (HL7 v3 schemas take a second to compile) and cached.
Errors raise ``MalformedMessageError`` with the element path only, never the offending
value (schema messages echo values, which may be PHI).
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

from lxml import etree

from imx.errors import MalformedMessageError

__all__ = ["SCHEMAS", "validate"]

_HERE = Path(__file__).parent
SCHEMAS: dict[str, str] = {
    "query": "xds-xdsi/ebRS/query.xsd",
    "rs": "xds-xdsi/ebRS/rs.xsd",
    "xds-b": "xds-xdsi/IHE/XDS.b_DocumentRepository.xsd",
    "xdsi-b": "xds-xdsi/IHE/XDSI.b_ImagingDocumentSource.xsd",
    "prpa-201305": "hl7v3/HL7V3/NE2008/multicacheschemas/PRPA_IN201305UV02.xsd",
    "prpa-201306": "hl7v3/HL7V3/NE2008/multicacheschemas/PRPA_IN201306UV02.xsd",
    "mcci-000002": "hl7v3/HL7V3/NE2008/multicacheschemas/MCCI_IN000002UV01.xsd",
    "saml-assertion": "saml/sstc-saml-schema-assertion-2.0.xsd",
    "xua-assertion": "saml/xua-assertion.xsd",  # SAML 2.0 + the hl7:CE used by XUA attributes
    "audit": "audit/dicom2017c.xsd",
    "soap-envelope": "soap/soap-1.2-envelope.xsd",
}
_cache: dict[str, etree.XMLSchema] = {}
_lock = threading.Lock()
_QUOTED = re.compile(r"'[^']*'")


def _schema(name: str) -> etree.XMLSchema:
    with _lock:
        if name not in _cache:
            if name not in SCHEMAS:
                raise KeyError(f"unknown schema {name!r}")
            parser = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)
            doc = etree.parse(str(_HERE / SCHEMAS[name]), parser)
            _cache[name] = etree.XMLSchema(doc)
        return _cache[name]


def validate(element: etree._Element, schema: str) -> None:
    """Validate ``element`` (a message body root) against a named schema.

    Raises:
        MalformedMessageError: the first violation, with values removed.
    """
    xsd = _schema(schema)
    if xsd.validate(element):
        return
    error = xsd.error_log.last_error
    message = _QUOTED.sub("'…'", error.message if error else "schema violation")
    path = error.path if error else ""
    raise MalformedMessageError(f"{schema} schema: {message} at {path}"[:300])
