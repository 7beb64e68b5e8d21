"""``imx db upgrade|version``: schema migrations of the metadata store."""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console

from imx.cli.options import ConfigOption, settings_from
from imx.storage.engine import create_engine
from imx.storage.migrate import current_version, latest_version, upgrade


def register(app: typer.Typer) -> None:
    group = typer.Typer(no_args_is_help=True, help="Database schema migrations.")
    app.add_typer(group, name="db")

    @group.command("upgrade")
    def upgrade_cmd(config: ConfigOption = None) -> None:
        """Apply pending migrations (safe to run again: already-applied ones are skipped)."""
        settings = settings_from(config)
        settings.storage.data_dir.mkdir(parents=True, exist_ok=True)

        async def run() -> tuple[list[int], int]:
            engine = create_engine(settings.storage.effective_database_url())
            try:
                applied = await upgrade(engine)
                return applied, await current_version(engine)
            finally:
                await engine.dispose()

        applied, version = asyncio.run(run())
        msg = f"applied {applied}" if applied else "nothing to apply"
        Console().print(f"schema version {version} (latest {latest_version()}): {msg}")
