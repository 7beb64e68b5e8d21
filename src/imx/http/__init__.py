"""imx.http."""
