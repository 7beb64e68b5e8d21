"""``imx import PATH...``: folders, zip files and CD/DVD layouts (DICOMDIR) into the node.

#DitchTheDisk: a patient's CD is read through its DICOMDIR when there is one (file IDs
in uppercase 8.3 names without extensions, PS3.10 8.5), else every file is tried.
``--json`` prints one line per file only after it is committed (an acknowledgement).
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
import zipfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Protocol

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from imx.cli.options import ConfigOption, settings_from
from imx.dicom.dicomdir import files_from_dicomdir
from imx.services.context import NodeServices
from imx.services.ingest import IngestResult, IngestService, IngestStatus

_CONCURRENCY = 4


class _OneFile(Protocol):
    async def __call__(self, f: Path | None, display: str | None = None,
                       result: IngestResult | None = None) -> None: ...


def discover(path: Path) -> Iterator[Path]:
    """Files to import under ``path``: DICOMDIR-referenced files if present, else all files."""
    if path.is_file():
        yield path
        return
    dicomdir = next((p for p in (path / "DICOMDIR", path / "dicomdir") if p.is_file()), None)
    if dicomdir is not None:
        referenced = files_from_dicomdir(dicomdir)
        if referenced:
            yield from referenced
            return
    for p in sorted(path.rglob("*")):
        if p.is_file() and p.name.upper() != "DICOMDIR" and not p.name.startswith("."):
            yield p


def _is_zip(f: Path) -> bool:
    # A Part-10 file's preamble is free-form (PS3.10 7.1), so a DICOM file is never treated as a
    # zip even if its bytes happen to look like one.
    with f.open("rb") as fh:
        head = fh.read(132)
    return head[128:132] != b"DICM" and zipfile.is_zipfile(f)


async def _import_paths(services: NodeServices, paths: list[Path], *,
                        as_json: bool) -> tuple[Counter[str], int]:
    counts: Counter[str] = Counter()
    sem = asyncio.Semaphore(_CONCURRENCY)
    files = [f for p in paths for f in discover(p)]
    total_bytes = sum(f.stat().st_size for f in files)
    console = Console(stderr=True)
    # One bar over bytes (MB, MB/s) with the file count beside it.
    with Progress(TextColumn("[bold]import[/] {task.fields[done]}/{task.fields[files]} files"),
                  BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn(),
                  console=console, disable=as_json, transient=True) as progress:
        task = progress.add_task("import", total=total_bytes, done=0, files=len(files))
        done = 0

        async def one(f: Path | None, display: str | None = None,
                      result: IngestResult | None = None) -> None:
            if result is None and f is not None:
                async with sem:
                    result = await services.ingest.ingest_file(
                        f, source=f"import:{display or f.name}")
            if result is not None:
                _report(result, display or str(f), counts, as_json=as_json)

        async def handle(f: Path) -> None:
            nonlocal done
            size = f.stat().st_size
            if _is_zip(f):
                await _import_zip(f, one, services.ingest,
                                  services.settings.ingest.max_instance_bytes)
            else:
                await one(f)
            done += 1
            progress.update(task, advance=size, done=done)

        await asyncio.gather(*(handle(f) for f in files))
    await services.manifests.flush()
    return counts, total_bytes


async def _import_zip(archive: Path, one: _OneFile, ingest: IngestService,
                      max_member_bytes: int) -> None:
    """Stream members one at a time through a temp file (never the whole archive in RAM).

    Zip bomb guard: a member whose declared or actual size exceeds the instance limit is
    rejected as ``too-large`` without writing more than the limit to disk.
    """
    with zipfile.ZipFile(archive) as zf, tempfile.TemporaryDirectory() as tmp:
        for info in zf.infolist():
            if info.is_dir():
                continue
            display = f"{archive.name}!{info.filename}"
            target = Path(tmp) / f"member-{info.CRC:08x}-{len(info.filename)}"
            too_large = info.file_size > max_member_bytes
            if not too_large:
                with zf.open(info) as src, target.open("wb") as dst:
                    copied = 0
                    while chunk := src.read(1 << 20):
                        copied += len(chunk)
                        if copied > max_member_bytes:
                            too_large = True
                            break
                        dst.write(chunk)
            if too_large:
                target.unlink(missing_ok=True)
                result = await ingest.reject_input(
                    reason="too-large", detail="zip member larger than ingest.max_instance_bytes",
                    source=f"import:{display}")
                await one(None, display, result)
                continue
            await one(target, display, None)
            target.unlink(missing_ok=True)


def _report(result: IngestResult, name: str, counts: Counter[str], *, as_json: bool) -> None:
    key = result.status.value
    if result.status is IngestStatus.REJECTED:
        key = f"rejected:{result.reason}"
    counts[key] += 1
    if as_json:
        sys.stdout.write(json.dumps({"file": name, "status": result.status.value,
                                     "sop_instance_uid": result.sop_instance_uid,
                                     "reason": result.reason}) + "\n")
        sys.stdout.flush()


def register(app: typer.Typer) -> None:
    @app.command("import")
    def import_(paths: Annotated[list[Path], typer.Argument(exists=True)],
                config: ConfigOption = None,
                as_json: Annotated[bool, typer.Option(
                    "--json", help="One JSON line per file, after it is committed.")] = False,
                ) -> None:
        """Import DICOM files, folders, zip files or a CD/DVD (DICOMDIR) into the node."""
        from imx.runtime import open_node  # composition root; keeps `imx --help` light

        settings = settings_from(config)

        async def run() -> tuple[Counter[str], int]:
            async with open_node(settings) as services:
                return await _import_paths(services, paths, as_json=as_json)

        started = time.monotonic()
        counts, total_bytes = asyncio.run(run())
        elapsed_s = max(time.monotonic() - started, 1e-6)
        if not as_json:
            mb = total_bytes / 1e6
            table = Table(title="import summary")
            table.add_column("outcome")
            table.add_column("files", justify="right")
            for k in sorted(counts):
                table.add_row(k, str(counts[k]))
            out = Console()
            out.print(table)
            out.print(f"{sum(counts.values())} files, {mb:.1f} MB in {elapsed_s:.1f} s "
                      f"({mb / elapsed_s:.1f} MB/s); rejected files are kept in "
                      f"{settings.storage.quarantine_dir}", highlight=False)
        if any(k.startswith("rejected") for k in counts):
            raise typer.Exit(1)
