"""Self-contained peers for the benchmarks (no dependency on tests/ or a shared checkout)."""
