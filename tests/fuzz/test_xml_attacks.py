"""The XML attack set: every one is MalformedMessageError, fast, at every XML entry point."""

from __future__ import annotations

import time

import pytest

from imx.errors import MalformedMessageError
from imx.wire.mtom import parse_http_body
from imx.wire.xml import parse_xml

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<lolz>&lol9;</lolz>"""
QUADRATIC = (
    b'<?xml version="1.0"?><!DOCTYPE k [<!ENTITY a "'
    + b"x" * 50000
    + b'">]><k>'
    + b"&a;" * 5000
    + b"</k>"
)
XXE_FILE = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'
XXE_HTTP = (
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "http://127.0.0.1:9/x">]><r>&x;</r>'
)
PARAMETER_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p SYSTEM "http://127.0.0.1:9/evil.dtd"> %p;]>'
    b"<r/>"
)
EXTERNAL_DTD = b'<?xml version="1.0"?><!DOCTYPE r SYSTEM "http://127.0.0.1:9/x.dtd"><r/>'
INTERNAL_SUBSET = b'<!DOCTYPE r [<!ELEMENT r ANY><!ATTLIST r a CDATA "d">]><r/>'
UTF16_DOCTYPE = '<!DOCTYPE r [<!ENTITY x "y">]><r>&x;</r>'.encode("utf-16")
UTF7_DOCTYPE = b'<?xml version="1.0" encoding="UTF-7"?>+ADw-!DOCTYPE r+AD4-<r/>'
SOAP_WRAPPED_XXE = (
    b'<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/hostname">]>'
    b'<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body><a>&x;</a>'
    b"</soap:Body></soap:Envelope>"
)
DEEP = b"<a>" * 100_000 + b"</a>" * 100_000
OVERSIZED = b"<a>" + b"x" * (17 * 1024 * 1024) + b"</a>"
UNDECLARED_ENTITY = b"<r>&x;</r>"

ATTACKS = {
    "billion_laughs": BILLION_LAUGHS,
    "quadratic_blowup": QUADRATIC,
    "xxe_file": XXE_FILE,
    "xxe_http": XXE_HTTP,
    "parameter_entity": PARAMETER_ENTITY,
    "external_dtd": EXTERNAL_DTD,
    "internal_subset": INTERNAL_SUBSET,
    "utf16_doctype": UTF16_DOCTYPE,
    "utf7_doctype": UTF7_DOCTYPE,
    "soap_wrapped_xxe": SOAP_WRAPPED_XXE,
    "deep_nesting": DEEP,
    "oversized": OVERSIZED,
    "undeclared_entity": UNDECLARED_ENTITY,
}


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_parse_xml_rejects_fast(name: str) -> None:
    started = time.perf_counter()
    with pytest.raises(MalformedMessageError) as info:
        parse_xml(ATTACKS[name])
    assert time.perf_counter() - started < 1.0
    assert "passwd" not in info.value.detail and "root:" not in info.value.detail


@pytest.mark.parametrize("name", sorted(ATTACKS))
async def test_plain_soap_entry_rejects(name: str) -> None:
    with pytest.raises(MalformedMessageError):
        await parse_http_body("application/soap+xml", [ATTACKS[name]])


@pytest.mark.parametrize("name", ["billion_laughs", "xxe_file", "soap_wrapped_xxe", "deep_nesting"])
async def test_mtom_root_part_rejects(name: str) -> None:
    body = (
        b"--b\r\nContent-Type: application/xop+xml\r\nContent-ID: <r@x>\r\n\r\n"
        + ATTACKS[name]
        + b"\r\n--b--\r\n"
    )
    ctype = 'multipart/related; type="application/xop+xml"; boundary=b; start="<r@x>"'
    with pytest.raises(MalformedMessageError):
        await parse_http_body(ctype, [body])
