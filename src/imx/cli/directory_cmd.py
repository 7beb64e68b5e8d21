"""``imx directory serve|token|load|sync|publish|find``: the participant directory.

``serve`` runs the FHIR directory service on its own database; ``sync`` fills this node's cache
(``<data_dir>/directory-cache.sqlite``) that routing reads; ``publish`` PUTs this node's own
organisation, facilities and endpoints. See docs/directory.md.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import tomllib
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from imx.cli.options import ConfigOption, settings_from
from imx.directory.auth import hash_token
from imx.directory.cache import CACHE_FILE, DirectoryCache
from imx.directory.publish import FacilitySpec, PublishSpec, node_entries, publish
from imx.directory.store import DirectoryStore
from imx.directory.sync import DirectoryClient, sync_directory
from imx.directory.tokens import Authenticator
from imx.errors import GatewayError
from imx.settings import Settings
from imx.storage.engine import create_engine

__all__ = ["register"]

DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="IMX_DIRECTORY_DATABASE_URL",
        show_default=False,
        help="Directory database (default: sqlite <data_dir>/directory.sqlite).",
    ),
]
DirectoryUrl = Annotated[
    str, typer.Option("--directory", envvar="IMX_DIRECTORY_URL", help="Directory FHIR base URL.")
]
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="IMX_DIRECTORY_TOKEN",
        show_default=False,
        help="API token (sent as Bearer).",
    ),
]


def _database_url(settings: Settings, url: str | None) -> str:
    if url:
        return url
    settings.storage.data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite+aiosqlite:///{(settings.storage.data_dir / 'directory.sqlite').resolve()}"


def _cache_path(settings: Settings, path: Path | None) -> Path:
    if path is not None:
        return path
    settings.storage.data_dir.mkdir(parents=True, exist_ok=True)
    return settings.storage.data_dir / CACHE_FILE


async def _open_store(url: str) -> DirectoryStore:
    store = DirectoryStore(create_engine(url))
    await store.create_tables()
    return store


def _fail(exc: GatewayError) -> typer.Exit:
    Console(stderr=True).print(f"[red]error:[/red] {exc.detail}")
    return typer.Exit(1)


def serve_cmd(
    config: ConfigOption = None,
    database_url: DatabaseOption = None,
    host: Annotated[str, typer.Option(help="Bind address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8090,
    certfile: Annotated[Path | None, typer.Option(help="TLS certificate (PEM).")] = None,
    keyfile: Annotated[Path | None, typer.Option(help="TLS private key (PEM).")] = None,
    admin_token_sha256: Annotated[
        str | None,
        typer.Option(
            envvar="IMX_DIRECTORY_ADMIN_TOKEN_SHA256",
            help="SHA-256 (hex) of the admin bearer token.",
        ),
    ] = None,
) -> None:
    """Serve the directory (FHIR R4 Organization/Endpoint) on its own database."""
    import uvicorn

    from imx.directory.app import build_directory_app

    if not ipaddress.ip_address(host).is_loopback and not (certfile and keyfile):
        raise typer.BadParameter(
            "binding beyond loopback needs --certfile and --keyfile", param_hint="--host"
        )
    settings = settings_from(config)
    url = _database_url(settings, database_url)

    async def run() -> None:
        store = await _open_store(url)
        auth = Authenticator(store, admin_token_sha256=admin_token_sha256)
        server = uvicorn.Server(
            uvicorn.Config(
                build_directory_app(store, auth),
                host=host,
                port=port,
                log_level="info",
                ssl_certfile=str(certfile) if certfile else None,
                ssl_keyfile=str(keyfile) if keyfile else None,
            )
        )
        try:
            await server.serve()
        finally:
            await store.close()

    asyncio.run(run())


def token_cmd(
    organization: Annotated[str, typer.Option("--org", help="Organisation OID.")],
    config: ConfigOption = None,
    database_url: DatabaseOption = None,
    label: Annotated[str, typer.Option(help="Note kept with the token.")] = "",
) -> None:
    """Issue an API token for an organisation (printed once; only its hash is stored)."""
    settings = settings_from(config)

    async def run() -> str:
        store = await _open_store(_database_url(settings, database_url))
        try:
            return await Authenticator(store).issue_token(
                organization.removeprefix("urn:oid:"), label=label
            )
        finally:
            await store.close()

    typer.echo(asyncio.run(run()))


def hash_token_cmd(token: Annotated[str, typer.Argument(help="A token to hash.")]) -> None:
    """Print the SHA-256 to give ``serve --admin-token-sha256``."""
    typer.echo(hash_token(token))


def load_cmd(
    config: ConfigOption = None,
    database_url: DatabaseOption = None,
    synthetic: Annotated[int, typer.Option(help="Generate N synthetic organisations.")] = 0,
    seed: Annotated[int, typer.Option(help="Synthetic seed.")] = 1,
    file: Annotated[Path | None, typer.Option(help="JSON list or Bundle of resources.")] = None,
) -> None:
    """Load organisations into the directory database (admin; versions and history kept)."""
    from imx.directory.synth import generate_organizations

    settings = settings_from(config)
    resources: list[dict[str, Any]] = generate_organizations(synthetic, seed) if synthetic else []
    if file is not None:
        data = json.loads(file.read_text())
        resources += (
            [e["resource"] for e in data.get("entry", [])] if isinstance(data, dict) else data
        )

    async def run() -> int:
        store = await _open_store(_database_url(settings, database_url))
        try:
            return len(await store.put_many(resources))
        finally:
            await store.close()

    try:
        Console().print(f"loaded {asyncio.run(run())} resources")
    except GatewayError as exc:
        raise _fail(exc) from exc


def sync_cmd(
    directory: DirectoryUrl,
    config: ConfigOption = None,
    cache: Annotated[Path | None, typer.Option(help="Cache file.")] = None,
    full: Annotated[bool, typer.Option("--full", help="Full sync even if cached.")] = False,
    token: TokenOption = None,
    retries: Annotated[int, typer.Option(min=0, max=10, help="Retries (back-off).")] = 3,
) -> None:
    """Sync this node's directory cache now (full the first time, then incremental)."""
    settings = settings_from(config)

    async def run() -> Any:
        store = await DirectoryCache.open(_cache_path(settings, cache))
        client = DirectoryClient(directory, api_key=token, max_retries=retries)
        try:
            return await sync_directory(client, store, full=True if full else None)
        finally:
            await client.aclose()
            await store.close()

    try:
        report = asyncio.run(run())
    except GatewayError as exc:
        raise _fail(exc) from exc
    Console().print(
        f"{report.mode} sync: {report.received} received, {report.stored} stored, "
        f"{report.skipped_organizations} organisations and {report.skipped_endpoints} "
        f"endpoints skipped, {report.seconds} s, high water {report.high_water}"
    )
    for problem in report.problems[:20]:
        Console().print(f"  skipped: {problem}")


def publish_cmd(
    file: Annotated[Path, typer.Option(help="TOML: name, address, facilities.")],
    directory: DirectoryUrl,
    config: ConfigOption = None,
    token: TokenOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print, do not send.")] = False,
) -> None:
    """Create or update this node's organisation, facilities and endpoints."""
    settings = settings_from(config)
    spec = _publish_spec(tomllib.loads(file.read_text()), settings)
    try:
        resources = node_entries(spec)
    except GatewayError as exc:
        raise _fail(exc) from exc
    if dry_run:
        typer.echo(json.dumps(resources, indent=2, ensure_ascii=False))
        return

    async def run() -> list[str]:
        client = DirectoryClient(directory, api_key=token)
        try:
            return await publish(client, resources)
        finally:
            await client.aclose()

    try:
        for line in asyncio.run(run()):
            Console().print(line)
    except GatewayError as exc:
        raise _fail(exc) from exc


def find_cmd(
    config: ConfigOption = None,
    cache: Annotated[Path | None, typer.Option(help="Cache file.")] = None,
    transaction: Annotated[str | None, typer.Option(help="e.g. RAD-75, ITI-55.")] = None,
    name: Annotated[str | None, typer.Option(help="Name contains.")] = None,
    near_zip: Annotated[str | None, typer.Option(help="Centre ZIP code.")] = None,
    radius_miles: Annotated[float | None, typer.Option(help="Radius (miles).")] = None,
) -> None:
    """Search the local cache as routing does (works with the directory down)."""
    from imx.directory.view import organization_view

    settings = settings_from(config)

    async def run() -> list[Any]:
        store = await DirectoryCache.open(_cache_path(settings, cache))
        try:
            return await store.find_communities(
                transaction=transaction,
                name=name,
                near_postal_code=near_zip,
                radius_miles=radius_miles,
            )
        finally:
            await store.close()

    try:
        found = asyncio.run(run())
    except GatewayError as exc:
        raise _fail(exc) from exc
    from imx.directory.geo import postal_code_centroid

    origin = postal_code_centroid(near_zip) if near_zip else None
    typer.echo(
        json.dumps(
            [organization_view(c, origin=origin) for c in found], indent=2, ensure_ascii=False
        )
    )


def register(app: typer.Typer) -> None:
    group = typer.Typer(no_args_is_help=True, help="Participant directory (FHIR R4).")
    app.add_typer(group, name="directory")
    group.command("serve")(serve_cmd)
    group.command("token")(token_cmd)
    group.command("hash-token")(hash_token_cmd)
    group.command("load")(load_cmd)
    group.command("sync")(sync_cmd)
    group.command("publish")(publish_cmd)
    group.command("find")(find_cmd)


def _publish_spec(data: dict[str, Any], settings: Settings) -> PublishSpec:
    """TOML keys: name, city, state, postal_code, transactions, [[facilities]] oid name ..."""
    facilities = tuple(
        FacilitySpec(
            oid=f["oid"],
            name=f["name"],
            city=f.get("city", ""),
            state=f.get("state", ""),
            postal_code=f.get("postal_code", ""),
            active=f.get("active", True),
        )
        for f in data.get("facilities", [])
    )
    extra = {"transactions": tuple(data["transactions"])} if "transactions" in data else {}
    return PublishSpec(
        home_community_id=data.get("home_community_id", settings.node.home_community_id),
        name=data.get("name", settings.node.name),
        base_url=data.get("base_url", settings.node.base_url),
        city=data.get("city", ""),
        state=data.get("state", ""),
        postal_code=data.get("postal_code", ""),
        active=data.get("active", True),
        facilities=facilities,
        **extra,
    )
