"""The network PKI: certificate profile, key files, CRLs that OpenSSL agrees with."""

from __future__ import annotations

import datetime as dt
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from imx.security import pki
from tests.support.pki_network import HOME, PkiNetwork, build_test_network

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"


@pytest.fixture(scope="session")
def network(tmp_path_factory: pytest.TempPathFactory) -> PkiNetwork:
    return build_test_network(tmp_path_factory.mktemp("pki"))


def _leaf(path: Path) -> x509.Certificate:
    return pki.load_certificates(path)[0]


def test_node_certificate_names_its_organisation_and_home_community(network: PkiNetwork) -> None:
    cert = _leaf(network.server.cert_file)
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Community A"
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "imx-a"
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [HOME]
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(i) for i in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]


def test_node_certificate_is_for_tls_server_and_client_not_a_ca(network: PkiNetwork) -> None:
    cert = _leaf(network.client.cert_file)
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and ku.value.key_encipherment
    assert not ku.value.key_cert_sign
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(eku) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert cert.issuer == network.ca.certificate.subject


def test_chain_file_carries_the_ca_after_the_node(network: PkiNetwork) -> None:
    chain = pki.load_certificates(network.client.cert_file)
    assert [c.subject for c in chain] == [chain[0].subject, network.ca.certificate.subject]


def test_private_keys_are_owner_only(network: PkiNetwork) -> None:
    for path in (network.client.key_file, network.ca.directory / pki.CA_KEY):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_existing_key_file_is_narrowed_to_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    path.write_text("old")
    path.chmod(0o644)
    pki.write_private_key(path, pki.generate_key("ec-p256"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert b"PRIVATE KEY" in path.read_bytes()


def test_ecdsa_node_key_gets_no_key_encipherment(network: PkiNetwork) -> None:
    key = pki.generate_key("ec-p256")
    cert = pki.issue_node_certificate(
        network.ca.certificate, network.ca.key, key.public_key(), common_name="ec",
        organization="EC", home_community_id="1.2.3", now=dt.datetime.now(dt.UTC))
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and not ku.key_encipherment


@pytest.mark.parametrize("bad", ["", "urn:oid:", "urn:oid:1.2.abc", "3.1", "1.02"])
def test_home_community_id_must_be_an_oid(bad: str) -> None:
    with pytest.raises(ValueError, match="not an OID"):
        pki.home_community_oid(bad)


def test_init_ca_refuses_to_overwrite_an_existing_ca(network: PkiNetwork) -> None:
    with pytest.raises(FileExistsError):
        pki.init_ca_dir(network.ca.directory, common_name="x", organization="y",
                        now=dt.datetime.now(dt.UTC))


def test_crl_lists_the_revoked_serial_and_numbers_increase(tmp_path: Path,
                                                           network: PkiNetwork) -> None:
    ca_dir = tmp_path / "ca"
    shutil.copytree(network.ca.directory, ca_dir)
    ca = pki.load_ca_dir(ca_dir)
    before = pki.load_crls(ca_dir / pki.CRL_FILE)[0]
    cert = _leaf(network.client.cert_file)
    pki.revoke_in_dir(ca, cert, now=dt.datetime.now(dt.UTC))
    pki.revoke_in_dir(ca, cert, now=dt.datetime.now(dt.UTC))  # twice: listed once
    crl = pki.load_crls(ca_dir / pki.CRL_FILE)[0]
    serials = [r.serial_number for r in crl]
    assert serials.count(cert.serial_number) == 1
    assert _leaf(network.revoked.cert_file).serial_number in serials
    number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    assert number > before.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    assert crl.is_signature_valid(ca.key.public_key())


def test_revoking_a_foreign_certificate_is_refused(network: PkiNetwork) -> None:
    with pytest.raises(ValueError, match="not issued by this CA"):
        pki.revoke_in_dir(network.ca, _leaf(network.foreign.cert_file),
                          now=dt.datetime.now(dt.UTC))


def test_der_crl_is_read(tmp_path: Path, network: PkiNetwork) -> None:
    der = tmp_path / "crl.der"
    crl = pki.load_crls(network.crl)[0]
    from cryptography.hazmat.primitives.serialization import Encoding

    der.write_bytes(crl.public_bytes(Encoding.DER))
    assert [r.serial_number for r in pki.load_crls(der)[0]] == [r.serial_number for r in crl]


def _openssl_verify(network: PkiNetwork, cert: Path,
                    tmp_path: Path) -> subprocess.CompletedProcess[str]:
    leaf = tmp_path / "leaf.pem"
    leaf.write_bytes(cert.read_bytes().split(b"-----END CERTIFICATE-----")[0]
                     + b"-----END CERTIFICATE-----\n")
    return subprocess.run(
        [OPENSSL, "verify", "-crl_check", "-CAfile", str(network.trust_bundle),
         "-CRLfile", str(network.crl), "-purpose", "sslclient", str(leaf)],
        capture_output=True, text=True, check=False, timeout=20)


@pytest.mark.skipif(not Path(OPENSSL).exists(), reason="openssl CLI not installed")
def test_openssl_agrees_good_is_good_and_revoked_is_revoked(tmp_path: Path,
                                                            network: PkiNetwork) -> None:
    good = _openssl_verify(network, network.client.cert_file, tmp_path)
    assert good.returncode == 0, good.stdout + good.stderr
    revoked = _openssl_verify(network, network.revoked.cert_file, tmp_path)
    assert revoked.returncode != 0
    assert "certificate revoked" in revoked.stdout + revoked.stderr
    foreign = _openssl_verify(network, network.foreign.cert_file, tmp_path)
    assert foreign.returncode != 0



@pytest.mark.parametrize("content", [b"", b"-----BEGIN X509 CRL-----\nMIIB", b"garbage"])
def test_truncated_or_empty_crl_file_fails_loudly(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "crl.pem"
    path.write_bytes(content)
    with pytest.raises(ValueError):
        pki.load_crls(path)
