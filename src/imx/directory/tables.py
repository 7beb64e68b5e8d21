"""The directory's own tables (prefix ``dir_``), used by the service and by the node cache.

Kept apart from the node's migrated schema (``imx.storage.migrations``): the directory may run
in its own database, and the cache is a disposable replica, so ``create_all`` is enough. On
PostgreSQL a ``schema`` keeps them out of the node's namespace altogether.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["DirectoryTables"]


class DirectoryTables:
    def __init__(self, schema: str | None = None) -> None:
        self.metadata = sa.MetaData(schema=schema)
        m = self.metadata
        self.organization = sa.Table(
            "dir_organization",
            m,
            sa.Column("id", sa.String(64), primary_key=True),
            sa.Column("version", sa.Integer, nullable=False),
            sa.Column("last_updated_us", sa.BigInteger, nullable=False, index=True),
            sa.Column("is_active", sa.Boolean, nullable=False),
            sa.Column("name", sa.Text, nullable=False),
            sa.Column("name_folded", sa.Text, nullable=False),
            sa.Column("city", sa.String(128), nullable=False),
            sa.Column("city_folded", sa.String(128), nullable=False),
            sa.Column("state", sa.String(64), nullable=False),
            sa.Column("state_folded", sa.String(64), nullable=False),
            sa.Column("postal_code", sa.String(16), nullable=False, index=True),
            sa.Column("latitude", sa.Float),
            sa.Column("longitude", sa.Float),
            sa.Column("part_of", sa.String(64), nullable=False, index=True),
            sa.Column("managing_organization", sa.String(64), nullable=False, index=True),
            # Own usable endpoints: " ITI-55 RAD-75 " for a LIKE prefilter, and as JSON.
            sa.Column("transactions", sa.String(200), nullable=False),
            sa.Column("endpoints", sa.Text, nullable=False),
            sa.Column("resource", sa.Text, nullable=False),
            # The radius search's bounding-box prefilter (geo.bounding_box) uses this index.
            sa.Index("dir_organization_position", "latitude", "longitude"),
        )
        self.endpoint = sa.Table(
            "dir_endpoint",
            m,
            sa.Column("id", sa.String(64), primary_key=True),
            sa.Column("version", sa.Integer, nullable=False),
            sa.Column("last_updated_us", sa.BigInteger, nullable=False, index=True),
            sa.Column("organization", sa.String(64), nullable=False, index=True),
            sa.Column("connection_type", sa.String(64), nullable=False),
            sa.Column("status", sa.String(32), nullable=False),
            sa.Column("resource", sa.Text, nullable=False),
        )
        # Organization.endpoint references to separate Endpoint resources.
        self.organization_endpoint = sa.Table(
            "dir_organization_endpoint",
            m,
            sa.Column("organization_id", sa.String(64), primary_key=True),
            sa.Column("endpoint_id", sa.String(64), primary_key=True, index=True),
        )
        self.history = sa.Table(
            "dir_history",
            m,
            sa.Column("resource_type", sa.String(32), primary_key=True),
            sa.Column("id", sa.String(64), primary_key=True),
            sa.Column("version", sa.Integer, primary_key=True),
            sa.Column("last_updated_us", sa.BigInteger, nullable=False, index=True),
            sa.Column("resource", sa.Text, nullable=False),
        )
        self.token = sa.Table(
            "dir_token",
            m,
            sa.Column("token_sha256", sa.String(64), primary_key=True),
            sa.Column("organization", sa.String(64), nullable=False),
            sa.Column("is_admin", sa.Boolean, nullable=False),
            sa.Column("label", sa.String(200), nullable=False),
        )
        self.state = sa.Table(
            "dir_sync_state",
            m,
            sa.Column("key", sa.String(64), primary_key=True),
            sa.Column("value", sa.Text, nullable=False),
        )
