"""Pure DICOM helpers (pydicom only, no I/O): Part-10 framing, header extraction,
KOS manifest building, DICOM JSON, transfer-syntax handling, rendering.

Pure core: must not import adapters, edges, services or frameworks.
"""
