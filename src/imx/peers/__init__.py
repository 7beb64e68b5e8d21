"""imx.peers."""
