"""Domain model: frozen dataclasses shared by every layer.

Owns the spec-shaped value types (patients, studies, series, instances,
document entries, queries). Must not import anything from imx except
``imx.errors``, and no framework or I/O library.
"""
