"""Orthanc for tests: the same launcher the benchmarks use (one copy, in bench/peers)."""

from __future__ import annotations

from bench.peers.orthanc import OrthancPeer, available, orthanc

__all__ = ["OrthancPeer", "available", "orthanc"]
