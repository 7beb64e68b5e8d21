"""Typed settings: TOML file + ``IMX_`` environment variables (CONVENTIONS §5).

A leaf module. Precedence: explicit overrides > environment (``IMX_``, ``__``
for nesting, e.g. ``IMX_STORAGE__DATABASE_URL``) > TOML (``--config`` /
``IMX_CONFIG``) > defaults. Read once in ``imx.cli`` and passed down.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

__all__ = [
    "AuditSettings",
    "DicomwebSettings",
    "DimseDestination",
    "DimseSettings",
    "Hl7v2Settings",
    "HttpSettings",
    "IngestSettings",
    "ManifestSettings",
    "NodeSettings",
    "PortalSettings",
    "PortalUser",
    "Settings",
    "StorageSettings",
    "TrustSettings",
    "TlsSettings",
    "load_settings",
]

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class NodeSettings(BaseModel):
    model_config = _FROZEN
    name: str = "imx node"
    home_community_id: str = "urn:oid:1.3.6.1.4.1.21367.2026.1.1"
    # Imaging Document Source repositoryUniqueId = KOS Retrieve Location UID (RAD TF-3 4.68.4.1.2.3)
    repository_unique_id: str = "1.3.6.1.4.1.21367.2026.1.1.1"
    # Assigning authority for patient IDs that arrive with no issuer
    default_assigning_authority: str = "1.3.6.1.4.1.21367.2026.1.1.2"
    institution_name: str = "imx Imaging Centre"
    base_url: str = "http://127.0.0.1:8042"


class HttpSettings(BaseModel):
    model_config = _FROZEN
    host: str = "127.0.0.1"
    port: int = 8042
    max_body_bytes: int = 4 * 1024 * 1024 * 1024  # STOW / MTOM bodies (streamed)
    max_xml_bytes: int = 20 * 1024 * 1024
    insecure_plain_http: bool = True  # allowed on loopback only; TLS settings come with trust
    # Processes accepting on the HTTP socket (docs/architecture.md "Scaling out"): the extra
    # ones serve the stateless endpoints (SOAP, DICOMweb, health) only, so the JSON API and
    # the portal (retrieval jobs and sessions live in one process) must be off.
    workers: int = Field(default=1, ge=1, le=32)
    # Keep-alive requests per connection before "Connection: close" (0 = no limit): peers
    # then reconnect, and the accept race spreads their connections over the workers
    # (http/keepalive.py). Unset: 100 (Apache's MaxKeepAliveRequests default) with
    # workers > 1, no limit with one process (a reconnection, TLS handshake included, would
    # buy nothing there).
    max_requests_per_connection: int | None = Field(default=None, ge=0)

    @property
    def requests_per_connection(self) -> int:
        """The cap in force (0: none)."""
        if self.max_requests_per_connection is not None:
            return self.max_requests_per_connection
        return 100 if self.workers > 1 else 0


class TlsSettings(BaseModel):
    """Mutual TLS on every network-facing listener (SPEC-NOTES §5.6; docs/trust-pki.md)."""

    model_config = _FROZEN
    cert_file: Path | None = None  # our node certificate, then its chain (PEM)
    key_file: Path | None = None  # its private key (PEM, mode 0600)
    trust_bundle: Path | None = None  # the network's trust anchors (PEM); never the system store
    crl_files: tuple[Path, ...] = ()  # the network CAs' CRLs (PEM or DER); reload = restart
    min_version: Literal["1.2", "1.3"] = "1.2"
    expiry_warning_days: int = 30

    @property
    def enabled(self) -> bool:
        return any(p is not None for p in (self.cert_file, self.key_file, self.trust_bundle))

    def problems(self) -> list[str]:
        if not self.enabled:
            return []
        out = [f"tls.{name} is required when TLS is configured"
               for name in ("cert_file", "key_file", "trust_bundle")
               if getattr(self, name) is None]
        out += [f"tls file not found: {p}" for p in
                (self.cert_file, self.key_file, self.trust_bundle, *self.crl_files)
                if p is not None and not p.is_file()]
        return out


class DimseDestination(BaseModel):
    model_config = _FROZEN
    ae_title: str
    host: str
    port: int


class DimseSettings(BaseModel):
    model_config = _FROZEN
    enabled: bool = True
    ae_title: str = "IMX"
    host: str = "127.0.0.1"
    port: int = 11112
    # DICOM TLS (PS3.15 B.9 BCP 195 profile): the listener speaks TLS with the node's [tls]
    # certificate and requires a client certificate from the trust bundle (CRLs honoured).
    tls: bool = False
    max_associations: int = 16
    # PS3.8 D.3.3.1: the largest P-DATA PDU we accept. Large PDUs let a 512 KB CT slice
    # arrive in one PDU; measured ~10% faster C-STORE than 128 KiB (docs/benchmarks.md).
    max_pdu_bytes: int = 1048576
    # C-MOVE destinations by AE title (PS3.4 C.4.2: the SCP must know where a move goes)
    destinations: tuple[DimseDestination, ...] = ()
    acse_timeout_s: float = 30
    dimse_timeout_s: float = 60
    network_timeout_s: float = 60

    @field_validator("ae_title")
    @classmethod
    def _ae_title(cls, v: str) -> str:
        if not 0 < len(v) <= 16 or "\\" in v:
            raise ValueError("AE title must be 1 to 16 characters without backslash (PS3.5 6.2)")
        return v


class StorageSettings(BaseModel):
    model_config = _FROZEN
    data_dir: Path = Path("./var")
    # Default: SQLite in the data directory. PostgreSQL: postgresql+psycopg://user@host/db
    database_url: SecretStr | None = None
    blob_kind: Literal["files"] = "files"
    fsync: bool = True

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def quarantine_dir(self) -> Path:
        return self.data_dir / "quarantine"

    def effective_database_url(self) -> str:
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite+aiosqlite:///{(self.data_dir / 'imx.sqlite3').resolve()}"


class IngestSettings(BaseModel):
    model_config = _FROZEN
    max_instance_bytes: int = 2 * 1024 * 1024 * 1024
    # Same SOP Instance UID, different bytes (ingest policy, docs/ingest.md):
    # "reject" keeps the first copy; "replace" keeps the newest.
    on_conflict: Literal["reject", "replace"] = "reject"


class ManifestSettings(BaseModel):
    model_config = _FROZEN
    enabled: bool = True
    language_code: str = "en-US"
    # Affinity-domain codes (SPEC-NOTES 4.5 defaults, as dcm4chee-arc)
    class_code: tuple[str, str, str] = ("IMAGES", "1.3.6.1.4.1.19376.1.2.6.1", "Images")
    type_code: tuple[str, str, str] = ("18748-4", "2.16.840.1.113883.6.1",
                                       "Diagnostic imaging study")
    confidentiality_code: tuple[str, str, str] = ("N", "2.16.840.1.113883.5.25", "Normal")
    healthcare_facility_type_code: tuple[str, str, str] = ("22232009", "2.16.840.1.113883.6.96",
                                                           "Hospital")
    practice_setting_code: tuple[str, str, str] = ("394914008", "2.16.840.1.113883.6.96",
                                                   "Radiology")
    # Seconds of quiet after the last instance of a study before its manifest is rebuilt
    debounce_s: float = 2.0


class DicomwebSettings(BaseModel):
    model_config = _FROZEN
    prefix: str = "/dicom-web"
    max_qido_results: int = 10000


class Hl7v2Settings(BaseModel):
    """The MLLP listener of the registration feed (ITI-8 ADT)."""

    model_config = _FROZEN
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 2575


class CommunityEndpointSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    transaction: str  # ITI-55 | ITI-38 | ITI-39 | RAD-75 | RAD-69 | DICOMweb | FHIR
    address: str


class CommunitySettings(BaseModel):
    """One configured community (used until a directory is configured; same shape)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    home_community_id: str  # urn:oid:...
    name: str
    endpoints: list[CommunityEndpointSettings] = Field(default_factory=list)
    state: str = ""
    city: str = ""
    postal_code: str = ""
    # Per-peer quirks, e.g. instances_per_request = "50", retrieve_per = "series".
    quirks: dict[str, str] = Field(default_factory=dict)


class ApiKeySettings(BaseModel):
    """One JSON API key: only its SHA-256 is kept (``imx config api-key NAME`` makes one)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str  # the application, shown in the audit trail
    sha256: str  # hex digest of the key
    # The person or role the application acts as, for the XUA assertion when the request
    # does not name one (Carequality expects the real user: applications should send it).
    requester_name: str = ""
    role_code: str = "112247003"  # SNOMED CT Medical doctor


class ApiSettings(BaseModel):
    """The simplified JSON API for local applications (/api/v1, OpenAPI at /api/v1/openapi.json)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    enabled: bool = True
    keys: tuple[ApiKeySettings, ...] = ()


class DirectorySettings(BaseModel):
    """The participant directory this node routes by (docs/directory.md).

    With ``url`` set, the node keeps ``<data_dir>/directory-cache.sqlite`` in sync (full, then
    incremental by _lastUpdated) and routes from that cache, plus any ``[[communities]]``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    url: str | None = None  # FHIR base, e.g. https://directory.example/fhir
    api_key: SecretStr | None = None
    sync_interval_s: float = 3600.0
    full_sync_every: int = 24  # every Nth scheduled sync is a full one


class PortalUser(BaseModel):
    """One clinician or administrator of the portal; only the SHA-256 of the password is kept."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str  # shown in the audit trail and sent as the XUA subject-id
    password_sha256: str  # hex digest of the password
    role: Literal["clinician", "admin"] = "clinician"
    role_code: str = "112247003"  # SNOMED CT Medical doctor (XUA subject-role)


class PortalSettings(BaseModel):
    """The clinician portal at /portal (docs/portal.md): login against ``users``."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    enabled: bool = True
    users: tuple[PortalUser, ...] = ()
    # None: a random secret per process, so sign-ins end when the node restarts
    session_secret: SecretStr | None = None
    session_ttl_s: int = 8 * 3600
    loopback_only: bool = True  # refuse browsers that are not on this host (the demo default)


class InitiatingSettings(BaseModel):
    """The Initiating Gateway (outbound XCPD / XCA / XCA-I)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    # Hard deadline per community and transaction (SPEC-NOTES §8: responders take seconds;
    # 60 s is common for XCPD, 120 s for query and retrieve).
    xcpd_timeout_s: float = 60.0
    query_timeout_s: float = 120.0
    retrieve_timeout_s: float = 120.0
    connect_timeout_s: float = 10.0
    retries: int = 2  # query and retrieve only; XCPD is never re-sent
    # Communities asked at once. Requests are async (a socket each, no thread): a high bound
    # keeps a fan-out to every community about as long as its slowest answer.
    max_concurrency: int = 256
    correlation_ttl_s: int = 24 * 3600  # cached "found at" answers skip XCPD this long
    negative_ttl_s: int = 3600  # cached "not found at" answers
    min_local_match_weight: float = 12.0  # our re-check of returned demographics (log2 weight)
    instances_per_request: int = 0  # 0 = one RAD-75 request per series
    max_parallel_retrievals: int = 2
    # Sign an XUA assertion (wsse:Security) into every outbound request with the node's TLS
    # key; the network turns this on (SPEC-NOTES §5).
    send_assertion: bool = False


class TrustSettings(BaseModel):
    """XUA SAML assertions on the SOAP endpoints (docs/trust-xua.md, SPEC-NOTES §5)."""

    model_config = _FROZEN
    require_assertion: bool = False  # the network/demo turns this on
    # Accepted AudienceRestriction values; empty means this node's home community ID, its
    # base URL and each SOAP endpoint URL.
    audiences: tuple[str, ...] = ()
    # PEM bundle: CA certificates (or pinned signer certificates) trusted to sign assertions
    trust_bundle: Path | None = None
    clock_skew_seconds: int = Field(default=300, ge=0, le=3600)
    # NHIN purpose-of-use codes answered besides TREATMENT (always answered, SPEC-NOTES §5.3)
    allowed_purposes_of_use: tuple[str, ...] = ()
    rate_limit_per_minute: int = Field(default=0, ge=0)  # per initiating organisation; 0 = off
    check_tls_org_matches_assertion: bool = False
    accept_sha1_signatures: bool = False  # legacy peers only (SPEC-NOTES §5.4)
    # Also demand the initiator's signature over wsu:Timestamp (holder-of-key proof, §5.1);
    # when present it is always verified.
    require_timestamp_signature: bool = False
    # Verify assertions in a child process of each HTTP process (off its GIL; the same
    # checks, docs/trust-xua.md); false verifies them inline on the event loop.
    verifier_process: bool = True
    # SPEC-NOTES §5.5 step 6: the asserted homeCommunityId must be an active community of
    # the directory (or of [[communities]]); else FailedAuthentication.
    require_known_community: bool = False


class AuditSettings(BaseModel):
    """ATNA: RFC 5424 syslog over mutual TLS (RFC 5425) to the audit repository (docs/audit.md).

    Certificates default to the node's ``tls`` ones; the repository is checked against
    ``tls_ca_file`` (or ``tls.trust_bundle``), never the system store.
    """

    model_config = _FROZEN
    enabled: bool = False
    repository_host: str = "127.0.0.1"
    repository_port: int = 6514  # RFC 5425 8.1
    server_name: str | None = None  # TLS name to verify; defaults to repository_host
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    tls_ca_file: Path | None = None
    app_name: str = "imx"  # RFC 5424 APP-NAME
    batch_size: int = 100  # messages per write
    initial_backoff_s: float = 1.0
    max_backoff_s: float = 300.0
    connect_timeout_s: float = 10.0
    ack_timeout_s: float = 30.0
    poll_interval_s: float = 5.0  # also ships what other processes (imx import) queued
    # A batch counts as delivered once the connection survived this long after the TCP
    # acknowledgement without a reset (docs/audit.md, at-least-once)
    settle_s: float = 1.0


class Settings(BaseSettings):
    """Every setting of a node. Frozen; see ``imx.example.toml``."""

    model_config = SettingsConfigDict(
        env_prefix="IMX_", env_nested_delimiter="__", frozen=True, extra="forbid"
    )

    node: NodeSettings = Field(default_factory=NodeSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    dimse: DimseSettings = Field(default_factory=DimseSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    manifests: ManifestSettings = Field(default_factory=ManifestSettings)
    dicomweb: DicomwebSettings = Field(default_factory=DicomwebSettings)
    hl7v2: Hl7v2Settings = Field(default_factory=Hl7v2Settings)
    trust: TrustSettings = Field(default_factory=TrustSettings)
    tls: TlsSettings = Field(default_factory=TlsSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    initiating: InitiatingSettings = Field(default_factory=InitiatingSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    directory: DirectorySettings = Field(default_factory=DirectorySettings)
    portal: PortalSettings = Field(default_factory=PortalSettings)
    communities: list[CommunitySettings] = Field(default_factory=list)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml_path = _CONFIG_PATH.get("path")
        if toml_path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)

    def problems(self) -> list[str]:
        """Combinations that must refuse to start (secure by default)."""
        out: list[str] = []
        out += _audit_problems(self.audit, self.tls)
        if self.trust.require_assertion and self.trust.trust_bundle is None:
            out.append("trust.require_assertion needs trust.trust_bundle (PEM of trusted signers)")
        host = self.http.host
        if not _is_loopback(host) and self.http.insecure_plain_http:
            out.append(
                f"binding {host} beyond loopback needs TLS: set http.insecure_plain_http=false "
                "and configure certificates"
            )
        elif not _is_loopback(host) and not self.tls.enabled:
            out.append(f"binding {host} beyond loopback needs TLS: configure tls.cert_file, "
                       "tls.key_file and tls.trust_bundle")
        # Listeners without TLS support yet must stay on loopback (behind a TLS tunnel).
        if self.dimse.enabled and self.dimse.tls and not self.tls.enabled:
            out.append("dimse.tls needs tls.cert_file, tls.key_file and tls.trust_bundle")
        plain = [("dimse.host", self.dimse.host, self.dimse.enabled and not self.dimse.tls),
                 ("hl7v2.host", self.hl7v2.host, self.hl7v2.enabled)]
        out += [f"{name} {bind} beyond loopback needs TLS, which this listener does not speak "
                "yet: bind it to loopback behind a TLS tunnel (docs/trust-pki.md)"
                + (" or set dimse.tls = true" if name == "dimse.host" else "")
                for name, bind, enabled in plain if enabled and not _is_loopback(bind)]
        if self.http.workers > 1 and (self.api.enabled or self.portal.enabled):
            out.append("http.workers > 1 serves SOAP, DICOMweb and /healthz only: set "
                       "api.enabled=false and portal.enabled=false (their retrieval jobs and "
                       "sessions live in one process)")
        if not self.tls.enabled and not self.http.insecure_plain_http:
            out.append("http.insecure_plain_http=false needs tls.cert_file, tls.key_file and "
                       "tls.trust_bundle")
        return out + self.tls.problems()


# Set only by load_settings() for the duration of one construction.
_CONFIG_PATH: dict[str, Path | None] = {}


def _audit_problems(audit: AuditSettings, tls: TlsSettings) -> list[str]:
    # RFC 5425 5.1 / ITI TF-2 3.20.6: the audit channel is mutually authenticated TLS.
    if not audit.enabled:
        return []
    files = {"tls_cert_file": audit.tls_cert_file or tls.cert_file,
             "tls_key_file": audit.tls_key_file or tls.key_file,
             "tls_ca_file": audit.tls_ca_file or tls.trust_bundle}
    return [f"audit.enabled needs audit.{name} (or the tls section)"
            for name, path in files.items() if path is None]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_settings(config_path: Path | None = None, **overrides: Any) -> Settings:
    """Build Settings from (in order) overrides, environment, TOML file, defaults."""
    if config_path is None and os.environ.get("IMX_CONFIG"):
        config_path = Path(os.environ["IMX_CONFIG"])
    if config_path is not None and not config_path.is_file():
        raise FileNotFoundError(f"config file not found: {config_path}")
    _CONFIG_PATH["path"] = config_path
    try:
        return Settings(**overrides)
    finally:
        _CONFIG_PATH.pop("path", None)
