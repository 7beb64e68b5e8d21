"""0003: ATNA outbox (syslog messages awaiting the audit repository) and audit patient index."""

from __future__ import annotations

import json

import sqlalchemy as sa

from imx.storage import schema

VERSION = 3
NAME = "audit outbox and audit patient index"

_TABLES = ("audit_event_patients", "audit_outbox")


def upgrade(connection: sa.Connection) -> None:
    # create_all checks for existing tables, so re-running after a partial failure is safe.
    tables = [schema.metadata.tables[name] for name in _TABLES]
    schema.metadata.create_all(connection, tables=tables)
    events = schema.audit_events
    links = schema.audit_event_patients
    if connection.execute(sa.select(sa.func.count()).select_from(links)).scalar():
        return
    # Records written before this version become findable by patient. Nothing is enqueued
    # for the repository: those records predate audit shipping.
    rows = connection.execute(sa.select(events.c.pk, events.c.payload)).all()
    batch = [
        {"audit_pk": pk, "patient_id": cx[:400], "id_value": cx.split("^", 1)[0][:200]}
        for pk, payload in rows
        for cx in json.loads(payload).get("patient_ids", [])
    ]
    if batch:
        connection.execute(links.insert(), batch)
