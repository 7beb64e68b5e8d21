"""``PeerDirectory`` over the ``[[communities]]`` list of the node's settings.

Routing before (or without) a participant directory: same shape as the directory cache.
"""

from __future__ import annotations

from collections.abc import Sequence

from imx.model.community import Community, CommunityEndpoint
from imx.ports import PeerDirectory
from imx.settings import CommunitySettings

__all__ = ["ChainedDirectory", "StaticDirectory", "community_from_settings"]


def community_from_settings(c: CommunitySettings) -> Community:
    home = (
        c.home_community_id
        if c.home_community_id.startswith("urn:oid:")
        else f"urn:oid:{c.home_community_id}"
    )
    return Community(
        home_community_id=home,
        name=c.name,
        city=c.city,
        state=c.state,
        postal_code=c.postal_code,
        quirks=dict(c.quirks),
        endpoints=tuple(
            CommunityEndpoint(transaction=e.transaction, address=e.address) for e in c.endpoints
        ),
    )


class StaticDirectory:
    def __init__(self, communities: Sequence[CommunitySettings | Community]) -> None:
        self._all = [
            c if isinstance(c, Community) else community_from_settings(c) for c in communities
        ]

    async def find_communities(
        self,
        *,
        transaction: str | None = None,
        state: str | None = None,
        near_postal_code: str | None = None,
        radius_miles: float | None = None,
        active: bool = True,
    ) -> list[Community]:
        # Distance needs coordinates, which only the directory has: with a static list a
        # radius search falls back to the state (or everything) rather than to nothing.
        return [
            c
            for c in self._all
            if (transaction is None or c.endpoint(transaction) is not None)
            and (not state or c.state.upper() == state.upper())
            and (not active or c.active)
        ]

    async def get(self, home_community_id: str) -> Community | None:
        want = (
            home_community_id
            if home_community_id.startswith("urn:oid:")
            else f"urn:oid:{home_community_id}"
        )
        return next((c for c in self._all if c.home_community_id == want), None)


class ChainedDirectory:
    """Configured communities first, then the directory cache (a configured entry wins)."""

    def __init__(self, *directories: PeerDirectory) -> None:
        self._directories = directories

    async def find_communities(
        self,
        *,
        transaction: str | None = None,
        state: str | None = None,
        near_postal_code: str | None = None,
        radius_miles: float | None = None,
        active: bool = True,
    ) -> list[Community]:
        seen: set[str] = set()
        out: list[Community] = []
        for d in self._directories:
            for c in await d.find_communities(
                transaction=transaction,
                state=state,
                near_postal_code=near_postal_code,
                radius_miles=radius_miles,
                active=active,
            ):
                if c.home_community_id not in seen:
                    seen.add(c.home_community_id)
                    out.append(c)
        return out

    async def get(self, home_community_id: str) -> Community | None:
        for d in self._directories:
            if (c := await d.get(home_community_id)) is not None:
                return c
        return None
