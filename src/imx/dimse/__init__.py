"""imx.dimse."""
