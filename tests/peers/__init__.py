"""Real third-party peers started by tests (DCMTK storescp, Orthanc), loopback only."""
