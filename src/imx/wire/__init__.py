"""imx.wire."""
