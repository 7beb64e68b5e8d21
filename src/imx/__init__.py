"""imx: an imaging exchange gateway (IHE XCPD, XCA, XCA-I; DICOMweb; DIMSE)."""

__version__ = "0.1.0"
