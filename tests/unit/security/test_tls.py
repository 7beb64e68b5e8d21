"""TLS contexts: what they accept and refuse (in-memory handshakes), and the peer identity."""

from __future__ import annotations

import datetime as dt
import ssl
from pathlib import Path

import pytest

from imx.security import pki
from imx.security.tls import (
    PeerIdentity,
    ReloadingServerContext,
    asgi_tls_extension,
    client_ssl_context,
    crl_check_mode,
    peer_identity,
    peer_identity_from_scope,
    server_ssl_context,
)
from imx.settings import TlsSettings
from tests.support.pki_network import HOME, PEER_HOME, Credential, PkiNetwork, build_test_network


@pytest.fixture(scope="session")
def network(tmp_path_factory: pytest.TempPathFactory) -> PkiNetwork:
    return build_test_network(tmp_path_factory.mktemp("tls"))


def _server(net: PkiNetwork, *, crls: tuple[Path, ...] | None = None,
            min_version: str = "1.2") -> ssl.SSLContext:
    return server_ssl_context(cert_file=net.server.cert_file, key_file=net.server.key_file,
                              trust_bundle=net.trust_bundle,
                              crl_files=(net.crl,) if crls is None else crls,
                              min_version=min_version)


def _client(net: PkiNetwork, cred: Credential, *, max_version: ssl.TLSVersion | None = None
            ) -> ssl.SSLContext:
    ctx = client_ssl_context(cert_file=cred.cert_file, key_file=cred.key_file,
                             trust_bundle=net.trust_bundle, crl_files=(net.crl,))
    if max_version is not None:
        ctx.maximum_version = max_version
    return ctx


def _handshake(server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext | None = None,
               *, client_no_cert: ssl.SSLContext | None = None) -> ssl.SSLObject:
    """Run a full handshake through memory BIOs (plus one byte of data so TLS 1.3's
    post-handshake client-certificate verdict arrives); returns the server's SSLObject."""
    cctx = client_ctx or client_no_cert
    assert cctx is not None
    s_in, s_out, c_in, c_out = (ssl.MemoryBIO() for _ in range(4))
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    client = cctx.wrap_bio(c_in, c_out, server_hostname="127.0.0.1")
    done = {"server": False, "client": False}
    for _ in range(20):
        for name, obj in (("client", client), ("server", server)):
            if not done[name]:
                try:
                    obj.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            break
    client.write(b"x")
    s_in.write(c_out.read())
    assert server.read(1) == b"x"
    return server


def test_good_peer_is_accepted_and_identified(network: PkiNetwork) -> None:
    server = _handshake(_server(network), _client(network, network.client))
    ident = peer_identity_from_scope({"extensions": {"tls": asgi_tls_extension(server)}})
    assert ident is not None
    assert ident.home_community_id == PEER_HOME
    assert ident.organization == "Community B"
    assert ident.common_name == "imx-b"
    assert ident.serial == pki.load_certificates(network.client.cert_file)[0].serial_number
    assert ident.not_after > dt.datetime.now(dt.UTC)
    assert server.version() in ("TLSv1.3", "TLSv1.2")


@pytest.mark.parametrize("who", ["revoked", "expired", "foreign"])
def test_server_refuses_bad_client_certificates(network: PkiNetwork, who: str) -> None:
    cred: Credential = getattr(network, who)
    client = client_ssl_context(cert_file=cred.cert_file, key_file=cred.key_file,
                                trust_bundle=network.trust_bundle)
    with pytest.raises(ssl.SSLError) as err:
        _handshake(_server(network), client)
    expected = {"revoked": "certificate revoked", "expired": "certificate has expired",
                "foreign": "certificate verify failed"}[who]
    assert expected in str(err.value)


def test_server_requires_a_client_certificate(network: PkiNetwork) -> None:
    anonymous = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    anonymous.load_verify_locations(network.trust_bundle)
    with pytest.raises(ssl.SSLError,
                       match=r"PEER_DID_NOT_RETURN_A_CERTIFICATE|certificate required"):
        _handshake(_server(network), client_no_cert=anonymous)


def test_client_refuses_a_server_from_another_ca(network: PkiNetwork) -> None:
    foreign_server = server_ssl_context(cert_file=network.foreign.cert_file,
                                        key_file=network.foreign.key_file,
                                        trust_bundle=network.trust_bundle)
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(foreign_server, _client(network, network.client))


def test_tls_below_1_2_is_never_offered(network: PkiNetwork) -> None:
    ctx = _server(network)
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    client = _client(network, network.client)
    assert client.minimum_version == ssl.TLSVersion.TLSv1_2
    assert client.check_hostname and client.verify_mode == ssl.CERT_REQUIRED


def test_min_version_1_3_refuses_a_1_2_client(network: PkiNetwork) -> None:
    with pytest.raises(ssl.SSLError):
        _handshake(_server(network, min_version="1.3"),
                   _client(network, network.client, max_version=ssl.TLSVersion.TLSv1_2))


def test_tls_1_2_still_works_with_forward_secret_aead(network: PkiNetwork) -> None:
    server = _handshake(_server(network),
                        _client(network, network.client, max_version=ssl.TLSVersion.TLSv1_2))
    name, version, _bits = server.cipher() or ("", "", 0)
    assert version == "TLSv1.2"
    assert name.startswith("ECDHE-") and ("GCM" in name or "CHACHA20" in name)


def test_crl_check_covers_the_whole_chain_when_every_ca_has_a_crl(network: PkiNetwork) -> None:
    anchors = pki.load_certificates(network.trust_bundle)
    crls = pki.load_crls(network.crl)
    assert crl_check_mode(anchors, crls) == "chain"
    assert crl_check_mode(anchors, []) == "none"
    assert _server(network).verify_flags & ssl.VERIFY_CRL_CHECK_CHAIN
    # ... and the good peer still gets through with chain checking on (no missing-CRL failure)
    _handshake(_server(network), _client(network, network.client))


def test_without_crls_revocation_cannot_be_checked(network: PkiNetwork) -> None:
    ctx = _server(network, crls=())
    assert not ctx.verify_flags & (ssl.VERIFY_CRL_CHECK_LEAF | ssl.VERIFY_CRL_CHECK_CHAIN)


def test_leaf_only_when_an_anchor_has_no_crl(network: PkiNetwork, tmp_path: Path) -> None:
    other = pki.init_ca_dir(tmp_path / "other", common_name="Other CA", organization="Other",
                            now=dt.datetime.now(dt.UTC), key_type="ec-p256")
    anchors = [*pki.load_certificates(network.trust_bundle), other.certificate]
    assert crl_check_mode(anchors, pki.load_crls(network.crl)) == "leaf"


def test_peer_identity_of_a_certificate_without_san_or_o(network: PkiNetwork) -> None:
    ident = peer_identity(network.ca.certificate)
    assert ident.home_community_id == ""
    assert ident.organization == "imx test network"
    assert len(ident.fingerprint_sha256) == 64


def test_scope_without_tls_has_no_identity() -> None:
    assert peer_identity_from_scope({"type": "http"}) is None
    assert peer_identity_from_scope({"extensions": {"tls": {"client_cert_chain": []}}}) is None


def test_expired_identity_reports_expired(network: PkiNetwork) -> None:
    ident = peer_identity(pki.load_certificates(network.expired.cert_file)[0])
    assert isinstance(ident, PeerIdentity)
    assert ident.is_expired(dt.datetime.now(dt.UTC))
    assert ident.home_community_id != HOME


def test_reloading_context_picks_up_a_new_crl_and_survives_a_broken_one(
    network: PkiNetwork, tmp_path: Path,
) -> None:
    crl = tmp_path / "crl.pem"
    crl.write_bytes(network.crl.read_bytes())
    source = ReloadingServerContext(TlsSettings(
        cert_file=network.server.cert_file, key_file=network.server.key_file,
        trust_bundle=network.trust_bundle, crl_files=(crl,)))
    first = source()
    assert source() is first  # unchanged files: no rebuild per handshake
    crl.write_bytes(network.crl.read_bytes() + b"\n")
    second = source()
    assert second is not first
    crl.write_bytes(b"-----BEGIN X509 CRL-----\ntruncated")
    assert source() is second  # a half-written CRL never replaces a working context
