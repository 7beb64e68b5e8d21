"""The demographics the matcher compares (a flat, hashable view of an XCPD query or a patient)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

__all__ = ["SSN_ROOT", "Demographics"]

# US Social Security Number assigning authority (HL7 OID registry).
SSN_ROOT = "2.16.840.1.113883.4.1"


@dataclass(frozen=True, slots=True, kw_only=True)
class Demographics:
    """One person's demographics as given; empty values mean "not sent / unknown".

    ``identifiers`` are ``(root, extension)`` pairs (HL7v3 II); ``sex`` is the HL7
    AdministrativeGender code ``M`` / ``F`` / ``UN`` or ``""``.
    """

    given_names: tuple[str, ...] = ()
    family_name: str = ""
    birth_date: dt.date | None = None
    sex: str = ""
    address_lines: tuple[str, ...] = ()
    city: str = ""
    state: str = ""
    postal_code: str = ""
    telecom: tuple[str, ...] = ()
    identifiers: tuple[tuple[str, str], ...] = ()
    mothers_maiden_name: str = ""
