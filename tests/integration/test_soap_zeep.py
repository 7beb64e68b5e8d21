"""zeep, loaded with the IHE WSDLs, calls the Responding Gateway: ITI-55 finds the patient,
ITI-38 lists the study's manifest, ITI-39 retrieves it (MTOM) byte for byte."""

from __future__ import annotations

import io
from pathlib import Path

import pydicom
import pytest
import zeep
from lxml import etree

from imx.dicom.synth import generate_patients, generate_study
from tests.support.server import NodeThread, running_node

WSDL = Path(__file__).parents[1] / "peers" / "wsdl"
GOLDEN = Path(__file__).parents[1] / "golden" / "iti55" / "query_and_feed.request.xml"
FIND = "urn:uuid:14d4debf-8f97-4251-9a74-a90016b0af0d"
H = "{urn:hl7-org:v3}"


class _RawBody(zeep.Plugin):
    """The raw ITI-55 WSDL types the body as xsd:anyType, which zeep can only fill with text;
    this egress plugin (zeep's documented extension point) puts the HL7v3 element in place."""

    def __init__(self) -> None:
        self.body: etree._Element | None = None

    def egress(self, envelope, http_headers, operation, binding_options):  # type: ignore[no-untyped-def]
        if self.body is not None:
            body = envelope.find("{http://www.w3.org/2003/05/soap-envelope}Body")
            body.remove(body[0])
            body.append(self.body)
        return envelope, http_headers


def _service(node: NodeThread, wsdl: str, path: str, plugins=()):  # type: ignore[no-untyped-def]
    client = zeep.Client(str(WSDL / wsdl), plugins=list(plugins))
    binding = next(iter(next(iter(client.wsdl.services.values())).ports.values())).binding.name
    return client, client.create_service(binding, f"{node.url}{path}")


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    with running_node(tmp_path_factory.mktemp("zeep")) as n:
        patient = generate_patients(81, 1)[0]
        for ds in generate_study(patient, seed=81, series_count=1, instances_per_series=3,
                                 rows=16, columns=16):
            out = io.BytesIO()
            ds.save_as(out, enforce_file_format=True)
            n.call(n.services.ingest.ingest_bytes(out.getvalue(), source="test"))  # type: ignore[union-attr]
        n.call(n.services.manifests.flush())  # type: ignore[union-attr]
        n.patient = patient  # type: ignore[attr-defined]
        yield n


def _xcpd_request(patient) -> etree._Element:  # type: ignore[no-untyped-def]
    root = etree.parse(str(GOLDEN)).getroot()
    params = root.find(f".//{H}parameterList")
    for el in params.iter(f"{H}given"):
        el.getparent().remove(el)
    name = params.find(f".//{H}livingSubjectName/{H}value")
    for g in (patient.given,):
        e = etree.SubElement(name, f"{H}given")
        e.text = g
    name.remove(name.find(f"{H}family"))
    etree.SubElement(name, f"{H}family").text = patient.family
    params.find(f".//{H}livingSubjectBirthTime/{H}value").set("value", patient.birth_date.strftime("%Y%m%d"))
    params.find(f".//{H}livingSubjectAdministrativeGender/{H}value").set("code", patient.sex)
    return root


def test_xcpd_query_documents_and_retrieve_manifest(node: NodeThread) -> None:
    patient = node.patient  # type: ignore[attr-defined]
    raw = _RawBody()
    client, xcpd = _service(node, "iti55-raw.wsdl", "/xcpd", plugins=[raw])
    raw.body = _xcpd_request(patient)
    with client.settings(raw_response=True):
        http = xcpd.RespondingGateway_PRPA_IN201305UV02("")
    assert http.status_code == 200
    ans = etree.fromstring(http.content).find(".//{urn:hl7-org:v3}PRPA_IN201306UV02")
    assert ans.find(f".//{H}queryResponseCode").get("code") == "OK"
    pid = ans.find(f".//{H}subject1/{H}patient/{H}id")
    assert pid.get("extension") == patient.patient_id
    cx = f"'{pid.get('extension')}^^^&{pid.get('root')}&ISO'"

    home = node.settings.node.home_community_id
    client38, xca = _service(node, "iti38.wsdl", "/xca/query")
    # zeep builds the AdhocQueryRequest from the WSDL types; it cannot bind the answer's
    # rim:ExtrinsicObject (an XSD substitution group, unsupported by zeep), so the answer is
    # read from the raw response.
    with client38.settings(raw_response=True):
        http = xca.RespondingGateway_CrossGatewayQuery(
            ResponseOption={"returnType": "LeafClass", "returnComposedObjects": True},
            AdhocQuery={"id": FIND, "home": home, "Slot": [
                {"name": "$XDSDocumentEntryPatientId", "ValueList": {"_value_1": [{"Value": cx}]}},
                {"name": "$XDSDocumentEntryStatus", "ValueList": {"_value_1": [
                    {"Value": "('urn:oasis:names:tc:ebxml-regrep:StatusType:Approved')"}]}},
            ]})
    assert http.status_code == 200
    rim = "{urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0}"
    response = etree.fromstring(http.content).find(
        ".//{urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0}AdhocQueryResponse")
    assert response.get("status") == "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success"
    objects = response.findall(f".//{rim}ExtrinsicObject")
    assert len(objects) == 1
    entry = objects[0]
    assert entry.get("mimeType") == "application/dicom" and entry.get("home") == home
    unique_id = next(x.get("value") for x in entry.iter(f"{rim}ExternalIdentifier")
                     if x.get("identificationScheme") == "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab")
    repository = next(s.find(f".//{rim}Value").text for s in entry.iter(f"{rim}Slot")
                      if s.get("name") == "repositoryUniqueId")

    _, retrieve = _service(node, "iti39.wsdl", "/xca/retrieve")
    docs = retrieve.RespondingGateway_CrossGatewayRetrieve(DocumentRequest=[{
        "HomeCommunityId": home, "RepositoryUniqueId": repository, "DocumentUniqueId": unique_id}])
    assert docs.RegistryResponse.status.endswith("Success")
    (doc,) = docs.DocumentResponse
    kos = pydicom.dcmread(io.BytesIO(doc.Document))
    assert kos.SOPInstanceUID == unique_id and kos.Modality == "KO"
    stored = node.call(node.services.metadata.get_document(unique_id))  # type: ignore[union-attr]
    assert doc.Document == node.call(node.services.blobs.read_bytes(stored.blob_key))  # type: ignore[union-attr]


def test_unknown_document_is_a_registry_error(node: NodeThread) -> None:
    home = node.settings.node.home_community_id
    _, retrieve = _service(node, "iti39.wsdl", "/xca/retrieve")
    docs = retrieve.RespondingGateway_CrossGatewayRetrieve(DocumentRequest=[{
        "HomeCommunityId": home, "RepositoryUniqueId": node.settings.node.repository_unique_id,
        "DocumentUniqueId": "1.2.3.4.5.6.7"}])
    assert docs.RegistryResponse.status.endswith("Failure")
    err = docs.RegistryResponse.RegistryErrorList.RegistryError[0]
    assert err.errorCode == "XDSDocumentUniqueIdError" and err.location == home


FIND_SUBMISSION_SETS = "urn:uuid:f26abbcb-ac74-4422-8a30-edb644bbc1a9"
GET_SUBMISSION_SET_AND_CONTENTS = "urn:uuid:e8e3cb2c-e39c-46b9-99e4-c12f57260b83"
APPROVED = "('urn:oasis:names:tc:ebxml-regrep:StatusType:Approved')"
RIM = "{urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0}"


def _slots(**values: str) -> list[dict[str, object]]:
    return [{"name": f"${k}", "ValueList": {"_value_1": [{"Value": v}]}} for k, v in values.items()]


def test_zeep_find_submission_sets_then_its_contents(node: NodeThread) -> None:
    home = node.settings.node.home_community_id
    [manifest] = node.call(node.services.metadata.find_documents())  # type: ignore[union-attr]
    client, xca = _service(node, "iti38.wsdl", "/xca/query")
    # zeep binds the AdhocQueryResponse (status, errors) but not the rim:Identifiable
    # substitution group; non-strict mode (a zeep setting) hands those over as lxml elements.
    with client.settings(strict=False):
        answer = xca.RespondingGateway_CrossGatewayQuery(
            ResponseOption={"returnType": "LeafClass", "returnComposedObjects": True},
            AdhocQuery={"id": FIND_SUBMISSION_SETS, "home": home, "Slot": _slots(
                XDSSubmissionSetPatientId=f"'{manifest.patient_id.to_cx()}'",
                XDSSubmissionSetStatus=APPROVED)})
        assert answer.status.endswith(":Success") and answer.RegistryErrorList is None
        [package] = answer.RegistryObjectList._raw_elements
        assert package.tag == f"{RIM}RegistryPackage" and package.get("home") == home
        ids = {x.get("identificationScheme"): x.get("value")
               for x in package.iter(f"{RIM}ExternalIdentifier")}
        assert ids["urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446"] == manifest.patient_id.to_cx()
        unique_id = ids["urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8"]

        contents = xca.RespondingGateway_CrossGatewayQuery(
            ResponseOption={"returnType": "LeafClass", "returnComposedObjects": True},
            AdhocQuery={"id": GET_SUBMISSION_SET_AND_CONTENTS, "home": home,
                        "Slot": _slots(XDSSubmissionSetUniqueId=f"'{unique_id}'")})
        tags = [e.tag.removeprefix(RIM) for e in contents.RegistryObjectList._raw_elements]
        assert tags == ["RegistryPackage", "ExtrinsicObject", "Association"]
        member = contents.RegistryObjectList._raw_elements[1]
        assert member.get("id") == manifest.entry_uuid

        # Both identifiers at once: XDSStoredQueryParamNumber, located at the responder.
        refused = xca.RespondingGateway_CrossGatewayQuery(
            ResponseOption={"returnType": "ObjectRef", "returnComposedObjects": True},
            AdhocQuery={"id": GET_SUBMISSION_SET_AND_CONTENTS, "home": home, "Slot": _slots(
                XDSSubmissionSetUniqueId=f"'{unique_id}'",
                XDSSubmissionSetEntryUUID=f"'{package.get('id')}'")})
    assert refused.status.endswith(":Failure")
    [error] = refused.RegistryErrorList.RegistryError
    assert error.errorCode == "XDSStoredQueryParamNumber" and error.location == home
