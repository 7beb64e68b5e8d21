"""imx.transactions."""
