"""Registry errors as model values (ebRS 3.0 RegistryError; ITI TF-3 4.2.4)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RegistryErrorItem"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RegistryErrorItem:
    """One RegistryError. ``code_context`` must carry no PHI; it is cut to a safe length."""

    error_code: str  # e.g. "XDSUnknownPatientId"
    code_context: str
    location: str = ""  # XCA: the responding community's home community ID
    is_warning: bool = False
