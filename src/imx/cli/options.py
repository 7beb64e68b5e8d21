"""Options shared by every command (config file path) and settings loading."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from imx.settings import Settings, load_settings

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="TOML settings file (or IMX_CONFIG).", show_default=False),
]


def settings_from(config: Path | None) -> Settings:
    try:
        return load_settings(config)
    except FileNotFoundError as exc:
        raise typer.BadParameter(str(exc)) from exc
