"""ATNA audit: DICOM PS3.15 audit messages, RFC 5424/5425 syslog, the shipper, FHIR view.

Pure encoders (``events``, ``message``, ``syslog``, ``fhir``) and two adapters: ``sink``
(store + enqueue through a journal) and ``shipper`` (the TLS client). Storage is reached
only through the small protocols declared here (``AuditJournal``, ``AuditOutbox``):
this package must not import ``imx.storage``, ``imx.security`` or the edges.
"""
