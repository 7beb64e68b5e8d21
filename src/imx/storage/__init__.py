"""Storage adapters: the metadata store (SQLAlchemy: SQLite | PostgreSQL), the file blob
store, the quarantine and the audit table. The only importers of SQLAlchemy and drivers.
"""

from __future__ import annotations

from imx.errors import StoreError
from imx.settings import StorageSettings
from imx.storage.engine import create_engine, create_write_engine
from imx.storage.files import FileBlobStore
from imx.storage.migrate import current_version, latest_version, upgrade
from imx.storage.sql_store import SqlMetadataStore

__all__ = ["build_blob_store", "build_metadata_store"]


async def build_metadata_store(
    storage: StorageSettings, *, auto_upgrade: bool = False
) -> SqlMetadataStore:
    """Open the metadata store; refuse an out-of-date schema unless ``auto_upgrade``."""
    storage.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(storage.effective_database_url())
    if auto_upgrade:
        await upgrade(engine)
    else:
        version = await current_version(engine)
        if version < latest_version():
            await engine.dispose()
            raise StoreError(
                f"database schema is at version {version}, needs "
                f"{latest_version()}: run `imx db upgrade`"
            )
    return SqlMetadataStore(engine, create_write_engine(storage.effective_database_url()))


def build_blob_store(storage: StorageSettings) -> FileBlobStore:
    return FileBlobStore(storage.blob_dir, fsync=storage.fsync)
