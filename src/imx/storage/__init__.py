"""imx.storage."""
