"""Use cases (async). See only ``imx.ports``, ``imx.model``, ``imx.dicom``, ``imx.matching``,
``imx.errors`` and ``imx.settings``; never an adapter or a framework.
"""
