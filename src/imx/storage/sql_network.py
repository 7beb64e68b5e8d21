"""The correlation cache (``imx.ports.CorrelationCache``) in the node's database."""

from __future__ import annotations

import datetime as dt
import json

import sqlalchemy as sa

from imx.model.identifiers import PatientId
from imx.model.network import CommunityPatient
from imx.model.patient_discovery import Address, PatientDemographics, PersonName
from imx.storage import schema
from imx.storage.sql_store import SqlMetadataStore

__all__ = ["SqlCorrelationCache", "decode_patient", "encode_patient"]

T = schema.network_correlations


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


class SqlCorrelationCache:
    def __init__(self, store: SqlMetadataStore) -> None:
        self._store = store

    async def get_correlations(
        self, patient_key: str, *, now: dt.datetime
    ) -> dict[str, CommunityPatient | None]:
        stmt = sa.select(T.c.home_community_id, T.c.payload, T.c.expires_at).where(
            T.c.patient_key == patient_key
        )
        async with self._store.engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return {
            home: (decode_patient(payload) if payload else None)
            for home, payload, expires in rows
            if _aware(expires) > now
        }

    async def put_correlation(
        self,
        patient_key: str,
        home_community_id: str,
        patient: CommunityPatient | None,
        *,
        expires_at: dt.datetime,
    ) -> None:
        values = {
            "patient_key": patient_key,
            "home_community_id": home_community_id,
            "remote_patient_id": patient.patient_id.id if patient else None,
            "remote_issuer": patient.patient_id.assigning_authority if patient else None,
            "payload": encode_patient(patient) if patient else None,
            "expires_at": expires_at,
        }

        def run(conn: sa.Connection) -> None:
            conn.execute(
                T.delete().where(
                    T.c.patient_key == patient_key, T.c.home_community_id == home_community_id
                )
            )
            conn.execute(T.insert().values(**values))

        await self._store.write(run)

    async def forget(self, patient_key: str) -> int:
        def run(conn: sa.Connection) -> int:
            return int(conn.execute(T.delete().where(T.c.patient_key == patient_key)).rowcount)

        return await self._store.write(run)


def encode_patient(p: CommunityPatient) -> str:
    d = p.demographics
    return json.dumps(
        {
            "home": p.home_community_id,
            "id": p.patient_id.id,
            "aa": p.patient_id.assigning_authority,
            "score": p.score,
            "local_score": p.local_score,
            "demographics": None
            if d is None
            else {
                "names": [[list(n.given), n.family, n.prefix, n.suffix] for n in d.names],
                "gender": d.gender,
                "birth_date": d.birth_date.isoformat() if d.birth_date else None,
                "addresses": [
                    [list(a.street_lines), a.city, a.state, a.postal_code, a.country]
                    for a in d.addresses
                ],
                "telecoms": list(d.telecoms),
                "ids": [[i.id, i.assigning_authority] for i in d.ids],
            },
        }
    )


def decode_patient(text: str) -> CommunityPatient:
    data = json.loads(text)
    d = data.get("demographics")
    demographics = None
    if d is not None:
        demographics = PatientDemographics(
            names=tuple(
                PersonName(given=tuple(g), family=f, prefix=p, suffix=s)
                for g, f, p, s in d["names"]
            ),
            gender=d["gender"],
            birth_date=dt.date.fromisoformat(d["birth_date"]) if d["birth_date"] else None,
            addresses=tuple(
                Address(street_lines=tuple(lines), city=c, state=st, postal_code=z, country=co)
                for lines, c, st, z, co in d["addresses"]
            ),
            telecoms=tuple(d["telecoms"]),
            ids=tuple(PatientId(id=i, assigning_authority=aa) for i, aa in d["ids"]),
        )
    return CommunityPatient(
        home_community_id=data["home"],
        patient_id=PatientId(id=data["id"], assigning_authority=data["aa"]),
        demographics=demographics,
        score=data["score"],
        local_score=data["local_score"],
    )
