"""SubmissionSet (``rim:RegistryPackage``) and ``rim:Association`` LeafClass builders.

ITI TF-3 4.2.3.3 (SubmissionSet attributes) and 4.2.2 (associations), as a registry returns
them to a stored query (ITI TF-2a 3.18.4.1.3): composed objects inline, ``home`` on each
(ITI TF-2b 3.38.4.1.2.1).
"""

from __future__ import annotations

import uuid

from lxml import etree

from imx.model.registry import Association, SubmissionSet
from imx.transactions.iti38_xca_query.codes import (
    SUBMISSION_SET_NODE,
    ObjectType,
    SubmissionSetScheme,
)
from imx.wire.dtm import format_dtm
from imx.wire.ebrim import classification, external_identifier, localized_name, rim, slot

__all__ = ["author_classification", "build_association", "build_registry_package", "child_id"]

Element = etree._Element


def child_id(owner: str, name: str) -> str:
    """Deterministic ids for an object's classifications and identifiers (stable across
    responses, so an initiator sees the same id for the same thing)."""
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, owner + '#' + name)}"


def author_classification(scheme: str, owner: str, *, person: str,
                          institution: str) -> Element | None:
    """The author Classification (ITI TF-3 4.2.3.1.4) of a DocumentEntry or SubmissionSet;
    None when neither authorPerson nor authorInstitution is known."""
    author_slots = []
    if person:
        author_slots.append(slot("authorPerson", [person]))
    if institution:
        author_slots.append(slot("authorInstitution", [institution]))
    if not author_slots:
        return None
    return classification(classification_scheme=scheme, classified_object=owner,
                          node_representation="", object_id=child_id(owner, "author"),
                          slots=author_slots)


def build_registry_package(submission_set: SubmissionSet, home_community_id: str) -> Element:
    """A full LeafClass SubmissionSet: submissionTime, title, author, contentTypeCode, the
    SubmissionSet classification, and the uniqueId / sourceId / patientId identifiers."""
    ss = submission_set
    el = etree.Element(rim("RegistryPackage"), id=ss.entry_uuid, lid=ss.entry_uuid,
                       objectType=ObjectType.REGISTRY_PACKAGE.value, status=ss.status,
                       home=home_community_id)
    # ebRIM order: Slot*, Name?, Description?, VersionInfo?, Classification*, ExternalIdentifier*
    el.append(slot("submissionTime", [format_dtm(ss.submission_time)]))
    if ss.title:
        el.append(localized_name("Name", ss.title))
    author = author_classification(SubmissionSetScheme.AUTHOR.value, ss.entry_uuid,
                                   person=ss.author_person, institution=ss.author_institution)
    if author is not None:
        el.append(author)
    code = ss.content_type_code
    el.append(classification(
        classification_scheme=SubmissionSetScheme.CONTENT_TYPE_CODE.value,
        classified_object=ss.entry_uuid, node_representation=code.code,
        object_id=child_id(ss.entry_uuid, "contentType"), coding_scheme=code.scheme,
        display_name=code.display or code.code))
    # ITI TF-3 4.2.3.3: the classification that says "this RegistryPackage is a SubmissionSet".
    etree.SubElement(el, rim("Classification"), id=child_id(ss.entry_uuid, "node"),
                     objectType=ObjectType.CLASSIFICATION.value,
                     classifiedObject=ss.entry_uuid, classificationNode=SUBMISSION_SET_NODE)
    for scheme, value, name in (
        (SubmissionSetScheme.UNIQUE_ID, ss.unique_id, "uniqueId"),
        (SubmissionSetScheme.SOURCE_ID, ss.source_id, "sourceId"),
        (SubmissionSetScheme.PATIENT_ID, ss.patient_id.to_cx(), "patientId"),
    ):
        el.append(external_identifier(
            identification_scheme=scheme.value, registry_object=ss.entry_uuid, value=value,
            object_id=child_id(ss.entry_uuid, name), name=f"XDSSubmissionSet.{name}"))
    return el


def build_association(association: Association, home_community_id: str) -> Element:
    """A LeafClass Association; HasMember from a SubmissionSet carries SubmissionSetStatus."""
    a = association
    el = etree.Element(rim("Association"), id=a.entry_uuid,
                       objectType=ObjectType.ASSOCIATION.value, status=a.status,
                       home=home_community_id, associationType=a.association_type,
                       sourceObject=a.source_object, targetObject=a.target_object)
    if a.submission_set_status:
        el.append(slot("SubmissionSetStatus", [a.submission_set_status]))
    return el
