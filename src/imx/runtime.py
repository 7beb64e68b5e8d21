"""The composition root: builds adapters from Settings and hands them to services.

Nothing else lives here (CONVENTIONS §1). ``open_node`` is used by ``imx serve``,
``imx import`` and the demo; tests use ``tests/support/node.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable

from imx.audit.setup import AtnaPipeline, build_atna
from imx.peers.dimse_forward import DimseForwarder
from imx.peers.soap_client import SoapClientSettings, SoapPeerGateway
from imx.security.tls import client_ssl_context
from imx.security.xua.outbound import xua_header_factory
from imx.directory.cache import DirectoryCache
from imx.directory.sync import DirectoryClient, run_sync_forever
from imx.peers.static_directory import ChainedDirectory, StaticDirectory
from imx.ports import AuditSink, PeerDirectory
from imx.services.context import NodeServices
from imx.services.document_query import DocumentQueryService
from imx.services.ingest import IngestService
from imx.services.manifests import ManifestService
from imx.services.network import NetworkService
from imx.services.patient_discovery import PatientDiscoveryService
from imx.services.patient_feed import PatientFeedService
from imx.services.retrieve import RetrieveService
from imx.settings import Settings
from imx.storage import build_blob_store, build_metadata_store
from imx.storage.clock import SystemClock
from imx.storage.quarantine import FileQuarantine
from imx.storage.sql_audit import SqlAuditSink
from imx.storage.sql_network import SqlCorrelationCache

__all__ = ["open_node"]

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def open_node(settings: Settings, *, auto_upgrade: bool = True,
                    primary: bool = True) -> AsyncIterator[NodeServices]:
    """Open the node's stores and services; close them on exit.

    Args:
        settings: the effective settings.
        auto_upgrade: apply pending database migrations first (``imx db upgrade``).
        primary: False in an extra HTTP worker process (``http.workers``): the node-wide
            background jobs (ATNA shipping, directory sync) stay with the primary, which
            ships the audit records the workers put in the shared outbox.
    """
    settings.storage.data_dir.mkdir(parents=True, exist_ok=True)
    metadata = await build_metadata_store(settings.storage, auto_upgrade=auto_upgrade)
    atna: AtnaPipeline | None = None
    try:
        blobs = build_blob_store(settings.storage)
        clock = SystemClock()
        audit: AuditSink = SqlAuditSink(metadata)
        if settings.audit.enabled:  # ATNA: store + enqueue, shipped by one background task
            atna = build_atna(settings, SqlAuditSink(metadata), _audit_tls(settings))
            audit = atna.sink
            if primary:
                await atna.start()
        ingest = IngestService(
            metadata=metadata, blobs=blobs, quarantine=FileQuarantine(settings.storage.quarantine_dir),
            audit=audit, clock=clock, settings=settings.ingest, node=settings.node,
        )
        manifests = ManifestService(
            metadata=metadata, blobs=blobs, clock=clock, audit=audit,
            node=settings.node, settings=settings.manifests,
            retrieve_ae_title=settings.dimse.ae_title, dicomweb_prefix=settings.dicomweb.prefix,
        )
        if settings.manifests.enabled:
            ingest.add_listener(manifests)
        peers = _peer_gateway(settings)
        directory, close_directory = await _open_directory(settings, sync=primary)
        network = NetworkService(
            settings=settings.initiating, home_community_id=settings.node.home_community_id,
            directory=directory, peers=peers,
            correlations=SqlCorrelationCache(metadata), metadata=metadata, ingest=ingest,
            audit=audit, clock=clock,
            forwarder=DimseForwarder(calling_ae_title=settings.dimse.ae_title,
                                     destinations=settings.dimse.destinations, metadata=metadata,
                                     blobs=blobs))
        try:
            yield NodeServices(
                settings=settings, clock=clock, metadata=metadata, blobs=blobs, audit=audit,
                ingest=ingest, manifests=manifests,
                patient_discovery=PatientDiscoveryService(index=metadata, audit=audit,
                                                          clock=clock),
                document_query=DocumentQueryService(
                    metadata=metadata, home_community_id=settings.node.home_community_id,
                    index=metadata),
                retrieve=RetrieveService(
                    metadata=metadata, blobs=blobs,
                    home_community_id=settings.node.home_community_id,
                    repository_unique_id=settings.node.repository_unique_id),
                patient_feed=PatientFeedService(metadata=metadata, audit=audit, clock=clock,
                                                index=metadata),
                network=network,
            )
        finally:
            await peers.aclose()
            await close_directory()
            await ingest.drain()  # background header indexing finishes before the store closes
    finally:
        if atna is not None and primary:
            await atna.stop()
        await metadata.close()


def _audit_tls(settings: Settings) -> ssl.SSLContext:
    a, tls = settings.audit, settings.tls
    cert, key, ca = (a.tls_cert_file or tls.cert_file, a.tls_key_file or tls.key_file,
                     a.tls_ca_file or tls.trust_bundle)
    if cert is None or key is None or ca is None:
        raise ValueError("audit.enabled needs TLS files (see `imx config check`)")
    return client_ssl_context(cert_file=cert, key_file=key, trust_bundle=ca,
                              crl_files=tls.crl_files, min_version=tls.min_version)


async def _open_directory(settings: Settings, *, sync: bool = True
                          ) -> tuple[PeerDirectory, Callable[[], Awaitable[None]]]:
    """Routing: the configured communities, then (with ``directory.url``) the directory cache,
    kept in sync by a background task; the node routes from the cache when the directory is
    down (docs/directory.md)."""
    static = StaticDirectory(settings.communities)
    if not settings.directory.url:
        async def nothing() -> None:
            return None

        return static, nothing
    cache = await DirectoryCache.open(settings.storage.data_dir / "directory-cache.sqlite")
    if not sync:  # an HTTP worker reads the cache the primary keeps in sync
        return ChainedDirectory(static, cache), cache.close
    key = settings.directory.api_key
    client = DirectoryClient(settings.directory.url,
                             api_key=key.get_secret_value() if key is not None else None)
    stop = asyncio.Event()
    task = asyncio.create_task(run_sync_forever(
        client, cache, interval_s=settings.directory.sync_interval_s, stop=stop,
        full_every=settings.directory.full_sync_every))

    async def close() -> None:
        stop.set()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        await client.aclose()
        await cache.close()

    return ChainedDirectory(static, cache), close


def _peer_gateway(settings: Settings) -> SoapPeerGateway:
    i = settings.initiating
    tls = settings.tls
    ssl_context = None
    security_header = None
    if tls.enabled and tls.cert_file and tls.key_file and tls.trust_bundle:
        # The same node certificate authenticates us in TLS and signs our assertions.
        ssl_context = client_ssl_context(cert_file=tls.cert_file, key_file=tls.key_file,
                                         trust_bundle=tls.trust_bundle, crl_files=tls.crl_files,
                                         min_version=tls.min_version)
        if i.send_assertion:
            security_header = xua_header_factory(
                cert_file=tls.cert_file, key_file=tls.key_file,
                organization=settings.node.institution_name,
                organization_id=settings.node.home_community_id,
                home_community_id=settings.node.home_community_id)
    client = SoapClientSettings(
        home_community_id=settings.node.home_community_id,
        organization_name=settings.node.institution_name, xcpd_timeout_s=i.xcpd_timeout_s,
        query_timeout_s=i.query_timeout_s, retrieve_timeout_s=i.retrieve_timeout_s,
        connect_timeout_s=i.connect_timeout_s, retries=i.retries)
    return SoapPeerGateway(client, ssl_context=ssl_context, security_header=security_header)
