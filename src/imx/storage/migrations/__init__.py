"""Numbered schema migrations, applied in order by ``imx db upgrade``.

Each migration is a module ``mNNNN_<name>.py`` with ``VERSION`` and a synchronous
``upgrade(connection)``; applied versions are recorded in ``schema_version``.
Never edit an applied migration: add the next number.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

__all__ = ["all_migrations"]


def all_migrations() -> list[ModuleType]:
    """Every migration module, ordered by VERSION."""
    mods = [
        importlib.import_module(f"{__name__}.{m.name}")
        for m in pkgutil.iter_modules(__path__)
        if m.name.startswith("m")
    ]
    return sorted(mods, key=lambda m: int(m.VERSION))
