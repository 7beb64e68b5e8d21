"""``imx audit list|pending``: the node's audit trail (who saw what) and the ATNA outbox."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from imx.audit.fhir import to_fhir_audit_event
from imx.audit.setup import audit_source
from imx.cli.options import ConfigOption, settings_from
from imx.errors import StoreError
from imx.model.audit import AuditRecord
from imx.settings import Settings
from imx.storage import build_metadata_store
from imx.storage.sql_audit import SqlAuditSink


def _since(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"--since wants an ISO 8601 date or date-time: {value!r}") from exc
    # A date or a naive time is taken as UTC (the trail stores UTC).
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


async def _entries(settings: Settings, *, limit: int, patient: str | None,
                   since: dt.datetime | None, event: str | None) -> list[tuple[int, AuditRecord]]:
    store = await build_metadata_store(settings.storage)
    try:
        return await SqlAuditSink(store).list_entries(limit=limit, patient_id=patient,
                                                      since=since, event=event)
    finally:
        await store.close()


def _record_json(pk: int, record: AuditRecord) -> dict[str, Any]:
    data = dataclasses.asdict(record)
    data["occurred_at"] = record.occurred_at.isoformat()
    return {"id": pk, **data}


def _table(entries: list[tuple[int, AuditRecord]]) -> Table:
    table = Table("id", "time (UTC)", "transaction", "event", "outcome", "source", "patients")
    for pk, r in entries:
        table.add_row(str(pk), r.occurred_at.astimezone(dt.UTC).isoformat(timespec="seconds"),
                      r.transaction, r.event, r.outcome, r.source, ", ".join(r.patient_ids))
    return table


def register(app: typer.Typer) -> None:
    group = typer.Typer(no_args_is_help=True, help="The audit trail (ATNA).")
    app.add_typer(group, name="audit")

    @group.command("list")
    def list_cmd(
        config: ConfigOption = None,
        patient: Annotated[str | None, typer.Option(
            "--patient", help="Patient ID, alone or as CX (ID^^^&OID&ISO).")] = None,
        since: Annotated[str | None, typer.Option(
            "--since", help="Only events at or after this ISO date/time (UTC if no offset)."),
        ] = None,
        event: Annotated[str | None, typer.Option("--event", help="Only this event name.")] = None,
        limit: Annotated[int, typer.Option("--limit", min=1)] = 100,
        as_json: Annotated[bool, typer.Option("--json", help="AuditRecords as JSON.")] = False,
        as_fhir: Annotated[bool, typer.Option(
            "--fhir", help="A FHIR R4 Bundle of AuditEvent resources.")] = False,
    ) -> None:
        """Audit events, newest first."""
        settings = settings_from(config)
        try:
            entries = asyncio.run(_entries(settings, limit=limit, patient=patient,
                                           since=_since(since), event=event))
        except StoreError as exc:
            Console(stderr=True).print(f"[red]{exc.detail}[/red]")
            raise typer.Exit(1) from exc
        if as_fhir:
            source = audit_source(settings)
            bundle: dict[str, Any] = {
                "resourceType": "Bundle", "type": "searchset", "total": len(entries),
                "entry": [{"resource": to_fhir_audit_event(r, source=source,
                                                           resource_id=str(pk))}
                          for pk, r in entries],
            }
            typer.echo(json.dumps(bundle, ensure_ascii=False))
        elif as_json:
            typer.echo(json.dumps([_record_json(pk, r) for pk, r in entries], ensure_ascii=False))
        else:
            Console().print(_table(entries))
