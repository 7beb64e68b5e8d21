"""``ImagingQuery`` → SQLAlchemy WHERE clauses (PS3.4 C.2.2.2 matching; PS3.18 8.3.4)."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from imx.model.query import DateRange, ImagingQuery
from imx.storage import schema
from imx.storage.text import fold, wildcard_to_like

__all__ = ["instance_filters", "patient_filters", "series_filters", "study_filters"]

P, ST, SE, IN = schema.patients, schema.studies, schema.series, schema.instances


def _text(column: sa.ColumnElement[str], value: str) -> sa.ColumnElement[bool] | None:
    if not value or value == "*":
        return None
    if "*" in value or "?" in value:
        return column.like(wildcard_to_like(value), escape="\\")
    return column == value


def _name(value: str, *, fuzzy: bool) -> sa.ColumnElement[bool] | None:
    # PN matching is case- and accent-insensitive here (PS3.4 C.2.2.2.1.1 allows it as a
    # "case-insensitive" option; PS3.18 fuzzymatching widens to any name component).
    if not value or value == "*":
        return None
    pattern = fold(value)
    if fuzzy and "*" not in pattern:
        pattern = pattern + "*"
    if "*" in pattern or "?" in pattern:
        clause: sa.ColumnElement[bool] = P.c.patient_name_norm.like(
            wildcard_to_like(pattern), escape="\\"
        )
        if fuzzy:
            # any component may start with the value: "^JOHN*" style match
            clause = sa.or_(
                clause, P.c.patient_name_norm.like("%^" + wildcard_to_like(pattern), escape="\\")
            )
        return clause
    return P.c.patient_name_norm == pattern


def _dates(
    column: sa.ColumnElement[object], rng: DateRange | None
) -> sa.ColumnElement[bool] | None:
    if rng is None or (rng.start is None and rng.end is None):
        return None
    parts = []
    if rng.start is not None:
        parts.append(column >= rng.start)
    if rng.end is not None:
        parts.append(column <= rng.end)
    return sa.and_(*parts)


def _uids(column: sa.ColumnElement[str], values: Sequence[str]) -> sa.ColumnElement[bool] | None:
    return column.in_(list(values)) if values else None


def _keep(clauses: list[sa.ColumnElement[bool] | None]) -> list[sa.ColumnElement[bool]]:
    return [c for c in clauses if c is not None]


def patient_filters(q: ImagingQuery) -> list[sa.ColumnElement[bool]]:
    return _keep(
        [
            _text(P.c.patient_id, q.patient_id),
            (P.c.issuer == q.issuer_of_patient_id) if q.issuer_of_patient_id else None,
            _name(q.patient_name, fuzzy=q.fuzzy_matching),
            _dates(P.c.birth_date, q.patient_birth_date),
            (P.c.sex == q.patient_sex) if q.patient_sex else None,
        ]
    )


def study_filters(q: ImagingQuery) -> list[sa.ColumnElement[bool]]:
    clauses = patient_filters(q) + _keep(
        [
            _uids(ST.c.study_instance_uid, q.study_instance_uids),
            _dates(ST.c.study_date, q.study_date),
            _text(ST.c.accession_number, q.accession_number),
            _text(ST.c.study_id, q.study_id),
            _text(ST.c.study_description, q.study_description),
            _text(ST.c.referring_physician_name, q.referring_physician_name),
        ]
    )
    if q.modalities_in_study:
        # ModalitiesInStudy matches if any series has one of the values (PS3.4 C.6.2.1.2).
        clauses.append(
            sa.exists().where(
                SE.c.study_instance_uid == ST.c.study_instance_uid,
                SE.c.modality.in_(list(q.modalities_in_study)),
            )
        )
    return clauses


def series_filters(q: ImagingQuery) -> list[sa.ColumnElement[bool]]:
    return study_filters(q) + _keep(
        [
            _uids(SE.c.series_instance_uid, q.series_instance_uids),
            _text(SE.c.modality, q.modality),
            (SE.c.series_number == q.series_number) if q.series_number is not None else None,
        ]
    )


def instance_filters(q: ImagingQuery) -> list[sa.ColumnElement[bool]]:
    return series_filters(q) + _keep(
        [
            _uids(IN.c.sop_instance_uid, q.sop_instance_uids),
            _uids(IN.c.sop_class_uid, q.sop_class_uids),
            (IN.c.instance_number == q.instance_number) if q.instance_number is not None else None,
        ]
    )
