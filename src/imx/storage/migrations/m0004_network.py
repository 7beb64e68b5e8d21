"""0004: the initiating gateway's correlation cache (network_correlations)."""

from __future__ import annotations

import sqlalchemy as sa

from imx.storage import schema

VERSION = 4
NAME = "network correlation cache"


def upgrade(connection: sa.Connection) -> None:
    schema.metadata.create_all(connection, tables=[schema.network_correlations])
