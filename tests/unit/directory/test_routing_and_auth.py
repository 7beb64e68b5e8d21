from __future__ import annotations

import pytest

from imx.directory.auth import (
    AuthenticationRequiredError,
    Identity,
    check_write,
    token_from_header,
)
from imx.directory.routing import IndexRow, resolve_endpoints
from imx.errors import NotAuthorizedError
from imx.model.community import CommunityEndpoint

GW = (CommunityEndpoint(transaction="RAD-75", address="https://net.example/rad-75"),)
OWN = (CommunityEndpoint(transaction="ITI-55", address="https://own.example/xcpd"),)


def _rows(*rows: IndexRow) -> dict[str, IndexRow]:
    return {r.id: r for r in rows}


def test_a_facility_without_endpoints_uses_its_networks_gateway() -> None:
    rows = _rows(
        IndexRow(id="1", name="net", is_active=True, endpoints=GW),
        IndexRow(id="1.1", name="hospital", is_active=True, part_of="1"),
        IndexRow(id="1.1.1", name="clinic", is_active=True, managing_organization="1.1"),
    )
    assert resolve_endpoints(rows["1.1"], rows.get) == GW
    assert resolve_endpoints(rows["1.1.1"], rows.get) == GW  # two levels up


def test_own_endpoints_win_and_inactive_or_cyclic_parents_give_nothing() -> None:
    rows = _rows(
        IndexRow(id="1", name="net", is_active=False, endpoints=GW),
        IndexRow(id="2", name="own", is_active=True, part_of="1", endpoints=OWN),
        IndexRow(id="3", name="orphan", is_active=True, part_of="1"),
        IndexRow(id="4", name="a", is_active=True, part_of="5"),
        IndexRow(id="5", name="b", is_active=True, part_of="4"),
    )
    assert resolve_endpoints(rows["2"], rows.get) == OWN
    assert resolve_endpoints(rows["3"], rows.get) == ()
    assert resolve_endpoints(rows["4"], rows.get) == ()


def test_an_organization_may_write_itself_and_its_facilities_only() -> None:
    me = Identity(organization="1.2")
    check_write(me, owners_before={"1.2"}, owners_after={"1.2"})
    check_write(me, owners_before=None, owners_after={"1.2.7", "1.2"})  # new facility
    with pytest.raises(NotAuthorizedError, match="another organization"):
        check_write(me, owners_before={"9.9"}, owners_after={"9.9", "1.2"})  # take-over
    with pytest.raises(NotAuthorizedError, match="own entries"):
        check_write(me, owners_before={"1.2"}, owners_after={"9.9"})  # give away
    with pytest.raises(AuthenticationRequiredError):
        check_write(None, owners_before=None, owners_after={"1.2"})
    check_write(
        Identity(organization="", is_admin=True), owners_before={"9.9"}, owners_after={"9.9"}
    )


def test_tokens_come_as_bearer_or_carequality_api_key() -> None:
    assert token_from_header("Bearer abc") == "abc"
    assert token_from_header("api-key abc") == "abc"
    assert token_from_header("Basic abc") is None
    assert token_from_header(None) is None
