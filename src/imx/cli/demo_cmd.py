"""``imx demo``: the network in a box (see ``imx.cli.network_demo``)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        directory: Annotated[
            Path, typer.Option("--dir", help="Where the demo network lives.")
        ] = Path("var/demo"),
        once: Annotated[
            bool, typer.Option("--once", help="Exit after the scripted exchange.")
        ] = False,
    ) -> None:
        """Start a CA, a directory and three communities on loopback, then run an exchange."""
        from imx.cli.network_demo import run_network_demo

        code = asyncio.run(run_network_demo(directory.resolve(), once=once, console=Console()))
        raise typer.Exit(code)
