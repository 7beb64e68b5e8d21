"""The participant directory: a FHIR R4 Organization/Endpoint service, its sync, and the node cache.

Owns the Carequality/Sequoia directory shapes (SPEC-NOTES §7), distance search, the directory's
own tables (``dir_*``) and the node-side cache that routing reads. A vertical slice: the pure
modules (codes, geo, resources, search, bundles, routing, view, synth, auth) import no framework;
store/cache hold SQLAlchemy, app holds Starlette, sync/publish hold httpx. Never imports services.
"""
