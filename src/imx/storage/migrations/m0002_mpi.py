"""0002: the responder's patient index (MPI), its blocking keys, and patient correlations."""

from __future__ import annotations

import sqlalchemy as sa

from imx.storage import schema
from imx.storage.sql_mpi import backfill

VERSION = 2
NAME = "patient index and correlations"

_TABLES = ("mpi_patients", "mpi_blocking_keys", "patient_correlation")


def upgrade(connection: sa.Connection) -> None:
    tables = [schema.metadata.tables[name] for name in _TABLES]
    schema.metadata.create_all(connection, tables=tables)
    # Patients from DICOM headers ingested before the index existed become matchable now.
    backfill(connection)
