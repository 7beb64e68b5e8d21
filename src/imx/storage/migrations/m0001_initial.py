"""0001: patients, studies, series, instances, documents, audit events."""

from __future__ import annotations

import sqlalchemy as sa

from imx.storage import schema

VERSION = 1
NAME = "initial schema"

_TABLES = ("patients", "studies", "series", "instances", "documents", "audit_events")


def upgrade(connection: sa.Connection) -> None:
    tables = [schema.metadata.tables[name] for name in _TABLES]
    schema.metadata.create_all(connection, tables=tables)
