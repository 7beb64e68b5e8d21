"""The ``imx`` command line: one Typer app, one module per command group."""

from __future__ import annotations

import typer

from imx.cli import commands

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="imx: imaging exchange gateway (XCPD, XCA, XCA-I, DICOMweb, DIMSE).")
commands.register(app)


def main() -> None:
    app()
