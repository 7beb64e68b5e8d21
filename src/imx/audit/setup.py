"""Builds the ATNA pipeline (encoding sink + shipper) from settings; used by ``imx.runtime``."""

from __future__ import annotations

import os
import socket
import ssl
from typing import Protocol

from imx.audit.message import AuditSource
from imx.audit.shipper import AuditOutbox, SyslogShipper
from imx.audit.sink import AtnaAuditSink, AuditJournal
from imx.settings import Settings

__all__ = ["AuditStore", "audit_source", "build_atna"]


class AuditStore(AuditJournal, AuditOutbox, Protocol):
    """What the pipeline needs from storage: ``imx.storage.sql_audit.SqlAuditSink``."""


def audit_source(settings: Settings) -> AuditSource:
    node = settings.node
    return AuditSource(source_id=node.name, enterprise_site_id=node.home_community_id,
                       user_id=node.base_url)


def build_atna(settings: Settings, store: AuditStore, ssl_context: ssl.SSLContext,
               ) -> tuple[AtnaAuditSink, SyslogShipper]:
    """The node's AuditSink (store + enqueue) and the task that empties the outbox."""
    audit = settings.audit
    shipper = SyslogShipper(
        store, host=audit.repository_host, port=audit.repository_port,
        ssl_context=ssl_context, server_hostname=audit.server_name,
        batch_size=audit.batch_size, initial_backoff_s=audit.initial_backoff_s,
        max_backoff_s=audit.max_backoff_s, connect_timeout_s=audit.connect_timeout_s,
        ack_timeout_s=audit.ack_timeout_s, poll_interval_s=audit.poll_interval_s)
    sink = AtnaAuditSink(store, source=audit_source(settings), hostname=socket.gethostname(),
                         app_name=audit.app_name, procid=str(os.getpid()),
                         on_enqueued=shipper.notify)
    return sink, shipper
