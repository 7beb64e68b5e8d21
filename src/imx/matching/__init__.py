"""imx.matching."""
