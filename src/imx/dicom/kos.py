"""XDS-I.b imaging manifest: a Key Object Selection document (PS3.3 A.35.4, PS3.16 TID 2010).

``build_manifest`` lists exactly the given instances, grouped by series, in the Current
Requested Procedure Evidence Sequence with where to retrieve them (RAD TF-3 4.68.4.1.2.3:
Retrieve Location UID = the Imaging Document Source's repositoryUniqueId) and in the
content tree. ``parse_manifest`` reads ours and other vendors' manifests.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence as Seq
from dataclasses import dataclass

from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.uid import UID, ExplicitVRLittleEndian

from imx.errors import MalformedMessageError
from imx.model.imaging import InstanceRecord, PatientRecord, SeriesRecord, StudyRecord

__all__ = [
    "KOS_SOP_CLASS_UID",
    "ManifestContent",
    "ManifestSeries",
    "build_manifest",
    "content_value_type",
    "parse_manifest",
    "parse_manifest_studies",
]

KOS_SOP_CLASS_UID = "1.2.840.10008.5.1.4.1.1.88.59"
_DCM = "DCM"


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    return item


def _sop_ref(sop_class: str, sop_instance: str) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID = sop_class
    item.ReferencedSOPInstanceUID = sop_instance
    return item


# Non-image composite SOP classes (PS3.4 Annex B.5): SR and KOS (88.x), presentation
# states (11.x), encapsulated documents (104.x), RT non-image objects, raw data,
# registrations, segmentation surfaces, meshes, structured display, assessments.
_NON_IMAGE_PREFIXES = (
    "1.2.840.10008.5.1.4.1.1.88.",
    "1.2.840.10008.5.1.4.1.1.11.",
    "1.2.840.10008.5.1.4.1.1.104.",
    "1.2.840.10008.5.1.4.1.1.481.3",
    "1.2.840.10008.5.1.4.1.1.481.4",
    "1.2.840.10008.5.1.4.1.1.481.5",
    "1.2.840.10008.5.1.4.1.1.481.6",
    "1.2.840.10008.5.1.4.1.1.481.7",
    "1.2.840.10008.5.1.4.1.1.481.8",
    "1.2.840.10008.5.1.4.1.1.481.9",
    "1.2.840.10008.5.1.4.1.1.66",  # raw data, registrations, fiducials, surface segmentation
    "1.2.840.10008.5.1.4.1.1.67",
    "1.2.840.10008.5.1.4.1.1.68.",
    "1.2.840.10008.5.1.4.1.1.131",
    "1.2.840.10008.5.1.4.1.1.90.",
)
_IMAGE_EXCEPTIONS = ("1.2.840.10008.5.1.4.1.1.66.4",)  # Segmentation Storage is an image
_WAVEFORM_PREFIX = "1.2.840.10008.5.1.4.1.1.9."


def content_value_type(sop_class_uid: str) -> str:
    """The TID 2010 value type that references an instance of ``sop_class_uid``.

    PS3.16 TID 2010 rows 5-7: IMAGE for image SOP classes, WAVEFORM for waveforms,
    COMPOSITE for every other composite object (SR, PDF, presentation states, ...).
    """
    if sop_class_uid.startswith(_WAVEFORM_PREFIX):
        return "WAVEFORM"
    if sop_class_uid in _IMAGE_EXCEPTIONS:
        return "IMAGE"
    if any(
        sop_class_uid == p.rstrip(".") or sop_class_uid.startswith(p.rstrip(".") + ".")
        for p in _NON_IMAGE_PREFIXES
    ):
        return "COMPOSITE"
    return "IMAGE"


def _needs_utf8(*values: str) -> bool:
    return any(not v.isascii() for v in values)


def build_manifest(
    *,
    patient: PatientRecord,
    study: StudyRecord,
    series: Seq[SeriesRecord],
    instances: Seq[InstanceRecord],
    sop_instance_uid: str,
    series_instance_uid: str,
    content_datetime: dt.datetime,
    retrieve_ae_title: str,
    retrieve_location_uid: str,
    retrieve_url_base: str,
    institution_name: str,
    manufacturer: str = "imx",
    instance_number: int = 1,
) -> FileDataset:
    """A complete KOS manifest for ``instances`` (all of one study)."""
    if not instances:
        raise ValueError("a manifest needs at least one instance (TID 2010)")
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(KOS_SOP_CLASS_UID)
    meta.MediaStorageSOPInstanceUID = UID(sop_instance_uid)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = UID("1.2.826.0.1.3680043.10.1492.1")
    meta.ImplementationVersionName = "IMX_010"
    ds = FileDataset("", {}, file_meta=meta, preamble=b"\x00" * 128)
    if _needs_utf8(
        patient.patient_name,
        study.referring_physician_name,
        institution_name,
        study.study_description,
        study.study_id,
        study.accession_number,
        manufacturer,
    ):
        ds.SpecificCharacterSet = "ISO_IR 192"  # PS3.3 C.12.1.1.2: UTF-8 when not ASCII
    # SOP Common (C.12.1)
    ds.SOPClassUID = KOS_SOP_CLASS_UID
    ds.SOPInstanceUID = sop_instance_uid
    ds.InstanceCreationDate = content_datetime.strftime("%Y%m%d")
    ds.InstanceCreationTime = content_datetime.strftime("%H%M%S")
    if content_datetime.utcoffset() is not None:
        ds.TimezoneOffsetFromUTC = content_datetime.strftime("%z")
    # Patient module (PS3.3 C.7.1.1)
    ds.PatientName = patient.patient_name
    ds.PatientID = patient.patient_id.id
    ds.IssuerOfPatientID = patient.patient_id.assigning_authority
    if patient.patient_id.assigning_authority:
        q = Dataset()
        q.UniversalEntityID = patient.patient_id.assigning_authority
        q.UniversalEntityIDType = "ISO"
        ds.IssuerOfPatientIDQualifiersSequence = Sequence([q])
    ds.PatientBirthDate = patient.birth_date.strftime("%Y%m%d") if patient.birth_date else ""
    ds.PatientSex = patient.sex if patient.sex in ("M", "F", "O") else ""
    # General Study module (C.7.2.1)
    ds.StudyInstanceUID = study.study_instance_uid
    ds.StudyDate = study.study_date.strftime("%Y%m%d") if study.study_date else ""
    ds.StudyTime = study.study_time
    ds.ReferringPhysicianName = study.referring_physician_name
    ds.StudyID = study.study_id
    ds.AccessionNumber = study.accession_number
    if study.study_description:
        ds.StudyDescription = study.study_description
    # Key Object Document Series (C.17.6.1)
    ds.Modality = "KO"
    ds.SeriesInstanceUID = series_instance_uid
    ds.SeriesNumber = 999
    ds.SeriesDescription = "XDS-I.b Manifest"
    ds.ReferencedPerformedProcedureStepSequence = Sequence([])
    # General Equipment (C.7.5.1)
    ds.Manufacturer = manufacturer
    ds.InstitutionName = institution_name
    # Key Object Document (C.17.6.2)
    ds.InstanceNumber = instance_number
    ds.ContentDate = content_datetime.strftime("%Y%m%d")
    ds.ContentTime = content_datetime.strftime("%H%M%S")
    if study.accession_number:
        # C.17.6.2.1: Referenced Request Sequence, the order this study fulfils
        ds.ReferencedRequestSequence = Sequence([_request(study)])
    ds.CurrentRequestedProcedureEvidenceSequence = Sequence(
        [
            _evidence(
                study,
                series,
                instances,
                retrieve_ae_title=retrieve_ae_title,
                retrieve_location_uid=retrieve_location_uid,
                retrieve_url_base=retrieve_url_base,
            )
        ]
    )
    # SR Document Content (C.17.3): TID 2010 root, title (113030, DCM, "Manifest")
    ds.ValueType = "CONTAINER"
    ds.ConceptNameCodeSequence = Sequence([_code("113030", _DCM, "Manifest")])
    ds.ContinuityOfContent = "SEPARATE"
    template = Dataset()
    template.MappingResource = "DCMR"
    template.TemplateIdentifier = "2010"
    ds.ContentTemplateSequence = Sequence([template])
    ds.ContentSequence = Sequence([_content_item(i) for i in instances])
    return ds


def _evidence(
    study: StudyRecord,
    series: Seq[SeriesRecord],
    instances: Seq[InstanceRecord],
    *,
    retrieve_ae_title: str,
    retrieve_location_uid: str,
    retrieve_url_base: str,
) -> Dataset:
    by_series: dict[str, list[InstanceRecord]] = defaultdict(list)
    for inst in instances:
        by_series[inst.series_instance_uid].append(inst)
    order = [s.series_instance_uid for s in series if s.series_instance_uid in by_series]
    order += [uid for uid in by_series if uid not in order]
    items = []
    for series_uid in order:
        item = Dataset()
        item.SeriesInstanceUID = series_uid
        item.RetrieveAETitle = retrieve_ae_title
        item.RetrieveLocationUID = retrieve_location_uid
        item.RetrieveURL = (
            f"{retrieve_url_base.rstrip('/')}/studies/{study.study_instance_uid}"
            f"/series/{series_uid}"
        )
        item.ReferencedSOPSequence = Sequence(
            [_sop_ref(i.sop_class_uid, i.sop_instance_uid) for i in by_series[series_uid]]
        )
        items.append(item)
    study_item = Dataset()
    study_item.StudyInstanceUID = study.study_instance_uid
    study_item.ReferencedSeriesSequence = Sequence(items)
    return study_item


def _request(study: StudyRecord) -> Dataset:
    item = Dataset()
    item.StudyInstanceUID = study.study_instance_uid
    item.AccessionNumber = study.accession_number
    if study.accession_issuer:
        issuer = Dataset()
        issuer.UniversalEntityID = study.accession_issuer
        issuer.UniversalEntityIDType = "ISO"
        item.IssuerOfAccessionNumberSequence = Sequence([issuer])
    item.ReferencedStudySequence = Sequence([])
    item.RequestedProcedureDescription = ""
    item.RequestedProcedureCodeSequence = Sequence([])
    item.RequestedProcedureID = ""
    item.PlacerOrderNumberImagingServiceRequest = ""
    item.FillerOrderNumberImagingServiceRequest = ""
    return item


def _content_item(inst: InstanceRecord) -> Dataset:
    item = Dataset()
    item.RelationshipType = "CONTAINS"
    item.ValueType = content_value_type(inst.sop_class_uid)
    item.ReferencedSOPSequence = Sequence([_sop_ref(inst.sop_class_uid, inst.sop_instance_uid)])
    return item


@dataclass(frozen=True, slots=True, kw_only=True)
class ManifestSeries:
    series_instance_uid: str
    retrieve_ae_title: str
    retrieve_location_uid: str
    retrieve_url: str
    instances: tuple[tuple[str, str], ...]  # (SOP Class UID, SOP Instance UID)


@dataclass(frozen=True, slots=True, kw_only=True)
class ManifestContent:
    study_instance_uid: str
    series: tuple[ManifestSeries, ...]

    def instance_count(self) -> int:
        return sum(len(s.instances) for s in self.series)


def parse_manifest(ds: Dataset) -> ManifestContent:
    """What a KOS manifest says to retrieve for its (first) study.

    XDS-I.b manifests describe one study (RAD TF-3 4.68.4.1.2.3); use
    ``parse_manifest_studies`` for KOS files that reference several.

    Raises:
        MalformedMessageError: not a KOS, or no usable evidence.
    """
    return parse_manifest_studies(ds)[0]


def parse_manifest_studies(ds: Dataset) -> tuple[ManifestContent, ...]:
    """Every study in a KOS, per series with its retrieve location (ours or another vendor's).

    Reads only the Current Requested Procedure Evidence Sequence (PS3.3 C.17.6.2.1),
    which every XDS-I.b manifest carries (dcm4chee-style files have nothing else).
    Retrieve AE Title / Location UID / URL may sit at series or study level; the series
    level wins. Items without a SOP Instance UID are skipped.

    Raises:
        MalformedMessageError: not a KOS, or no usable evidence.
    """
    if str(ds.get("SOPClassUID", "")) != KOS_SOP_CLASS_UID:
        raise MalformedMessageError("not a Key Object Selection document")
    studies = tuple(
        c
        for st in ds.get("CurrentRequestedProcedureEvidenceSequence", []) or []
        if (c := _parse_study(st)) is not None
    )
    if not studies:
        raise MalformedMessageError("KOS without Current Requested Procedure Evidence Sequence")
    return studies


def _text(item: Dataset, keyword: str, default: str = "") -> str:
    value = item.get(keyword)
    if value is None or value == "":
        return default
    if isinstance(value, MultiValue):  # a multi-valued AE/UR from another vendor
        return str(value[0]) if len(value) else default
    return str(value).strip()


def _parse_study(st: Dataset) -> ManifestContent | None:
    study_uid = _text(st, "StudyInstanceUID")
    if not study_uid:
        return None
    series = []
    for se in st.get("ReferencedSeriesSequence", []) or []:
        series_uid = _text(se, "SeriesInstanceUID")
        if not series_uid:
            continue
        refs = tuple(
            (_text(r, "ReferencedSOPClassUID"), _text(r, "ReferencedSOPInstanceUID"))
            for r in se.get("ReferencedSOPSequence", []) or []
            if _text(r, "ReferencedSOPInstanceUID")
        )
        series.append(
            ManifestSeries(
                series_instance_uid=series_uid,
                retrieve_ae_title=_text(se, "RetrieveAETitle", _text(st, "RetrieveAETitle")),
                retrieve_location_uid=_text(
                    se, "RetrieveLocationUID", _text(st, "RetrieveLocationUID")
                ),
                retrieve_url=_text(se, "RetrieveURL", _text(st, "RetrieveURL")),
                instances=refs,
            )
        )
    return ManifestContent(study_instance_uid=study_uid, series=tuple(series))
