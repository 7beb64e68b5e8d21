"""``MetadataStore`` on SQLAlchemy 2 (async): SQLite (aiosqlite) or PostgreSQL (psycopg 3)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import anyio
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from imx.errors import NotFoundError, StoreError
from imx.model.document import DocumentEntry
from imx.model.identifiers import PatientId
from imx.model.imaging import (
    InstanceRecord,
    PatientRecord,
    SeriesRecord,
    StoredInstance,
    StoreOutcome,
    StudyRecord,
)
from imx.model.query import ImagingQuery
from imx.storage import schema
from imx.storage.codec import document_from_json, document_to_json, ids_from_json, ids_to_json
from imx.storage.hot_sql import HotSql
from imx.storage.sql_mpi import SqlPatientIndexMixin
from imx.storage.sql_query import instance_filters, patient_filters, series_filters, study_filters
from imx.storage.text import fold

__all__ = ["SqlMetadataStore"]

T = TypeVar("T")

P, ST, SE, IN, D = (
    schema.patients,
    schema.studies,
    schema.series,
    schema.instances,
    schema.documents,
)
_INSTANCE_COLS = [c for c in IN.c if c.name != "dicom_json"]


def _patient(row: Any) -> PatientRecord:
    return PatientRecord(
        patient_id=PatientId(id=row.patient_id, assigning_authority=row.issuer),
        patient_name=row.patient_name,
        birth_date=row.birth_date,
        sex=row.sex,
        other_patient_ids=ids_from_json(row.other_ids),
    )


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    # SQLite returns naive datetimes; everything we store is UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def _study(row: Any) -> StudyRecord:
    return StudyRecord(
        study_instance_uid=row.study_instance_uid,
        patient_id=PatientId(id=row.patient_id, assigning_authority=row.issuer),
        study_date=row.study_date,
        study_time=row.study_time,
        accession_number=row.accession_number,
        accession_issuer=row.accession_issuer,
        study_id=row.study_id,
        study_description=row.study_description,
        referring_physician_name=row.referring_physician_name,
        modalities_in_study=tuple(m for m in row.modalities.split("\\") if m),
        number_of_series=row.number_of_series,
        number_of_instances=row.number_of_instances,
        updated_at=_aware(row.updated_at),
    )


def _series(row: Any) -> SeriesRecord:
    return SeriesRecord(
        series_instance_uid=row.series_instance_uid,
        study_instance_uid=row.study_instance_uid,
        modality=row.modality,
        series_number=row.series_number,
        series_description=row.series_description,
        body_part_examined=row.body_part_examined,
        number_of_instances=row.number_of_instances,
    )


def _instance(row: Any) -> InstanceRecord:
    return InstanceRecord(
        sop_instance_uid=row.sop_instance_uid,
        sop_class_uid=row.sop_class_uid,
        series_instance_uid=row.series_instance_uid,
        study_instance_uid=row.study_instance_uid,
        transfer_syntax_uid=row.transfer_syntax_uid,
        blob_key=row.blob_key,
        size_bytes=row.size_bytes,
        sha256=row.sha256,
        instance_number=row.instance_number,
        number_of_frames=row.number_of_frames,
        rows=row.rows,
        columns=row.columns,
        received_at=_aware(row.received_at),
    )


_STUDY_SELECT = sa.select(ST, P.c.patient_id, P.c.issuer).join(P, P.c.pk == ST.c.patient_pk)


class SqlMetadataStore(SqlPatientIndexMixin):
    """MetadataStore over one SQLAlchemy AsyncEngine (see ADR 0002); also the PatientIndex."""

    def __init__(self, engine: AsyncEngine, writer: sa.Engine) -> None:
        self._engine = engine
        self._writer = writer
        self._insert = sqlite_insert if engine.dialect.name == "sqlite" else pg_insert
        self._hot = HotSql(dialect=writer.dialect.name, paramstyle=writer.dialect.paramstyle)
        # SQLite has one writer connection; other databases take a few writers at once.
        self._limiter = anyio.CapacityLimiter(1 if engine.dialect.name == "sqlite" else 4)

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    async def close(self) -> None:
        await self._engine.dispose()
        self._writer.dispose()
        self._close_mpi()

    async def write(self, fn: Callable[[sa.Connection], T]) -> T:
        """Run ``fn`` in one write transaction on a worker thread; StoreError on failure."""

        def run() -> T:
            with self._writer.begin() as conn:
                return fn(conn)

        try:
            return await anyio.to_thread.run_sync(run, limiter=self._limiter)
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError("metadata store write failed") from exc

    # -- writes ---------------------------------------------------------------------------

    async def store_instance(self, item: StoredInstance, *, replace: bool = True) -> StoreOutcome:
        return (await self.store_instances([item], replace=replace))[0]

    async def store_instances(
        self, items: Sequence[StoredInstance], *, replace: bool = True
    ) -> list[StoreOutcome]:
        return await self.write(
            lambda conn: [self._store_one(conn, item, replace=replace) for item in items]
        )

    async def upsert_patient(self, patient: PatientRecord) -> None:
        await self.write(lambda conn: self._upsert_patient(conn, patient))

    async def merge_patient(self, *, surviving: PatientId, retired: PatientId) -> int:
        def run(conn: sa.Connection) -> int:
            def pk(pid: PatientId) -> int | None:
                return conn.execute(sa.select(P.c.pk).where(
                    P.c.patient_id == pid.id, P.c.issuer == pid.assigning_authority)).scalar()

            keep, drop = pk(surviving), pk(retired)
            if keep is None:
                raise NotFoundError("surviving patient unknown")
            if drop is None or drop == keep:
                return 0
            moved = conn.execute(ST.update().where(ST.c.patient_pk == drop)
                                 .values(patient_pk=keep)).rowcount
            conn.execute(P.delete().where(P.c.pk == drop))
            return int(moved or 0)

        return await self.write(run)

    def _upsert_patient(self, conn: sa.Connection, p: PatientRecord) -> int:
        values = {
            "patient_name": p.patient_name,
            "patient_name_norm": fold(p.patient_name),
            "birth_date": p.birth_date,
            "sex": p.sex,
            "other_ids": ids_to_json(p.other_patient_ids),
        }
        insert = self._insert(P).values(
            patient_id=p.patient_id.id, issuer=p.patient_id.assigning_authority, **values
        )
        # INSERT .. ON CONFLICT DO UPDATE: concurrent first instances of one patient both win.
        stmt = insert.on_conflict_do_update(
            index_elements=[P.c.patient_id, P.c.issuer], set_=values
        ).returning(P.c.pk)
        return int(conn.execute(stmt).scalar_one())

    def _store_one(
        self, conn: sa.Connection, item: StoredInstance, *, replace: bool = True
    ) -> StoreOutcome:
        """A new instance costs six driver-level statements (``hot_sql``); counters move
        incrementally. A replacement (same SOP Instance UID) takes the slower path that
        recounts (PS3.4 C.6.1.1.5 counts)."""
        q = self._hot
        p, s, se, inst = item.patient, item.study, item.series, item.instance
        # Dedupe inside the write transaction, before touching anything (docs/ingest.md).
        existing = conn.exec_driver_sql(
            q.existing, q.params(sop_instance_uid=inst.sop_instance_uid)
        ).first()
        if existing is not None and (existing.sha256 == inst.sha256 or not replace):
            previous = _instance(
                conn.execute(
                    sa.select(*_INSTANCE_COLS).where(IN.c.sop_instance_uid == inst.sop_instance_uid)
                ).one()
            )
            return StoreOutcome(is_new=False, previous=previous, written=False)
        patient_pk = conn.exec_driver_sql(
            q.patient,
            q.params(
                patient_id=p.patient_id.id,
                issuer=p.patient_id.assigning_authority,
                patient_name=p.patient_name,
                patient_name_norm=fold(p.patient_name),
                birth_date=p.birth_date,
                sex=p.sex,
                other_ids=ids_to_json(p.other_patient_ids),
            ),
        ).scalar_one()
        self._index_ingested_patient(conn, p)
        modalities = conn.exec_driver_sql(
            q.study,
            q.params(
                study_instance_uid=s.study_instance_uid,
                patient_pk=patient_pk,
                study_date=s.study_date,
                study_time=s.study_time,
                accession_number=s.accession_number,
                accession_issuer=s.accession_issuer,
                study_id=s.study_id,
                study_description=s.study_description,
                referring_physician_name=s.referring_physician_name,
                updated_at=inst.received_at or dt.datetime.now(dt.UTC),
            ),
        ).scalar_one()
        conn.exec_driver_sql(
            q.series,
            q.params(
                series_instance_uid=se.series_instance_uid,
                study_instance_uid=se.study_instance_uid,
                modality=se.modality,
                series_number=se.series_number,
                series_description=se.series_description,
                body_part_examined=se.body_part_examined,
            ),
        )
        values = {
            "sop_class_uid": inst.sop_class_uid,
            "series_instance_uid": inst.series_instance_uid,
            "study_instance_uid": inst.study_instance_uid,
            "transfer_syntax_uid": inst.transfer_syntax_uid,
            "blob_key": inst.blob_key,
            "size_bytes": inst.size_bytes,
            "sha256": inst.sha256,
            "instance_number": inst.instance_number,
            "number_of_frames": inst.number_of_frames,
            "rows": inst.rows,
            "columns": inst.columns,
            "received_at": inst.received_at,
            "dicom_json": item.dicom_json,
        }
        inserted = conn.exec_driver_sql(
            q.instance, q.params(sop_instance_uid=inst.sop_instance_uid, **values)
        ).first()
        if inserted is not None:
            conn.exec_driver_sql(
                q.count_series, q.params(series_instance_uid=se.series_instance_uid)
            )
            mods = [m for m in str(modalities or "").split("\\") if m]
            if se.modality and se.modality not in mods:
                mods = sorted([*mods, se.modality])
            conn.exec_driver_sql(
                q.count_study,
                q.params(study_instance_uid=s.study_instance_uid, modalities="\\".join(mods)),
            )
            return StoreOutcome(is_new=True)
        previous = _instance(
            conn.execute(
                sa.select(*_INSTANCE_COLS).where(IN.c.sop_instance_uid == inst.sop_instance_uid)
            ).one()
        )
        conn.execute(
            IN.update().where(IN.c.sop_instance_uid == inst.sop_instance_uid).values(**values)
        )
        self._refresh_counts(conn, inst.study_instance_uid)
        if previous.study_instance_uid != inst.study_instance_uid:
            self._refresh_counts(conn, previous.study_instance_uid)
        return StoreOutcome(is_new=False, previous=previous)

    def _upsert(
        self,
        conn: sa.Connection,
        table: sa.Table,
        key: sa.Column[str],
        key_value: str,
        values: dict[str, Any],
    ) -> None:
        stmt = self._insert(table).values({key.name: key_value, **values})
        conn.execute(stmt.on_conflict_do_update(index_elements=[key], set_=values))

    def _refresh_counts(self, conn: sa.Connection, study_uid: str) -> None:
        # Counters and ModalitiesInStudy recomputed (replace/delete paths).
        per_series = (
            sa.select(sa.func.count())
            .where(IN.c.series_instance_uid == SE.c.series_instance_uid)
            .scalar_subquery()
        )
        conn.execute(
            SE.update()
            .where(SE.c.study_instance_uid == study_uid)
            .values(number_of_instances=per_series)
        )
        conn.execute(
            SE.delete().where(SE.c.study_instance_uid == study_uid, SE.c.number_of_instances == 0)
        )
        n_inst = (
            conn.execute(sa.select(sa.func.count()).where(IN.c.study_instance_uid == study_uid))
        ).scalar() or 0
        mods = (
            (
                conn.execute(
                    sa.select(SE.c.modality)
                    .distinct()
                    .where(SE.c.study_instance_uid == study_uid)
                    .order_by(SE.c.modality)
                )
            )
            .scalars()
            .all()
        )
        n_series = (
            conn.execute(sa.select(sa.func.count()).where(SE.c.study_instance_uid == study_uid))
        ).scalar() or 0
        if n_inst == 0:
            conn.execute(ST.delete().where(ST.c.study_instance_uid == study_uid))
            return
        conn.execute(
            ST.update()
            .where(ST.c.study_instance_uid == study_uid)
            .values(
                number_of_instances=n_inst,
                number_of_series=n_series,
                modalities="\\".join(m for m in mods if m),
            )
        )

    async def delete_instance(self, sop_instance_uid: str) -> InstanceRecord | None:
        def run(conn: sa.Connection) -> InstanceRecord | None:
            row = conn.execute(
                sa.select(*_INSTANCE_COLS).where(IN.c.sop_instance_uid == sop_instance_uid)
            ).first()
            if row is None:
                return None
            conn.execute(IN.delete().where(IN.c.sop_instance_uid == sop_instance_uid))
            self._refresh_counts(conn, row.study_instance_uid)
            return _instance(row)

        return await self.write(run)

    # -- reads ----------------------------------------------------------------------------

    async def _all(self, stmt: sa.Select[Any]) -> list[Any]:
        try:
            async with self._engine.connect() as conn:
                return list((await conn.execute(stmt)).all())
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError("metadata store read failed") from exc

    async def get_instance(self, sop_instance_uid: str) -> InstanceRecord | None:
        rows = await self._all(
            sa.select(*_INSTANCE_COLS).where(IN.c.sop_instance_uid == sop_instance_uid)
        )
        return _instance(rows[0]) if rows else None

    async def get_instance_json(self, sop_instance_uid: str) -> bytes | None:
        rows = await self._all(
            sa.select(IN.c.dicom_json).where(IN.c.sop_instance_uid == sop_instance_uid)
        )
        return bytes(rows[0].dicom_json) if rows else None

    async def set_instance_json(self, sop_instance_uid: str, dicom_json: bytes) -> None:
        await self.write(
            lambda conn: conn.execute(
                IN.update()
                .where(IN.c.sop_instance_uid == sop_instance_uid)
                .values(dicom_json=dicom_json)
            )
        )

    async def get_study(self, study_instance_uid: str) -> StudyRecord | None:
        rows = await self._all(_STUDY_SELECT.where(ST.c.study_instance_uid == study_instance_uid))
        return _study(rows[0]) if rows else None

    async def get_patient(self, patient_id: PatientId) -> PatientRecord | None:
        rows = await self._all(
            sa.select(P).where(
                P.c.patient_id == patient_id.id, P.c.issuer == patient_id.assigning_authority
            )
        )
        return _patient(rows[0]) if rows else None

    async def list_series(self, study_instance_uid: str) -> list[SeriesRecord]:
        rows = await self._all(
            sa.select(SE)
            .where(SE.c.study_instance_uid == study_instance_uid)
            .order_by(SE.c.series_number.nulls_last(), SE.c.series_instance_uid)
        )
        return [_series(r) for r in rows]

    async def list_instances(
        self, study_instance_uid: str, series_instance_uid: str | None = None
    ) -> list[InstanceRecord]:
        stmt = (
            sa.select(*_INSTANCE_COLS)
            .join(SE, SE.c.series_instance_uid == IN.c.series_instance_uid)
            .where(IN.c.study_instance_uid == study_instance_uid)
        )
        if series_instance_uid is not None:
            stmt = stmt.where(IN.c.series_instance_uid == series_instance_uid)
        stmt = stmt.order_by(
            SE.c.series_number.nulls_last(),
            SE.c.series_instance_uid,
            IN.c.instance_number.nulls_last(),
            IN.c.sop_instance_uid,
        )
        return [_instance(r) for r in await self._all(stmt)]

    @staticmethod
    def _page(stmt: sa.Select[Any], q: ImagingQuery) -> sa.Select[Any]:
        if q.offset:
            stmt = stmt.offset(q.offset)
        if q.limit is not None:
            stmt = stmt.limit(q.limit)
        return stmt

    async def find_patients(self, query: ImagingQuery) -> list[PatientRecord]:
        stmt = sa.select(P).where(*patient_filters(query)).order_by(P.c.patient_id, P.c.issuer)
        return [_patient(r) for r in await self._all(self._page(stmt, query))]

    async def find_studies(self, query: ImagingQuery) -> list[StudyRecord]:
        stmt = _STUDY_SELECT.where(*study_filters(query)).order_by(
            ST.c.study_date.desc().nulls_last(), ST.c.study_instance_uid
        )
        return [_study(r) for r in await self._all(self._page(stmt, query))]

    async def find_series(self, query: ImagingQuery) -> list[SeriesRecord]:
        stmt = (
            sa.select(SE)
            .join(ST, ST.c.study_instance_uid == SE.c.study_instance_uid)
            .join(P, P.c.pk == ST.c.patient_pk)
            .where(*series_filters(query))
            .order_by(
                SE.c.study_instance_uid, SE.c.series_number.nulls_last(), SE.c.series_instance_uid
            )
        )
        return [_series(r) for r in await self._all(self._page(stmt, query))]

    async def find_instances(self, query: ImagingQuery) -> list[InstanceRecord]:
        stmt = (
            sa.select(*_INSTANCE_COLS)
            .join(SE, SE.c.series_instance_uid == IN.c.series_instance_uid)
            .join(ST, ST.c.study_instance_uid == SE.c.study_instance_uid)
            .join(P, P.c.pk == ST.c.patient_pk)
            .where(*instance_filters(query))
            .order_by(
                IN.c.study_instance_uid,
                SE.c.series_number.nulls_last(),
                IN.c.series_instance_uid,
                IN.c.instance_number.nulls_last(),
                IN.c.sop_instance_uid,
            )
        )
        return [_instance(r) for r in await self._all(self._page(stmt, query))]

    # -- documents ------------------------------------------------------------------------

    async def put_document(self, entry: DocumentEntry) -> None:
        values = {
            "entry_uuid": entry.entry_uuid,
            "kind": entry.kind,
            "patient_id": entry.patient_id.id,
            "patient_issuer": entry.patient_id.assigning_authority,
            "study_instance_uid": entry.study_instance_uid,
            "status": entry.status,
            "payload": document_to_json(entry),
            "updated_at": dt.datetime.now(dt.UTC),
        }
        await self.write(
            lambda conn: self._upsert(
                conn, D, D.c.document_unique_id, entry.document_unique_id, values
            )
        )

    async def get_document(self, document_unique_id: str) -> DocumentEntry | None:
        rows = await self._all(
            sa.select(D.c.payload, D.c.status).where(D.c.document_unique_id == document_unique_id)
        )
        return self._document(rows[0]) if rows else None

    @staticmethod
    def _document(row: Any) -> DocumentEntry:
        entry = document_from_json(row.payload)
        if entry.status != row.status:
            from dataclasses import replace

            entry = replace(entry, status=row.status)
        return entry

    async def find_documents(
        self,
        *,
        patient_id: PatientId | None = None,
        study_instance_uid: str | None = None,
        kinds: Sequence[str] = (),
        entry_uuids: Sequence[str] = (),
    ) -> list[DocumentEntry]:
        stmt = sa.select(D.c.payload, D.c.status)
        if patient_id is not None:
            stmt = stmt.where(
                D.c.patient_id == patient_id.id,
                D.c.patient_issuer == patient_id.assigning_authority,
            )
        if study_instance_uid is not None:
            stmt = stmt.where(D.c.study_instance_uid == study_instance_uid)
        if kinds:
            stmt = stmt.where(D.c.kind.in_(list(kinds)))
        if entry_uuids:
            stmt = stmt.where(D.c.entry_uuid.in_(list(entry_uuids)))
        stmt = stmt.order_by(D.c.updated_at, D.c.document_unique_id)
        return [self._document(r) for r in await self._all(stmt)]

    async def deprecate_document(self, document_unique_id: str) -> None:
        await self.write(
            lambda conn: conn.execute(
                D.update()
                .where(D.c.document_unique_id == document_unique_id)
                .values(status="urn:oasis:names:tc:ebxml-regrep:StatusType:Deprecated")
            )
        )
