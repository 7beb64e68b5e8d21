"""SubmissionSets and Associations of this Imaging Document Source, derived from its entries.

Each publication (a manifest built by ``ManifestService``, a registered report) is one
submission: one SubmissionSet holding one DocumentEntry through a HasMember association
(ITI TF-3 4.1.3.3, 4.2.2.1). A rebuilt manifest replaces the study's previous one, which
is Deprecated (ADR 0003): that is an RPLC association, new → old (ITI TF-3 4.2.2.2).

Nothing of this is stored: every value is a function of the stored DocumentEntry, so
answers are stable across restarts and there is nothing to migrate or keep consistent.
The SubmissionSet's entryUUID is the entry's UUID XOR a constant that keeps the RFC 4122
version and variant bits (the mapping is its own inverse, so a SubmissionSet named by a
query is found through the indexed entry UUID); its uniqueId is that UUID as an OID
(``2.25.<integer>``, ITU-T X.667), from which the entryUUID is read back.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from itertools import pairwise

from imx.model.document import DocumentEntry, DocumentKind
from imx.model.registry import Association, SubmissionSet
from imx.transactions.iti38_xca_query.codes import AssociationType, StatusType

__all__ = [
    "associations_between",
    "has_member",
    "replacement_associations",
    "submission_set_for",
    "submission_set_uuid",
    "uuid_from_unique_id",
]

# The SubmissionSet classification node with its version and variant bits cleared: XOR with
# it keeps a UUID's version (5 for our entries) and variant.
_SET_MASK = uuid.UUID("a54d6aa5-d40d-03f9-08c5-b4633d873bdd").int
_URN = "urn:uuid:"
_OID_ARC = "2.25."


def submission_set_uuid(entry_uuid: str) -> str | None:
    """The SubmissionSet UUID of a DocumentEntry UUID, and the other way round (an
    involution); None when the value is not a ``urn:uuid:`` UUID."""
    try:
        value = uuid.UUID(entry_uuid.removeprefix(_URN))
    except ValueError:
        return None
    return f"{_URN}{uuid.UUID(int=value.int ^ _SET_MASK)}"


def uuid_from_unique_id(unique_id: str) -> str | None:
    """The SubmissionSet entryUUID named by one of our uniqueIds (``2.25.<int>``), or None."""
    digits = unique_id.removeprefix(_OID_ARC)
    if not unique_id.startswith(_OID_ARC) or not digits.isdigit() or len(digits) > 39:
        return None
    number = int(digits)
    return f"{_URN}{uuid.UUID(int=number)}" if number < 1 << 128 else None


def submission_set_for(entry: DocumentEntry) -> SubmissionSet:
    """The SubmissionSet that registered ``entry`` (ITI TF-3 4.2.3.3).

    sourceId is the Imaging Document Source (its repositoryUniqueId), submissionTime the
    entry's creation, contentTypeCode its typeCode (the imaging or reporting activity that
    produced it), author its author.
    """
    set_uuid = submission_set_uuid(entry.entry_uuid) or ""
    return SubmissionSet(
        entry_uuid=set_uuid,
        unique_id=_OID_ARC + str(uuid.UUID(set_uuid.removeprefix(_URN)).int) if set_uuid else "",
        source_id=entry.repository_unique_id, patient_id=entry.patient_id,
        submission_time=entry.creation_time, content_type_code=entry.type_code,
        title=entry.title, author_institution=entry.author_institution,
        author_person=entry.author_person, member_entry_uuids=(entry.entry_uuid,))


def _association_id(kind: str, source: str, target: str) -> str:
    return f"{_URN}{uuid.uuid5(uuid.NAMESPACE_URL, f'{source}#{kind}#{target}')}"


def has_member(submission_set: SubmissionSet, entry_uuid: str) -> Association:
    """SubmissionSet → DocumentEntry, ``SubmissionSetStatus = Original`` (ITI TF-3 4.2.2.1)."""
    return Association(
        entry_uuid=_association_id("HasMember", submission_set.entry_uuid, entry_uuid),
        association_type=AssociationType.HAS_MEMBER.value,
        source_object=submission_set.entry_uuid, target_object=entry_uuid,
        submission_set_status="Original")


def replacement_associations(entries: Iterable[DocumentEntry]) -> list[Association]:
    """RPLC associations among manifests: within one study (and patient), each manifest
    replaced the one published before it if that one is Deprecated."""
    by_study: dict[tuple[str, str], list[DocumentEntry]] = {}
    for e in entries:
        if e.kind == DocumentKind.MANIFEST:
            by_study.setdefault((e.study_instance_uid, e.patient_id.to_cx()), []).append(e)
    out = []
    for manifests in by_study.values():
        ordered = sorted(manifests, key=lambda e: (e.creation_time, e.document_unique_id))
        for older, newer in pairwise(ordered):
            if older.status == StatusType.DEPRECATED.value:
                out.append(Association(
                    entry_uuid=_association_id("RPLC", newer.entry_uuid, older.entry_uuid),
                    association_type=AssociationType.REPLACE.value,
                    source_object=newer.entry_uuid, target_object=older.entry_uuid))
    return out


def associations_between(submission_sets: Sequence[SubmissionSet],
                         entries: Sequence[DocumentEntry],
                         replacements: Sequence[Association] = ()) -> list[Association]:
    """HasMember and RPLC associations whose two ends are both among the given objects."""
    entry_uuids = {e.entry_uuid for e in entries}
    out = [has_member(s, m) for s in submission_sets for m in s.member_entry_uuids
           if m in entry_uuids]
    out += [a for a in replacements
            if a.source_object in entry_uuids and a.target_object in entry_uuids]
    return out
