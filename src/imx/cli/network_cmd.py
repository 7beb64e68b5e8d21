"""``imx patients search``, ``imx studies list`` and ``imx studies fetch``: the initiating gateway
from a terminal, with rich tables and progress bars, or ``--json`` for scripts.

Each command opens the node in-process (its store, its configured communities or directory
cache, its certificates) and runs the IHE transactions itself: no server needs to be running.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import Sequence
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from imx.cli.options import ConfigOption, settings_from
from imx.cli.patients_cmd import patients_app
from imx.model.identifiers import PatientId
from imx.model.network import CommunityFailure, RemoteDocument, Requester
from imx.model.patient_discovery import Address, PatientDemographics, PersonName
from imx.runtime import open_node
from imx.services.network import NetworkService, PatientSearch, RetrievalProgress

__all__ = ["register"]

studies_app = typer.Typer(no_args_is_help=True, help="A patient's studies on the network.")

Given = Annotated[str, typer.Option("--given", help="Given name")]
Family = Annotated[str, typer.Option("--family", help="Family name")]
Birth = Annotated[str, typer.Option("--birth-date", help="YYYY-MM-DD")]
Gender = Annotated[str, typer.Option("--gender", help="M, F or empty")]
Postal = Annotated[str, typer.Option("--postal-code", help="Current ZIP")]
Community = Annotated[
    list[str] | None,
    typer.Option("--community", help="Home community ID to ask (repeatable; default all)"),
]
AsJson = Annotated[bool, typer.Option("--json", help="Machine-readable output")]
User = Annotated[str, typer.Option("--user", help="The person asking (XUA subject-id)")]


def _demographics(
    given: str, family: str, birth_date: str, gender: str, postal_code: str
) -> PatientDemographics:
    try:
        birth = dt.date.fromisoformat(birth_date)
    except ValueError:
        raise typer.BadParameter("--birth-date must be YYYY-MM-DD") from None
    return PatientDemographics(
        names=(PersonName(given=tuple(given.split()), family=family),),
        gender=gender.upper() if gender.upper() in ("M", "F") else "",
        birth_date=birth,
        addresses=(Address(postal_code=postal_code),) if postal_code else (),
    )


def _network(services: Any) -> NetworkService:
    if services.network is None:
        raise typer.BadParameter("this node has no initiating gateway configured")
    return services.network


def _patients_json(search: PatientSearch) -> dict[str, Any]:
    return {
        "patients": [
            {
                "home_community_id": p.home_community_id,
                "patient_id": p.patient_id.id,
                "assigning_authority": p.patient_id.assigning_authority,
                "responder_score": p.score,
                "local_score": p.local_score,
                "from_cache": p.from_cache,
            }
            for p in search.patients
        ],
        "failures": [
            {
                "home_community_id": f.home_community_id,
                "error_code": f.error_code,
                "detail": f.detail,
            }
            for f in search.failures
        ],
        "searched": list(search.searched),
        "xcpd_sent": search.xcpd_sent,
    }


def _document_json(d: RemoteDocument) -> dict[str, Any]:
    return {
        "home_community_id": d.home_community_id,
        "repository_unique_id": d.repository_unique_id,
        "document_unique_id": d.document_unique_id,
        "kind": "manifest" if d.is_manifest else "document",
        "title": d.title,
        "mime_type": d.mime_type,
        "study_instance_uids": list(d.study_instance_uids),
        "service_start_time": d.service_start_time.isoformat() if d.service_start_time else None,
    }


def _requester(user: str) -> Requester | None:
    """The person named by ``--user`` (the XUA subject-id), or the node itself."""
    return Requester(subject_id=user) if user else None


def _print_failures(console: Console, failures: Sequence[CommunityFailure]) -> None:
    for f in failures:
        console.print(f"[yellow]{f.home_community_id}[/]: {f.error_code} {f.detail}")


def register(app: typer.Typer) -> None:
    app.add_typer(studies_app, name="studies")

    @patients_app.command("search")
    def search(
        given: Given,
        family: Family,
        birth_date: Birth,
        gender: Gender = "",
        postal_code: Postal = "",
        community: Community = None,
        user: User = "",
        no_cache: Annotated[bool, typer.Option("--no-cache")] = False,
        as_json: AsJson = False,
        config: ConfigOption = None,
    ) -> None:
        """Find the patient at every community (XCPD ITI-55)."""
        settings = settings_from(config)
        demographics = _demographics(given, family, birth_date, gender, postal_code)

        async def run() -> PatientSearch:
            async with open_node(settings) as services:
                return await _network(services).search_patient(
                    demographics,
                    communities=community,
                    use_cache=not no_cache,
                    requester=_requester(user),
                )

        result = asyncio.run(run())
        if as_json:
            typer.echo(json.dumps(_patients_json(result), indent=1))
            return
        console = Console()
        table = Table(
            title=f"{len(result.patients)} found, {len(result.searched)} communities asked "
            f"({result.xcpd_sent} XCPD sent)"
        )
        for column in ("community", "patient ID", "name", "birth date", "score", "cached"):
            table.add_column(column)
        for p in result.patients:
            d = p.demographics
            name = d.names[0] if d and d.names else PersonName()
            table.add_row(
                p.home_community_id,
                p.patient_id.to_cx(),
                f"{' '.join(name.given)} {name.family}".strip(),
                str(d.birth_date) if d and d.birth_date else "",
                str(p.score),
                "yes" if p.from_cache else "",
            )
        console.print(table)
        _print_failures(console, result.failures)

    @studies_app.command("list")
    def list_(
        given: Given,
        family: Family,
        birth_date: Birth,
        gender: Gender = "",
        postal_code: Postal = "",
        community: Community = None,
        user: User = "",
        as_json: AsJson = False,
        config: ConfigOption = None,
    ) -> None:
        """Find the patient, then list their studies and reports at every community (ITI-38)."""
        settings = settings_from(config)
        demographics = _demographics(given, family, birth_date, gender, postal_code)

        async def run() -> tuple[PatientSearch, Any]:
            async with open_node(settings) as services:
                net = _network(services)
                requester = _requester(user)
                found = await net.search_patient(
                    demographics, communities=community, requester=requester
                )
                docs = await net.list_documents(found.patients, requester=requester)
                return found, docs

        found, docs = asyncio.run(run())
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "status": docs.status,
                        "documents": [_document_json(d) for d in docs.documents],
                        "failures": [
                            {
                                "home_community_id": f.home_community_id,
                                "error_code": f.error_code,
                                "detail": f.detail,
                            }
                            for f in (*found.failures, *docs.failures)
                        ],
                    },
                    indent=1,
                )
            )
            return
        console = Console()
        table = Table(
            title=f"{docs.status}: {len(docs.documents)} documents from "
            f"{len(found.patients)} communities"
        )
        for column in ("date", "kind", "title", "community", "document uniqueId", "repository"):
            table.add_column(column)
        for d in docs.documents:
            when = d.service_start_time or d.creation_time
            table.add_row(
                when.date().isoformat() if when else "",
                "study (KOS)" if d.is_manifest else d.mime_type,
                d.title,
                d.home_community_id,
                d.document_unique_id,
                d.repository_unique_id,
            )
        console.print(table)
        _print_failures(console, (*found.failures, *docs.failures))

    @studies_app.command("fetch")
    def fetch(
        community_id: Annotated[str, typer.Option("--community", help="Home community ID")],
        document: Annotated[str, typer.Option("--document", help="The KOS manifest's uniqueId")],
        repository: Annotated[str, typer.Option("--repository", help="repositoryUniqueId")],
        forward_to: Annotated[
            str | None, typer.Option("--forward-to", help="PACS AE title")
        ] = None,
        local_patient_id: Annotated[
            str | None, typer.Option("--local-patient-id", help="Reconcile to ID^^^&OID&ISO")
        ] = None,
        user: User = "",
        as_json: AsJson = False,
        config: ConfigOption = None,
    ) -> None:
        """Retrieve a study (ITI-39 manifest, RAD-75 instances) into the local store."""
        settings = settings_from(config)
        home = community_id if community_id.startswith("urn:oid:") else f"urn:oid:{community_id}"
        manifest = RemoteDocument(
            home_community_id=home,
            repository_unique_id=repository,
            document_unique_id=document,
            entry_uuid="",
            mime_type="application/dicom",
        )
        reconcile = _cx(local_patient_id) if local_patient_id else None
        console = Console(stderr=True, quiet=as_json)
        started = time.monotonic()

        async def run() -> Any:
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[mb]:.1f} MB  {task.fields[rate]:.1f} MB/s"),
                TimeRemainingColumn(),
                console=console,
                disable=as_json,
            ) as bars:
                tasks: dict[str, TaskID] = {}

                def update(state: RetrievalProgress) -> None:
                    elapsed = max(time.monotonic() - started, 1e-6)
                    mb = state.received_bytes / 1e6
                    if "study" not in tasks:
                        tasks["study"] = bars.add_task(
                            "study", total=state.total_instances, mb=0.0, rate=0.0
                        )
                    bars.update(
                        tasks["study"],
                        completed=state.already_present + state.received_instances,
                        mb=mb,
                        rate=mb / elapsed,
                    )
                    for uid, (done, total) in state.per_series.items():
                        if uid not in tasks:
                            tasks[uid] = bars.add_task(
                                f"  series …{uid[-12:]}", total=total, mb=0.0, rate=0.0
                            )
                        bars.update(tasks[uid], completed=done)

                async with open_node(settings) as services:
                    return await _network(services).retrieve_study(
                        home,
                        manifest,
                        progress=update,
                        reconcile_to=reconcile,
                        forward_to=forward_to,
                        requester=_requester(user),
                    )

        report = asyncio.run(run())
        seconds = time.monotonic() - started
        out = {
            "study_instance_uid": report.study_instance_uid,
            "total_instances": report.total_instances,
            "already_present": report.already_present,
            "received_instances": report.received_instances,
            "received_bytes": report.received_bytes,
            "seconds": round(seconds, 2),
            "missing": list(report.missing_sop_instance_uids),
            "errors": [e.error_code for e in report.errors],
            "forwarded": None
            if report.forwarded is None
            else {"sent": report.forwarded.sent, "failed": list(report.forwarded.failed)},
        }
        if as_json:
            typer.echo(json.dumps(out, indent=1))
        else:
            Console().print(
                f"{'complete' if report.is_complete else '[red]incomplete[/]'}: "
                f"{report.received_instances} received, {report.already_present} "
                f"already here, {len(report.missing_sop_instance_uids)} missing, "
                f"{report.received_bytes / 1e6:.1f} MB in {seconds:.1f} s"
            )
        if not report.is_complete:
            raise typer.Exit(2)


def _cx(text: str) -> PatientId:
    ident, _, rest = text.partition("^^^")
    authority = rest.strip("&").split("&")[0] if rest else ""
    if not ident or not authority:
        raise typer.BadParameter("--local-patient-id must be ID^^^&OID&ISO")
    return PatientId(id=ident, assigning_authority=authority)
