"""The DIMSE edge (pynetdicom): C-ECHO, C-STORE, C-FIND, C-GET, C-MOVE.

The only package importing pynetdicom. Handlers are thin: identifier → model →
service/store call → status (``status.py``). pynetdicom threads reach the asyncio
loop only through ``bridge.py``.
"""
