"""imx.audit."""
