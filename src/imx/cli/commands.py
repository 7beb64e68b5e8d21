"""Registers every command group on the root app (each group lives in its own module)."""

from __future__ import annotations

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    # Imports here keep each group's heavy dependencies off `imx --help`.
    from imx.cli import config_cmd, db_cmd, import_cmd, patients_cmd, serve_cmd, synth_cmd
    from imx.cli import audit_cmd
    from imx.cli import pki_cmd
    from imx.cli import directory_cmd
    from imx.cli import demo_cmd, network_cmd

    config_cmd.register(app)
    db_cmd.register(app)
    import_cmd.register(app)
    synth_cmd.register(app)
    patients_cmd.register(app)
    serve_cmd.register(app)
    audit_cmd.register(app)
    pki_cmd.register(app)
    directory_cmd.register(app)
    network_cmd.register(app)
    demo_cmd.register(app)
