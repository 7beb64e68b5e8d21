"""Bulk import into the patient index (``imx patients import``): CSV and FHIR R4 Patients.

Everything streams: rows and resources are parsed one at a time and written in batches,
so a file of a million people never holds a million objects (a FHIR Bundle is read entry by
entry with an incremental JSON decoder, not ``json.load``). A row that cannot be imported is
reported by its position and a PHI-free reason, and the import goes on.

CSV columns (header row required, UTF-8, any order; only ``patient_id`` is required):
``patient_id, issuer, family, given, middle, prefix, suffix, birth_date (YYYY-MM-DD or
YYYYMMDD), sex (M/F/O/U), street, street2, city, state, postal_code, country, phone, email,
mothers_maiden_name, ssn, other_ids`` (``other_ids``: CX values ``id^^^&oid&ISO`` joined
with ``~``). FHIR: a ``Bundle`` (``.json``) or NDJSON with one ``Patient`` per line
(``.ndjson``, FHIR Bulk Data); identifiers with system ``urn:oid:<issuer>`` (our issuer:
the patient's ID, others kept as other IDs), ``http://hl7.org/fhir/sid/us-ssn`` for SSN.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TextIO

from imx.matching.model import SSN_ROOT
from imx.model.identifiers import PatientId, is_valid_oid, parse_cx
from imx.model.mpi import MpiPatient, MpiSource
from imx.model.patient_discovery import Address, PatientDemographics, PersonName
from imx.ports import PatientIndex

__all__ = [
    "CSV_COLUMNS",
    "ImportRejection",
    "ImportSummary",
    "import_patients",
    "parse_csv",
    "parse_fhir_bundle",
    "parse_fhir_ndjson",
    "patient_from_fhir",
]

CSV_COLUMNS = (
    "patient_id", "issuer", "family", "given", "middle", "prefix", "suffix", "birth_date",
    "sex", "street", "street2", "city", "state", "postal_code", "country", "phone", "email",
    "mothers_maiden_name", "ssn", "other_ids",
)
_SEX = {"M": "M", "F": "F", "O": "UN", "U": "", "": "", "MALE": "M", "FEMALE": "F",
        "OTHER": "UN", "UNKNOWN": ""}
_SSN_SYSTEM = "http://hl7.org/fhir/sid/us-ssn"
_MAIDEN = "http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName"


@dataclass(frozen=True, slots=True)
class ImportRejection:
    """A row or resource not imported: where (1-based row / entry number) and why (no PHI)."""

    position: int
    reason: str


@dataclass(slots=True)
class ImportSummary:
    imported: int = 0
    rejected: int = 0
    skipped: int = 0  # FHIR resources other than Patient


def _date(value: str) -> dt.date | None:
    v = value.strip()
    if not v:
        return None
    if len(v) == 8 and v.isdigit():
        v = f"{v[:4]}-{v[4:6]}-{v[6:]}"
    return dt.date.fromisoformat(v[:10])  # ValueError: rejected


def _phone(value: str) -> str:
    v = value.strip()
    return v if v.startswith("tel:") or not v else f"tel:{v}"


def _csv_row(row: dict[str, str], issuer: str) -> MpiPatient:
    def col(name: str) -> str:
        return (row.get(name) or "").strip()

    if not col("patient_id"):
        raise ValueError("patient_id is empty")
    ids = [PatientId(id=col("ssn"), assigning_authority=SSN_ROOT)] if col("ssn") else []
    ids += [parse_cx(cx) for cx in col("other_ids").split("~") if cx.strip()]
    sex = col("sex").upper()
    if sex not in _SEX:
        raise ValueError("sex is not M, F, O or U")
    given = tuple(g for g in (col("given"), col("middle")) if g)
    has_addr = any(col(c) for c in ("street", "city", "state", "postal_code"))
    return MpiPatient(
        patient_id=PatientId(id=col("patient_id"), assigning_authority=col("issuer") or issuer),
        source=MpiSource.IMPORT,
        demographics=PatientDemographics(
            names=(PersonName(family=col("family"), given=given, prefix=col("prefix"),
                              suffix=col("suffix")),) if col("family") or given else (),
            gender=_SEX[sex], birth_date=_date(col("birth_date")),
            addresses=(Address(street_lines=tuple(x for x in (col("street"), col("street2")) if x),
                               city=col("city"), state=col("state"),
                               postal_code=col("postal_code"), country=col("country")),)
            if has_addr else (),
            telecoms=tuple(t for t in (_phone(col("phone")),
                                       f"mailto:{col('email')}" if col("email") else "") if t),
            ids=tuple(ids),
            mothers_maiden_name=PersonName(family=col("mothers_maiden_name"))
            if col("mothers_maiden_name") else None))


def parse_csv(lines: Iterable[str], *, issuer: str) -> Iterator[MpiPatient | ImportRejection]:
    """Rows of a patient CSV (see the module docstring), one at a time.

    Raises:
        ValueError: no header, no ``patient_id`` column, or an unknown column.
    """
    reader = csv.DictReader(lines)
    header = reader.fieldnames or []
    unknown = [h for h in header if h not in CSV_COLUMNS]
    if "patient_id" not in header or unknown:
        raise ValueError(f"CSV header needs patient_id and only {', '.join(CSV_COLUMNS)}"
                         + (f"; unknown: {', '.join(unknown)[:200]}" if unknown else ""))
    for n, row in enumerate(reader, start=1):
        try:
            yield _csv_row(row, issuer)
        except ValueError as exc:
            yield ImportRejection(n, str(exc).split(":")[0][:120])


def _fhir_ids(resource: dict[str, Any], issuer: str) -> tuple[PatientId, list[PatientId]]:
    ids: list[PatientId] = []
    for ident in resource.get("identifier") or []:
        system, value = str(ident.get("system") or ""), str(ident.get("value") or "").strip()
        if not value:
            continue
        if system == _SSN_SYSTEM:
            ids.append(PatientId(id=value, assigning_authority=SSN_ROOT))
        elif system.startswith("urn:oid:") and is_valid_oid(system[8:]):
            ids.append(PatientId(id=value, assigning_authority=system[8:]))
        elif system:
            ids.append(PatientId(id=value, assigning_authority=system))
    own = next((i for i in ids if i.assigning_authority == issuer), None)
    own = own or next((i for i in ids if i.assigning_authority != SSN_ROOT), None)
    if own is None:
        raise ValueError("no identifier with a system other than SSN")
    return own, [i for i in ids if i != own]


def _pick(items: list[dict[str, Any]], use: str) -> dict[str, Any]:
    return next((x for x in items if x.get("use") == use), items[0]) if items else {}


def patient_from_fhir(resource: dict[str, Any], *, issuer: str) -> MpiPatient:
    """One FHIR R4 Patient resource as an index entry.

    Raises:
        ValueError: not a Patient, no usable identifier, or a malformed field.
    """
    if resource.get("resourceType") != "Patient":
        raise ValueError("not a Patient resource")
    own, others = _fhir_ids(resource, issuer)
    name = _pick(list(resource.get("name") or []), "official")
    addr = _pick([a for a in resource.get("address") or [] if a.get("use") != "old"], "home")
    phones = [f"tel:{t['value']}" for t in resource.get("telecom") or []
              if t.get("system") == "phone" and t.get("value")]
    maiden = next((str(e.get("valueString") or "") for e in resource.get("extension") or []
                   if e.get("url") == _MAIDEN), "")
    gender = str(resource.get("gender") or "").upper()
    if gender not in _SEX:
        raise ValueError("gender is not a FHIR AdministrativeGender")
    return MpiPatient(
        patient_id=own, source=MpiSource.IMPORT,
        demographics=PatientDemographics(
            names=(PersonName(family=str(name.get("family") or ""),
                              given=tuple(str(g) for g in name.get("given") or []),
                              prefix=" ".join(name.get("prefix") or []),
                              suffix=" ".join(name.get("suffix") or [])),) if name else (),
            gender=_SEX[gender], birth_date=_date(str(resource.get("birthDate") or "")),
            addresses=(Address(street_lines=tuple(str(x) for x in addr.get("line") or []),
                               city=str(addr.get("city") or ""), state=str(addr.get("state") or ""),
                               postal_code=str(addr.get("postalCode") or ""),
                               country=str(addr.get("country") or "")),) if addr else (),
            telecoms=tuple(phones), ids=tuple(others),
            mothers_maiden_name=PersonName(family=maiden) if maiden else None))


def _from_resources(resources: Iterable[tuple[int, Any]],
                    issuer: str) -> Iterator[MpiPatient | ImportRejection | None]:
    for n, resource in resources:
        if not isinstance(resource, dict):
            yield ImportRejection(n, "not a JSON object")
        elif resource.get("resourceType") != "Patient":
            yield None  # another resource type in the bundle: skipped
        else:
            try:
                yield patient_from_fhir(resource, issuer=issuer)
            except (ValueError, TypeError, AttributeError, KeyError) as exc:
                yield ImportRejection(n, str(exc).split(":")[0][:120] or "malformed Patient")


def parse_fhir_ndjson(lines: Iterable[str], *,
                      issuer: str) -> Iterator[MpiPatient | ImportRejection | None]:
    """FHIR Bulk Data NDJSON: one resource per line (``None`` for a non-Patient resource)."""

    def resources() -> Iterator[tuple[int, Any]]:
        for n, line in enumerate(lines, start=1):
            if line.strip():
                try:
                    yield n, json.loads(line)
                except json.JSONDecodeError:
                    yield n, None

    return _from_resources(resources(), issuer)


def parse_fhir_bundle(stream: TextIO, *,
                      issuer: str) -> Iterator[MpiPatient | ImportRejection | None]:
    """A FHIR Bundle's ``entry[].resource``, decoded entry by entry from ``stream``.

    Raises:
        ValueError: the file is not a JSON object with an ``entry`` array (or is truncated).
    """
    entries = (
        (n, e.get("resource") if isinstance(e, dict) else None)
        for n, e in enumerate(_JsonStream(stream).bundle_entries(), start=1)
    )
    return _from_resources(entries, issuer)


class _JsonStream:
    """Just enough of an incremental JSON reader for ``{"...": ..., "entry": [ {...}, ... ]}``."""

    def __init__(self, stream: TextIO, chunk_chars: int = 1 << 20) -> None:
        self._stream, self._chunk = stream, chunk_chars
        self._buf, self._pos, self._eof = "", 0, False
        self._decoder = json.JSONDecoder()

    def _more(self) -> bool:
        if self._eof:
            return False
        data = self._stream.read(self._chunk)
        self._eof = not data
        self._buf = self._buf[self._pos:] + data
        self._pos = 0
        return bool(data)

    def _peek(self) -> str:
        while True:
            while self._pos < len(self._buf) and self._buf[self._pos] in " \t\r\n":
                self._pos += 1
            if self._pos < len(self._buf):
                return self._buf[self._pos]
            if not self._more():
                raise ValueError("truncated JSON")

    def _take(self, expected: str) -> None:
        if self._peek() != expected:
            raise ValueError(f"expected {expected!r} in the Bundle JSON")
        self._pos += 1

    def _value(self) -> Any:
        self._peek()
        while True:
            try:
                value, end = self._decoder.raw_decode(self._buf, self._pos)
            except json.JSONDecodeError:
                if not self._more():
                    raise ValueError("malformed or truncated JSON") from None
                continue
            if end == len(self._buf) and not self._eof and self._more():
                continue  # a number may go on in the next chunk
            self._pos = end
            return value

    def bundle_entries(self) -> Iterator[Any]:
        self._take("{")
        while self._peek() != "}":
            key = self._value()
            self._take(":")
            if key == "entry":
                self._take("[")
                while self._peek() != "]":
                    yield self._value()
                    if self._peek() == ",":
                        self._pos += 1
                self._pos += 1
            elif key == "resourceType":
                if self._value() != "Bundle":
                    raise ValueError("not a FHIR Bundle")
            else:
                self._value()
            if self._peek() == ",":
                self._pos += 1


async def import_patients(index: PatientIndex,
                          items: Iterable[MpiPatient | ImportRejection | None], *,
                          batch_size: int = 2000,
                          rejected: list[ImportRejection] | None = None,
                          ) -> AsyncIterator[ImportSummary]:
    """Write parsed entries in batches (one transaction each); yields the running summary
    after every batch (for progress). Rejections are appended to ``rejected`` if given."""
    summary = ImportSummary()
    batch: list[MpiPatient] = []
    for item in items:
        if item is None:
            summary.skipped += 1
        elif isinstance(item, ImportRejection):
            summary.rejected += 1
            if rejected is not None:
                rejected.append(item)
        else:
            batch.append(item)
            if len(batch) >= batch_size:
                summary.imported += await index.upsert_mpi_patients(batch)
                batch = []
                yield summary
    if batch:
        summary.imported += await index.upsert_mpi_patients(batch)
    yield summary
