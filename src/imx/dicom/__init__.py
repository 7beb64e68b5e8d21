"""Pure DICOM helpers (pydicom only, no I/O): Part-10 framing, header extraction,
KOS manifest building, DICOM JSON, transfer-syntax handling, rendering.

Pure core: must not import adapters, edges, services or frameworks.
"""

from pydicom import config as _pydicom_config

# imx validates identifying values itself (imx.dicom.header, PS3.5 9.1) and rejects with a
# reason; pydicom's own read-time warnings about other values would only add noise (and
# real-world files are full of minor VR violations that must still be stored unchanged).
_pydicom_config.settings.reading_validation_mode = _pydicom_config.IGNORE
