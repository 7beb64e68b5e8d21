"""``imx config show|check``."""

from __future__ import annotations

import json

import typer
from rich.console import Console

from imx.cli.options import ConfigOption, settings_from


def register(app: typer.Typer) -> None:
    group = typer.Typer(no_args_is_help=True, help="Show or check the effective settings.")
    app.add_typer(group, name="config")

    @group.command("show")
    def show(config: ConfigOption = None) -> None:
        """Print the effective settings (secrets masked) as JSON."""
        settings = settings_from(config)
        Console().print_json(json.dumps(settings.model_dump(mode="json")))

    @group.command("check")
    def check(config: ConfigOption = None) -> None:
        """Validate the settings; exit 1 on problems."""
        try:
            settings = settings_from(config)
        except Exception as exc:  # noqa: BLE001 - pydantic errors are shown to the user
            Console(stderr=True).print(f"[red]invalid settings:[/red] {exc}")
            raise typer.Exit(1) from exc
        problems = settings.problems()
        for p in problems:
            Console(stderr=True).print(f"[red]problem:[/red] {p}")
        if problems:
            raise typer.Exit(1)
        Console().print("[green]settings OK[/green]")
