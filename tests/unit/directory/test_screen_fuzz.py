"""Whatever a directory sends, screening skips it with a reason instead of crashing the sync."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imx.directory.builders import build_endpoint, build_organization
from imx.directory.screen import drop_unreachable, screen_resources

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
_FIELDS = [
    "id",
    "identifier",
    "name",
    "active",
    "address",
    "partOf",
    "extension",
    "endpoint",
    "contained",
    "meta",
]
_ENDPOINT_FIELDS = [
    "id",
    "status",
    "connectionType",
    "address",
    "extension",
    "managingOrganization",
]


def _valid() -> dict[str, Any]:
    return build_organization(
        oid="1.2.3.4",
        name="Valid",
        postal_code="10001",
        part_of="1.2.3",
        contained_endpoints=[
            build_endpoint(
                endpoint_id="e",
                transaction="RAD-75",
                address="https://x.example/r",
                organization_oid="1.2.3.4",
            )
        ],
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    field=st.sampled_from(_FIELDS),
    endpoint_field=st.sampled_from(_ENDPOINT_FIELDS),
    value=_json,
    endpoint_value=_json,
    where=st.integers(0, 2),
)
def test_any_corruption_is_skipped_or_accepted_never_raised(
    field: str, endpoint_field: str, value: Any, endpoint_value: Any, where: int
) -> None:
    org = copy.deepcopy(_valid())
    if where in (0, 2):
        org[field] = value
    contained = org.get("contained")
    if (
        where in (1, 2)
        and isinstance(contained, list)
        and len(contained) > 1
        and isinstance(contained[1], dict)
    ):
        contained[1][endpoint_field] = endpoint_value
    screened = screen_resources([org, {"resourceType": "Endpoint", endpoint_field: value}])
    drop_unreachable(screened, lambda _oid: None)
    accepted = len(screened.accepted)
    skipped = screened.skipped_organizations + screened.skipped_endpoints
    assert accepted + skipped >= 1
    assert len(screened.problems) == skipped


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(_FIELDS), value=_json)
def test_what_screening_accepts_the_cache_can_store(field: str, value: Any) -> None:
    import asyncio

    from imx.directory.cache import DirectoryCache

    org = copy.deepcopy(_valid())
    org[field] = value
    screened = screen_resources([org])

    async def store() -> None:
        cache = await DirectoryCache.open(":memory:")
        try:
            await cache.apply(screened.accepted, replace_all=True, parsed=screened.entries)
            assert await cache.count() == len(screened.accepted)
        finally:
            await cache.close()

    asyncio.run(store())
