"""DICOM TLS on the DIMSE listener (``dimse.tls``): PS3.15 B.9, client certificate required.

Checked with pynetdicom and with DCMTK's echoscu/storescu over TLS, as a modality would.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Iterator

import pytest
from pynetdicom import AE
from pynetdicom.sop_class import Verification

from imx.security.tls import client_ssl_context
from imx.settings import Settings
from tests.support.pki_network import Credential, PkiNetwork, build_test_network
from tests.support.server import NodeThread, running_node


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> PkiNetwork:
    return build_test_network(tmp_path_factory.mktemp("dimse-pki"))


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory, network: PkiNetwork) -> Iterator[NodeThread]:
    tls = network.server_tls()
    with running_node(tmp_path_factory.mktemp("dimse-tls-node"), tls=tls,
                      dimse={"tls": True}, with_dimse=True) as n:
        yield n


def _echo(port: int, ctx: ssl.SSLContext | None) -> bool:
    ae = AE(ae_title="MODALITY")
    ae.add_requested_context(Verification)
    ae.acse_timeout = ae.network_timeout = 5
    assoc = ae.associate("127.0.0.1", port, ae_title="IMX",
                         tls_args=(ctx, "127.0.0.1") if ctx is not None else None)
    if not assoc.is_established:
        return False
    status = assoc.send_c_echo()
    assoc.release()
    return bool(status) and status.Status == 0x0000


def _client(network: PkiNetwork, cred: Credential) -> ssl.SSLContext:
    return client_ssl_context(cert_file=cred.cert_file, key_file=cred.key_file,
                              trust_bundle=network.trust_bundle)


def test_echo_over_tls_with_a_network_certificate(node: NodeThread, network: PkiNetwork) -> None:
    assert _echo(node.dimse_port, _client(network, network.client))


@pytest.mark.parametrize("who", ["revoked", "expired", "foreign"])
def test_certificates_the_network_does_not_vouch_for_are_refused(
        node: NodeThread, network: PkiNetwork, who: str) -> None:
    assert not _echo(node.dimse_port, _client(network, getattr(network, who)))


def test_no_client_certificate_and_plain_tcp_are_refused(node: NodeThread,
                                                         network: PkiNetwork) -> None:
    anonymous = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    anonymous.load_verify_locations(network.trust_bundle)
    assert not _echo(node.dimse_port, anonymous)
    assert not _echo(node.dimse_port, None)
    # and the listener still serves after the refusals
    assert _echo(node.dimse_port, _client(network, network.client))


@pytest.mark.interop
@pytest.mark.skipif(shutil.which("echoscu") is None, reason="DCMTK not installed")
def test_dcmtk_echoscu_over_tls(node: NodeThread, network: PkiNetwork) -> None:
    cred = network.client
    done = subprocess.run(
        ["echoscu", "-aec", "IMX", "+tls", str(cred.key_file), str(cred.cert_file),
         "+cf", str(network.trust_bundle), "127.0.0.1",
         str(node.dimse_port)], capture_output=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-500:]
    plain = subprocess.run(["echoscu", "-aec", "IMX", "127.0.0.1", str(node.dimse_port)],
                           capture_output=True, timeout=30, check=False)
    assert plain.returncode != 0


def test_dimse_beyond_loopback_needs_tls() -> None:
    def problems(**dimse: object) -> list[str]:
        return [p for p in Settings(dimse={"host": "0.0.0.0", **dimse}).problems()  # noqa: S104
                if "dimse" in p]

    assert problems() and "dimse.tls" in problems()[0]
    assert problems(tls=True) == ["dimse.tls needs tls.cert_file, tls.key_file and "
                                  "tls.trust_bundle"]
