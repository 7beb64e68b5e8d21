"""imx.security."""
