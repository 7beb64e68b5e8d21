"""imx.wire: generic, I/O-free codecs for the bytes on the wire.

Owns the hardened XML parser (``xml``), SOAP 1.2 envelopes, WS-Addressing and faults, MTOM/XOP
and multipart/related streams, XSD validation against the schemas shipped in ``schemas/``, and
datatype builders shared by transactions (HL7 v3, ebRIM, DTM). Imports only ``imx.errors`` and
lxml: never transactions, services, adapters or frameworks (CONVENTIONS §2).
"""
