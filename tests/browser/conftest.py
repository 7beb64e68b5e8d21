"""Two communities on loopback with a CT study at B and the portal (with users) on A."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from imx.dicom.synth import SynthPatient, generate_patients, generate_study
from tests.e2e.test_three_communities import community, load, node_settings
from tests.support.server import NodeThread

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CLINICIAN = ("Dr. Ana Smith", "correct horse battery staple")
CLERK = ("Sam Clerk", "clerk-password-123")


@dataclass
class Network:
    a: NodeThread
    b: NodeThread
    patient: SynthPatient
    study_instance_uid: str


def _user(name: str, password: str, role: str) -> dict[str, str]:
    return {
        "name": name,
        "password_sha256": hashlib.sha256(password.encode()).hexdigest(),
        "role": role,
    }


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    tmp = tmp_path_factory.mktemp("portal")
    patient = generate_patients(5150, 1)[0]
    b = NodeThread(node_settings(tmp, "B")).start()
    a = None
    try:
        # The study lives only in community B: 2 series of 12 CT slices, 128 x 128.
        stored = load(
            b,
            generate_study(
                patient, seed=5, series_count=2, instances_per_series=12, rows=128, columns=128
            ),
        )
        a = NodeThread(
            node_settings(
                tmp,
                "A",
                communities=[community("B", b)],
                portal={
                    "users": [_user(*CLINICIAN, "admin"), _user(*CLERK, "clinician")],
                    "session_secret": "test-session-secret-0123456789",
                },
            )
        ).start()
        record = b.call(b.services.metadata.get_instance(next(iter(stored))))  # type: ignore[union-attr]
        assert record is not None
        yield Network(a=a, b=b, patient=patient, study_instance_uid=record.study_instance_uid)
    finally:
        for n in (a, b):
            if n is not None:
                n.stop()
