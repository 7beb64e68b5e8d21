"""imx.cli."""
