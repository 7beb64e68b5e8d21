"""Table definitions (SQLAlchemy Core), shared by the migrations and the store.

Portable between SQLite and PostgreSQL: plain types, JSON kept as text.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["metadata"]

metadata = sa.MetaData()

schema_version = sa.Table(
    "schema_version",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
)

patients = sa.Table(
    "patients",
    metadata,
    sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("patient_id", sa.String(64), nullable=False),
    sa.Column("issuer", sa.String(256), nullable=False, default=""),
    sa.Column("patient_name", sa.String(400), nullable=False, default=""),
    sa.Column("patient_name_norm", sa.String(400), nullable=False, default=""),
    sa.Column("birth_date", sa.Date, nullable=True),
    sa.Column("sex", sa.String(4), nullable=False, default=""),
    sa.Column("other_ids", sa.Text, nullable=False, default="[]"),
    sa.UniqueConstraint("patient_id", "issuer", name="uq_patients_id_issuer"),
)
sa.Index("ix_patients_name_norm", patients.c.patient_name_norm)
sa.Index("ix_patients_birth_date", patients.c.birth_date)

studies = sa.Table(
    "studies",
    metadata,
    sa.Column("study_instance_uid", sa.String(64), primary_key=True),
    sa.Column("patient_pk", sa.Integer, sa.ForeignKey("patients.pk"), nullable=False),
    sa.Column("study_date", sa.Date, nullable=True),
    sa.Column("study_time", sa.String(32), nullable=False, default=""),
    sa.Column("accession_number", sa.String(64), nullable=False, default=""),
    sa.Column("accession_issuer", sa.String(256), nullable=False, default=""),
    sa.Column("study_id", sa.String(64), nullable=False, default=""),
    sa.Column("study_description", sa.String(200), nullable=False, default=""),
    sa.Column("referring_physician_name", sa.String(400), nullable=False, default=""),
    sa.Column("modalities", sa.String(200), nullable=False, default=""),
    sa.Column("number_of_series", sa.Integer, nullable=False, default=0),
    sa.Column("number_of_instances", sa.Integer, nullable=False, default=0),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
)
sa.Index("ix_studies_patient", studies.c.patient_pk)
sa.Index("ix_studies_date", studies.c.study_date)
sa.Index("ix_studies_accession", studies.c.accession_number)

series = sa.Table(
    "series",
    metadata,
    sa.Column("series_instance_uid", sa.String(64), primary_key=True),
    sa.Column(
        "study_instance_uid",
        sa.String(64),
        sa.ForeignKey("studies.study_instance_uid"),
        nullable=False,
    ),
    sa.Column("modality", sa.String(16), nullable=False, default=""),
    sa.Column("series_number", sa.Integer, nullable=True),
    sa.Column("series_description", sa.String(200), nullable=False, default=""),
    sa.Column("body_part_examined", sa.String(64), nullable=False, default=""),
    sa.Column("number_of_instances", sa.Integer, nullable=False, default=0),
)
sa.Index("ix_series_study", series.c.study_instance_uid)

instances = sa.Table(
    "instances",
    metadata,
    sa.Column("sop_instance_uid", sa.String(64), primary_key=True),
    sa.Column("sop_class_uid", sa.String(64), nullable=False),
    sa.Column(
        "series_instance_uid",
        sa.String(64),
        sa.ForeignKey("series.series_instance_uid"),
        nullable=False,
    ),
    sa.Column("study_instance_uid", sa.String(64), nullable=False),
    sa.Column("transfer_syntax_uid", sa.String(64), nullable=False),
    sa.Column("blob_key", sa.String(400), nullable=False),
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("instance_number", sa.Integer, nullable=True),
    sa.Column("number_of_frames", sa.Integer, nullable=False, default=1),
    sa.Column("rows", sa.Integer, nullable=True),
    sa.Column("columns", sa.Integer, nullable=True),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("dicom_json", sa.LargeBinary, nullable=False, default=b""),
)
sa.Index("ix_instances_series", instances.c.series_instance_uid, instances.c.instance_number)
sa.Index("ix_instances_study", instances.c.study_instance_uid)

documents = sa.Table(
    "documents",
    metadata,
    sa.Column("document_unique_id", sa.String(64), primary_key=True),
    sa.Column("entry_uuid", sa.String(64), nullable=False, unique=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("patient_id", sa.String(64), nullable=False),
    sa.Column("patient_issuer", sa.String(256), nullable=False),
    sa.Column("study_instance_uid", sa.String(64), nullable=False),
    sa.Column("status", sa.String(80), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
)
sa.Index("ix_documents_patient", documents.c.patient_id, documents.c.patient_issuer)
sa.Index("ix_documents_study", documents.c.study_instance_uid)

audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("event", sa.String(80), nullable=False),
    sa.Column("outcome", sa.String(20), nullable=False),
    sa.Column("source", sa.String(200), nullable=False),
    sa.Column("transaction", sa.String(40), nullable=False, default=""),
    sa.Column("payload", sa.Text, nullable=False),
)
sa.Index("ix_audit_events_time", audit_events.c.occurred_at)

# -- 0002: the responder's patient index (MPI) and cross-community correlations ------------
# The current name and address only (PID-5/PID-11 first repetition); ``match_form`` is the
# matcher's normalised form (imx.matching.mpi_form), ``mpi_blocking_keys`` its blocking keys.
mpi_patients = sa.Table(
    "mpi_patients",
    metadata,
    sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("patient_id", sa.String(64), nullable=False),
    sa.Column("issuer", sa.String(256), nullable=False, default=""),
    sa.Column("source", sa.String(16), nullable=False, default="adt"),
    sa.Column("family_name", sa.String(200), nullable=False, default=""),
    sa.Column("given_names", sa.String(400), nullable=False, default=""),  # "^"-joined
    sa.Column("name_prefix", sa.String(64), nullable=False, default=""),
    sa.Column("name_suffix", sa.String(64), nullable=False, default=""),
    sa.Column("birth_date", sa.Date, nullable=True),
    sa.Column("sex", sa.String(4), nullable=False, default=""),  # HL7 M | F | UN | ""
    sa.Column("street_lines", sa.String(400), nullable=False, default=""),  # "\n"-joined
    sa.Column("city", sa.String(100), nullable=False, default=""),
    sa.Column("state", sa.String(100), nullable=False, default=""),
    sa.Column("postal_code", sa.String(20), nullable=False, default=""),
    sa.Column("country", sa.String(60), nullable=False, default=""),
    sa.Column("telecom", sa.String(400), nullable=False, default=""),  # "\n"-joined URIs
    sa.Column("mothers_maiden_name", sa.String(200), nullable=False, default=""),
    sa.Column("other_ids", sa.Text, nullable=False, default="[]"),
    sa.Column("match_form", sa.Text, nullable=False, default=""),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
    sa.UniqueConstraint("patient_id", "issuer", name="uq_mpi_patients_id_issuer"),
)

mpi_blocking_keys = sa.Table(
    "mpi_blocking_keys",
    metadata,
    sa.Column("key", sa.String(160), primary_key=True),
    sa.Column(
        "mpi_pk",
        sa.Integer,
        sa.ForeignKey("mpi_patients.pk", ondelete="CASCADE"),
        primary_key=True,
    ),
    sqlite_with_rowid=False,  # the primary key is the lookup index: no second copy
)
sa.Index("ix_mpi_blocking_keys_patient", mpi_blocking_keys.c.mpi_pk)

patient_correlation = sa.Table(
    "patient_correlation",
    metadata,
    sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("local_patient_id", sa.String(64), nullable=False),
    sa.Column("local_issuer", sa.String(256), nullable=False),
    sa.Column("remote_patient_id", sa.String(64), nullable=False),
    sa.Column("remote_issuer", sa.String(256), nullable=False),
    sa.Column("home_community_id", sa.String(256), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
    sa.UniqueConstraint("remote_patient_id", "remote_issuer", name="uq_patient_correlation_remote"),
)
sa.Index(
    "ix_patient_correlation_local",
    patient_correlation.c.local_patient_id,
    patient_correlation.c.local_issuer,
)

# ATNA (imx.audit): the patients each audit record names (for `imx audit list --patient`) and
# the outbox of syslog messages not yet acknowledged by the audit repository (m0003).
audit_event_patients = sa.Table(
    "audit_event_patients",
    metadata,
    sa.Column("audit_pk", sa.Integer, sa.ForeignKey("audit_events.pk"), nullable=False),
    sa.Column("patient_id", sa.String(400), nullable=False),  # the CX as recorded
    sa.Column("id_value", sa.String(200), nullable=False),  # CX.1 alone
)
sa.Index("ix_audit_event_patients_cx", audit_event_patients.c.patient_id)
sa.Index("ix_audit_event_patients_id", audit_event_patients.c.id_value)

audit_outbox = sa.Table(
    "audit_outbox",
    metadata,
    sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),  # send order
    sa.Column("audit_pk", sa.Integer, sa.ForeignKey("audit_events.pk"), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("header", sa.String(600), nullable=False),  # RFC 5424 HEADER, built at enqueue
    sa.Column("body", sa.LargeBinary, nullable=False),  # the audit XML (UTF-8)
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("last_error", sa.String(200), nullable=False, default=""),
    sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
)
sa.Index("ix_audit_outbox_pending", audit_outbox.c.sent_at, audit_outbox.c.pk)

# Initiating gateway (m0004): where a patient was found on the network, with expiry (the
# correlation cache that lets a repeat search skip XCPD), keyed by our patient key
# (``pid:<CX>`` or ``demo:<digest>``). remote_patient_id NULL = searched there, not found.
network_correlations = sa.Table(
    "network_correlations",
    metadata,
    sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("patient_key", sa.String(200), nullable=False),
    sa.Column("home_community_id", sa.String(256), nullable=False),
    sa.Column("remote_patient_id", sa.String(64), nullable=True),
    sa.Column("remote_issuer", sa.String(256), nullable=True),
    sa.Column("payload", sa.Text, nullable=True),  # the CommunityPatient, JSON
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("patient_key", "home_community_id", name="uq_network_correlations"),
)
