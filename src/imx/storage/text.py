"""Normalisation of names for case- and accent-insensitive matching (PS3.4 C.2.2.2.1 PN)."""

from __future__ import annotations

import unicodedata

__all__ = ["fold", "wildcard_to_like"]


def fold(value: str) -> str:
    """Upper-case without accents: 'Ó Briain^Zoë' -> 'O BRIAIN^ZOE'."""
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).upper()


def wildcard_to_like(pattern: str) -> str:
    """DICOM ``*``/``?`` wildcards to a SQL LIKE pattern with ``\\`` as the escape."""
    out = []
    for ch in pattern:
        if ch == "*":
            out.append("%")
        elif ch == "?":
            out.append("_")
        elif ch in "%_\\":
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)
