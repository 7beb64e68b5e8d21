"""``imx pki init-ca|issue|revoke|crl|check``: the network PKI for sandboxes (docs/trust-pki.md).

Production networks issue certificates themselves: there, only ``imx pki check`` applies.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from imx.security import pki
from imx.security.expiry import check_files

_KEY_TYPES = ("rsa2048", "rsa3072", "rsa4096", "ec-p256", "ec-p384")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _key_type(value: str) -> pki.KeyType:
    if value not in _KEY_TYPES:
        raise typer.BadParameter(f"one of {', '.join(_KEY_TYPES)}")
    return value  # type: ignore[return-value]  # checked against the Literal's values above


def _load_ca(ca_dir: Path) -> pki.CertificateAuthority:
    try:
        return pki.load_ca_dir(ca_dir)
    except FileNotFoundError as exc:
        raise typer.BadParameter(f"no CA in {ca_dir} (imx pki init-ca {ca_dir})") from exc


CaOption = Annotated[Path, typer.Option("--ca", help="CA directory (from init-ca).")]
KeyTypeOption = Annotated[str, typer.Option("--key-type", help=", ".join(_KEY_TYPES))]


def register(app: typer.Typer) -> None:
    group = typer.Typer(no_args_is_help=True, help="Network PKI: CA, node certificates, CRL.")
    app.add_typer(group, name="pki")

    @group.command("init-ca")
    def init_ca(
        directory: Path,
        name: Annotated[str, typer.Option(help="CA common name.")] = "imx sandbox network CA",
        organization: Annotated[str, typer.Option(help="CA organisation.")] = "imx sandbox",
        key_type: KeyTypeOption = "rsa3072",
        days: Annotated[int, typer.Option(help="Validity in days.")] = 3650,
    ) -> None:
        """Create a network CA (sandbox / tests) with an empty CRL."""
        try:
            ca = pki.init_ca_dir(directory, common_name=name, organization=organization,
                                 now=_now(), key_type=_key_type(key_type), valid_days=days)
        except FileExistsError as exc:
            raise typer.BadParameter(str(exc)) from exc
        Console().print(f"CA created: {ca.directory / pki.CA_CERT} (trust bundle), "
                        f"{ca.directory / pki.CRL_FILE} (CRL); key {ca.directory / pki.CA_KEY}")

    @group.command("issue")
    def issue(
        ca: CaOption,
        name: Annotated[str, typer.Option(help="Node common name.")],
        home_community_id: Annotated[str, typer.Option(help="urn:oid:... of the node.")],
        out: Annotated[Path, typer.Option(help="Output directory.")],
        organization: Annotated[str | None, typer.Option(help="Defaults to --name.")] = None,
        dns: Annotated[list[str] | None, typer.Option(help="DNS name (repeatable).")] = None,
        ip: Annotated[list[str] | None, typer.Option(help="IP address (repeatable).")] = None,
        key_type: KeyTypeOption = "rsa3072",
        days: Annotated[int, typer.Option(help="Validity in days.")] = 365,
    ) -> None:
        """Issue a node certificate (TLS server and client): OUT/node.pem, node.key, trust.pem."""
        authority = _load_ca(ca)
        try:
            issued = pki.issue_node_to_dir(
                authority, out, common_name=name, organization=organization or name,
                home_community_id=home_community_id, now=_now(), dns_names=dns or (),
                ip_addresses=ip or (), key_type=_key_type(key_type), valid_days=days)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from exc
        Console().print(
            f"issued serial {issued.certificate.serial_number:x}, valid until "
            f"{issued.certificate.not_valid_after_utc:%Y-%m-%d}\n"
            f"[tls]\ncert_file = \"{issued.cert_file.resolve()}\"\n"
            f"key_file = \"{issued.key_file.resolve()}\"\n"
            f"trust_bundle = \"{issued.trust_bundle.resolve()}\"\n"
            f"crl_files = [\"{(authority.directory / pki.CRL_FILE).resolve()}\"]")

    @group.command("revoke")
    def revoke(ca: CaOption, cert: Path) -> None:
        """Revoke CERT and reissue the CRL (distribute it to every node)."""
        authority = _load_ca(ca)
        certificate = pki.load_certificates(cert)[0]
        try:
            crl = pki.revoke_in_dir(authority, certificate, now=_now())
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from exc
        Console().print(f"revoked serial {certificate.serial_number:x}; CRL written to {crl}")

    @group.command("crl")
    def crl(
        ca: CaOption,
        days: Annotated[int, typer.Option(help="Days until nextUpdate.")] = 7,
    ) -> None:
        """Reissue the CRL (before its nextUpdate: peers refuse everyone on a stale CRL)."""
        path = pki.write_crl_in_dir(_load_ca(ca), now=_now(), next_update_days=days)
        Console().print(f"CRL written to {path}")

    @group.command("check")
    def check(
        files: Annotated[list[Path], typer.Argument(help="PEM certificates or CRLs.")],
        warning_days: Annotated[int, typer.Option(help="Warn this many days ahead.")] = 30,
    ) -> None:
        """Print days to expiry; exit 1 if anything is expired or expires within the window."""
        crls = [f for f in files if _is_crl(f)]
        certs = [f for f in files if f not in crls]
        statuses = check_files(certificates=certs, crls=crls, now=_now(),
                               warning_days=warning_days)
        if not statuses:
            raise typer.BadParameter("no certificate or CRL found in the given files")
        console = Console()
        for s in statuses:
            colour = {"ok": "green", "expiring": "yellow", "expired": "red"}[s.state]
            console.print(f"[{colour}]{s.state:8}[/{colour}] {s.days_left:5d} days  {s.message}")
        if any(s.state != "ok" for s in statuses):
            raise typer.Exit(1)


def _is_crl(path: Path) -> bool:
    data = path.read_bytes()
    if b"-----BEGIN X509 CRL-----" in data:
        return True
    return b"-----BEGIN" not in data and path.suffix.lower() == ".crl"  # DER CRL
