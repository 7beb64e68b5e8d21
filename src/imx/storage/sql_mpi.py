"""``PatientIndex`` on the metadata store's database (SQLite | PostgreSQL).

Candidate retrieval is one statement: the query's blocking keys are looked up in the
primary key of ``mpi_blocking_keys`` (an index range per key; a WITHOUT ROWID table in
SQLite) and the hits' stored match forms read by primary key. It is hand-written driver
SQL, run on a pooled synchronous connection in a worker thread: one thread hop per query
(see ``hot_sql`` for why Core statement building is avoided on hot paths).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import threading
from collections.abc import Callable, Collection, Sequence
from typing import Any, TypeVar

import anyio
import sqlalchemy as sa

from imx.errors import StoreError
from imx.matching.blocking import KEY_KIND_CHARS
from imx.matching.mpi_form import index_entry
from imx.model.identifiers import PatientId
from imx.model.imaging import PatientRecord
from imx.model.mpi import (
    MpiCandidate,
    MpiPatient,
    MpiSource,
    PatientCorrelation,
    mpi_patient_from_record,
    refreshed_dicom_entry,
)
from imx.model.patient_discovery import Address, PatientDemographics, PersonName
from imx.storage import schema
from imx.storage.codec import ids_from_json, ids_to_json

__all__ = ["SqlPatientIndexMixin", "backfill", "mpi_row_values", "upsert_mpi"]

T = TypeVar("T")
M, K, C = schema.mpi_patients, schema.mpi_blocking_keys, schema.patient_correlation
_MAX_KEYS = 64  # a query's keys; more is malformed input, not a person
# SQLite readers: as many threads as pooled connections, so a connection is never opened per
# query (an overflow connection starts with a cold page cache: at 1M patients that made the
# ~0.2 ms candidate statement cost several ms under 16 concurrent queries).
_SQLITE_READERS = 4
_ROW_COLUMNS = (
    "patient_id, issuer, source, family_name, given_names, name_prefix, name_suffix, "
    "birth_date, sex, street_lines, city, state, postal_code, country, telecom, "
    "mothers_maiden_name, other_ids"
)
_BULK_COLUMNS = (
    "patient_id", "issuer", "source", "family_name", "given_names", "name_prefix",
    "name_suffix", "birth_date", "sex", "street_lines", "city", "state", "postal_code",
    "country", "telecom", "mothers_maiden_name", "other_ids", "match_form",
)


def mpi_row_values(patient: MpiPatient, match_form: str) -> dict[str, Any]:
    """The ``mpi_patients`` columns of an entry (first name and address: the current ones)."""
    d = patient.demographics
    name = d.names[0] if d.names else PersonName()
    addr = d.addresses[0] if d.addresses else Address()
    return {
        "patient_id": patient.patient_id.id,
        "issuer": patient.patient_id.assigning_authority,
        "source": patient.source.value,
        "family_name": name.family,
        "given_names": "^".join(name.given),
        "name_prefix": name.prefix,
        "name_suffix": name.suffix,
        "birth_date": d.birth_date,
        "sex": d.gender,
        "street_lines": "\n".join(addr.street_lines),
        "city": addr.city,
        "state": addr.state,
        "postal_code": addr.postal_code,
        "country": addr.country,
        "telecom": "\n".join(d.telecoms),
        "mothers_maiden_name": d.mothers_maiden_name.family if d.mothers_maiden_name else "",
        "other_ids": ids_to_json(d.ids),
        "match_form": match_form,
    }


def _from_row(row: Any) -> MpiPatient:
    name = PersonName(family=row.family_name,
                      given=tuple(g for g in row.given_names.split("^") if g),
                      prefix=row.name_prefix, suffix=row.name_suffix)
    has_name = bool(row.family_name or row.given_names)
    addr = Address(street_lines=tuple(x for x in row.street_lines.split("\n") if x),
                   city=row.city, state=row.state, postal_code=row.postal_code,
                   country=row.country)
    has_addr = any((addr.street_lines, addr.city, addr.state, addr.postal_code, addr.country))
    birth = row.birth_date
    if isinstance(birth, str):  # driver-level reads on SQLite
        birth = dt.date.fromisoformat(birth)
    return MpiPatient(
        patient_id=PatientId(id=row.patient_id, assigning_authority=row.issuer),
        source=MpiSource(row.source),
        demographics=PatientDemographics(
            names=(name,) if has_name else (), gender=row.sex, birth_date=birth,
            addresses=(addr,) if has_addr else (),
            telecoms=tuple(t for t in row.telecom.split("\n") if t),
            ids=ids_from_json(row.other_ids),
            mothers_maiden_name=(PersonName(family=row.mothers_maiden_name)
                                 if row.mothers_maiden_name else None)))


class SqlPatientIndexMixin:
    """The ``PatientIndex`` half of ``SqlMetadataStore`` (same engines, same transactions)."""

    _engine: Any
    _writer: sa.Engine
    _mpi_reader: sa.Engine | None = None
    _mpi_lock = threading.Lock()

    async def write(self, fn: Callable[[sa.Connection], T]) -> T:
        raise NotImplementedError  # SqlMetadataStore.write (one write transaction)

    # -- connections ------------------------------------------------------------------------

    _mpi_executor: concurrent.futures.ThreadPoolExecutor | None = None

    def _reader(self) -> sa.Engine:
        """A small pool of synchronous read connections (SQLite: WAL readers beside the one
        writer; PostgreSQL: the writer's pool serves reads too)."""
        if self._writer.dialect.name != "sqlite":
            return self._writer
        with self._mpi_lock:
            if self._mpi_reader is None:
                # query_only connections never hold a transaction after a SELECT (sqlite3
                # opens none for it), so the pool's rollback-on-return is skipped. No
                # overflow: the reader threads below never ask for more than the pool holds.
                engine = sa.create_engine(
                    self._writer.url, pool_size=_SQLITE_READERS, max_overflow=0,
                    pool_reset_on_return=None,
                    connect_args={"timeout": 30, "check_same_thread": False})

                @sa.event.listens_for(engine, "connect")
                def _pragmas(dbapi_conn: Any, _record: Any) -> None:
                    cur = dbapi_conn.cursor()
                    cur.execute("PRAGMA busy_timeout=30000")
                    cur.execute("PRAGMA query_only=ON")
                    cur.execute("PRAGMA cache_size=-16384")  # 16 MiB per reader
                    cur.close()

                self._mpi_reader = engine
                self._mpi_executor = concurrent.futures.ThreadPoolExecutor(
                    _SQLITE_READERS, thread_name_prefix="imx-mpi-read")
            return self._mpi_reader

    async def _read(self, fn: Callable[[sa.Connection], T]) -> T:
        engine = self._reader()

        def run() -> T:
            with engine.connect() as conn:
                return fn(conn)

        try:
            if self._mpi_executor is not None:  # SQLite: the dedicated reader threads
                return await asyncio.get_running_loop().run_in_executor(self._mpi_executor, run)
            return await anyio.to_thread.run_sync(run)
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError("patient index read failed") from exc

    def _mark(self) -> str:
        return "?" if self._writer.dialect.paramstyle == "qmark" else "%s"

    def _placeholders(self, n: int) -> str:
        return ", ".join([self._mark()] * n)

    def _dbvalue(self, v: Any) -> Any:
        if self._writer.dialect.name == "sqlite" and isinstance(v, dt.date):
            return v.isoformat()
        return v

    # -- writes -----------------------------------------------------------------------------

    def _upsert_mpi(self, conn: sa.Connection, patient: MpiPatient) -> bool:
        return upsert_mpi(conn, patient)

    def _index_ingested_patient(self, conn: sa.Connection, record: PatientRecord) -> None:
        """Called inside the ingest transaction: DICOM headers create (or refresh their own)
        index entry; entries from the ADT feed or an import are left alone."""
        upsert_mpi(conn, mpi_patient_from_record(record))

    async def upsert_mpi_patient(self, patient: MpiPatient) -> None:
        await self.write(lambda conn: self._upsert_mpi(conn, patient))

    async def upsert_mpi_patients(self, patients: Sequence[MpiPatient]) -> int:
        if any(p.source is MpiSource.DICOM for p in patients):
            return await self.write(lambda conn: sum(self._upsert_mpi(conn, p) for p in patients))
        # Imports and feeds: entries computed off the writer, then driver-level executemany.
        rows = [(p, *index_entry(p)) for p in patients]
        return await self.write(lambda conn: self._bulk_upsert(conn, rows))

    def _bulk_upsert(self, conn: sa.Connection,
                     rows: Sequence[tuple[MpiPatient, str, set[str]]]) -> int:
        """One batch of non-DICOM entries: four statements, whatever the batch size."""
        if not rows:
            return 0
        count = len(rows)
        # The last row of one patient wins (a file may repeat a person).
        rows = list({(p.patient_id.id, p.patient_id.assigning_authority): (p, f, k)
                     for p, f, k in rows}.values())
        now = dt.datetime.now(dt.UTC)
        if self._writer.dialect.name == "sqlite":
            now_value: Any = now.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
        else:
            now_value = now
        params = []
        for p, form, _ in rows:
            v = mpi_row_values(p, form)
            v["birth_date"] = self._dbvalue(v["birth_date"])
            params.append((*(v[c] for c in _BULK_COLUMNS), now_value))
        mark = "?" if self._writer.dialect.paramstyle == "qmark" else "%s"
        cols = ", ".join([*_BULK_COLUMNS, "updated_at"])
        sets = ", ".join(f"{c} = excluded.{c}" for c in [*_BULK_COLUMNS[2:], "updated_at"])
        # The DBAPI cursor directly: SQLAlchemy's per-row parameter handling cost more than
        # SQLite's insert itself (measured: ~200 of ~370 us per patient).
        cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            if self._writer.dialect.name == "sqlite":
                cur.execute("PRAGMA cache_size=-131072")  # 128 MiB: key pages stay cached
            cur.executemany(
                f"INSERT INTO mpi_patients ({cols}) VALUES "  # noqa: S608 - placeholders/constants only
                f"({', '.join([mark] * (len(_BULK_COLUMNS) + 1))}) "
                f"ON CONFLICT (patient_id, issuer) DO UPDATE SET {sets}", params)
            pks: dict[tuple[str, str], int] = {}
            ids = sorted({p.patient_id.id for p, _, _ in rows})
            for i in range(0, len(ids), 500):
                chunk = ids[i:i + 500]
                cur.execute("SELECT pk, patient_id, issuer FROM mpi_patients WHERE patient_id "  # noqa: S608 - placeholders/constants only
                            f"IN ({self._placeholders(len(chunk))})", tuple(chunk))
                for pk, pid, issuer in cur.fetchall():
                    pks[(pid, issuer)] = pk
            mine = [pks[(p.patient_id.id, p.patient_id.assigning_authority)] for p, _, _ in rows]
            for i in range(0, len(mine), 500):
                chunk_pks = mine[i:i + 500]
                cur.execute("DELETE FROM mpi_blocking_keys WHERE mpi_pk IN "  # noqa: S608 - placeholders/constants only
                            f"({self._placeholders(len(chunk_pks))})", tuple(chunk_pks))
            keys = sorted({(k[:160], pk) for (_, _, ks), pk in zip(rows, mine, strict=True)
                           for k in ks})
            cur.executemany(f"INSERT INTO mpi_blocking_keys (key, mpi_pk) VALUES ({mark}, {mark}) "  # noqa: S608 - placeholders/constants only
                            "ON CONFLICT DO NOTHING", keys)
        finally:
            cur.close()
        return count

    async def merge_mpi_patient(self, *, surviving: PatientId, retired: PatientId) -> None:
        def run(conn: sa.Connection) -> None:
            if surviving == retired:
                return
            conn.execute(C.update().where(
                C.c.local_patient_id == retired.id,
                C.c.local_issuer == retired.assigning_authority,
            ).values(local_patient_id=surviving.id, local_issuer=surviving.assigning_authority))
            pk = conn.execute(sa.select(M.c.pk).where(
                M.c.patient_id == retired.id,
                M.c.issuer == retired.assigning_authority)).scalar()
            if pk is not None:
                conn.execute(K.delete().where(K.c.mpi_pk == pk))
                conn.execute(M.delete().where(M.c.pk == pk))

        await self.write(run)

    # -- reads ------------------------------------------------------------------------------

    async def get_mpi_patient(self, patient_id: PatientId) -> MpiPatient | None:
        sql = (f"SELECT {_ROW_COLUMNS} FROM mpi_patients "  # noqa: S608 - constants only
               f"WHERE patient_id = {self._mark()} AND issuer = {self._mark()}")

        def run(conn: sa.Connection) -> MpiPatient | None:
            row = conn.exec_driver_sql(sql, (patient_id.id, patient_id.assigning_authority)).first()
            return _from_row(row) if row is not None else None

        return await self._read(run)

    async def count_mpi_patients(self) -> int:
        return await self._read(
            lambda conn: int(conn.execute(sa.select(sa.func.count()).select_from(M)).scalar()
                             or 0))

    async def find_mpi_candidates(self, keys: Collection[str], *, limit: int = 2000,
                                  min_kinds: int = 1,
                                  strong_kinds: Collection[str] = ()) -> list[MpiCandidate]:
        wanted = sorted({k[:160] for k in keys})[:_MAX_KEYS]
        if not wanted:
            return []
        marks = self._placeholders(len(wanted))
        if min_kinds <= 1:
            hits = f"SELECT mpi_pk FROM mpi_blocking_keys WHERE key IN ({marks})"  # noqa: S608 - placeholders/constants only
            params: tuple[Any, ...] = tuple(wanted)
        else:
            # Portable SQL: a key's kind is its first KEY_KIND_CHARS characters.
            strong = tuple(strong_kinds) or ("",)
            hits = (f"SELECT mpi_pk FROM mpi_blocking_keys WHERE key IN ({marks}) "  # noqa: S608 - placeholders/constants only
                    "GROUP BY mpi_pk HAVING count(DISTINCT substr(key, 1, "
                    f"{KEY_KIND_CHARS})) >= {int(min_kinds)} OR max(CASE WHEN substr(key, 1, "
                    f"{KEY_KIND_CHARS}) IN ({self._placeholders(len(strong))}) THEN 1 ELSE 0 "
                    "END) = 1")
            params = (*wanted, *strong)
        sql = ("SELECT m.patient_id, m.issuer, m.match_form FROM mpi_patients m "  # noqa: S608 - placeholders/constants only
               f"WHERE m.pk IN ({hits}) LIMIT {int(limit)}")

        def run(conn: sa.Connection) -> list[MpiCandidate]:
            cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                cur.execute(sql, params)
                return [MpiCandidate._make(r) for r in cur.fetchall()]
            finally:
                cur.close()

        return await self._read(run)

    # -- correlations (SPEC-NOTES §2.5) -----------------------------------------------------

    async def add_correlation(self, correlation: PatientCorrelation) -> bool:
        local, remote = correlation.local_patient_id, correlation.remote_patient_id

        def run(conn: sa.Connection) -> bool:
            row = conn.execute(sa.select(C.c.pk, C.c.local_patient_id, C.c.local_issuer).where(
                C.c.remote_patient_id == remote.id,
                C.c.remote_issuer == remote.assigning_authority)).first()
            values = {"local_patient_id": local.id, "local_issuer": local.assigning_authority,
                      "home_community_id": correlation.home_community_id}
            if row is None:
                conn.execute(C.insert().values(
                    remote_patient_id=remote.id, remote_issuer=remote.assigning_authority,
                    created_at=dt.datetime.now(dt.UTC), **values))
                return True
            if (row.local_patient_id, row.local_issuer) == (local.id, local.assigning_authority):
                return False
            # The latest match, on the latest demographics, wins.
            conn.execute(C.update().where(C.c.pk == row.pk).values(**values))
            return True

        return await self.write(run)

    async def resolve_correlation(self, remote_patient_id: PatientId) -> PatientId | None:
        sql = ("SELECT local_patient_id, local_issuer FROM patient_correlation WHERE "  # noqa: S608 - placeholders/constants only
               f"remote_patient_id = {self._mark()} AND remote_issuer = {self._mark()}")

        def run(conn: sa.Connection) -> PatientId | None:
            row = conn.exec_driver_sql(
                sql, (remote_patient_id.id, remote_patient_id.assigning_authority)).first()
            return PatientId(id=row[0], assigning_authority=row[1]) if row else None

        return await self._read(run)

    async def list_correlations(self, local_patient_id: PatientId) -> list[PatientCorrelation]:
        def run(conn: sa.Connection) -> list[PatientCorrelation]:
            rows = conn.execute(sa.select(C).where(
                C.c.local_patient_id == local_patient_id.id,
                C.c.local_issuer == local_patient_id.assigning_authority,
            ).order_by(C.c.pk)).all()
            return [PatientCorrelation(
                local_patient_id=local_patient_id,
                remote_patient_id=PatientId(id=r.remote_patient_id,
                                            assigning_authority=r.remote_issuer),
                home_community_id=r.home_community_id) for r in rows]

        return await self._read(run)

    def _close_mpi(self) -> None:
        if self._mpi_executor is not None:
            self._mpi_executor.shutdown(wait=True)
            self._mpi_executor = None
        if self._mpi_reader is not None:
            self._mpi_reader.dispose()
            self._mpi_reader = None



def upsert_mpi(conn: sa.Connection, patient: MpiPatient) -> bool:
    """Insert or replace one entry and its blocking keys; False when a DICOM-header entry
    would overwrite an entry from the feed or an import (it is then left alone)."""
    pid = patient.patient_id
    existing = conn.execute(
        sa.select(M).where(M.c.patient_id == pid.id, M.c.issuer == pid.assigning_authority)
    ).first()
    if existing is not None and patient.source is MpiSource.DICOM:
        if existing.source != MpiSource.DICOM.value:
            return False
        # A later header without the address or phones does not erase the earlier ones.
        patient = refreshed_dicom_entry(_from_row(existing), patient)
    match_form, keys = index_entry(patient)
    values = {**mpi_row_values(patient, match_form), "updated_at": dt.datetime.now(dt.UTC)}
    if existing is None:
        pk = conn.execute(M.insert().values(**values).returning(M.c.pk)).scalar_one()
    else:
        pk = existing.pk
        conn.execute(M.update().where(M.c.pk == pk).values(**values))
        if existing.match_form == match_form:
            return True
        conn.execute(K.delete().where(K.c.mpi_pk == pk))
    if keys:
        conn.execute(K.insert(), [{"key": k[:160], "mpi_pk": pk} for k in sorted(keys)])
    return True


def backfill(conn: sa.Connection) -> int:
    """Index the patients known before the index existed (migration 0002); returns how many."""
    p = schema.patients
    n = 0
    for row in conn.execute(sa.select(p)).all():
        record = PatientRecord(
            patient_id=PatientId(id=row.patient_id, assigning_authority=row.issuer),
            patient_name=row.patient_name, birth_date=row.birth_date, sex=row.sex,
            other_patient_ids=ids_from_json(row.other_ids))
        n += upsert_mpi(conn, mpi_patient_from_record(record))
    return n
