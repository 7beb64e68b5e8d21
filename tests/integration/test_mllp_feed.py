"""The registration feed over MLLP: ADT A01 registers, A08 updates, A40 merges (moving the
retired ID's studies), bad messages get AE/AR ACKs and the listener keeps serving."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from imx.hl7v2.mllp import MllpServer
from imx.model.identifiers import PatientId
from tests.contract.records import stored
from tests.support.node import open_test_node

VT, FS = b"\x0b", b"\x1c\x0d"


def adt(trigger: str, pid: str, extra: str = "", control: str = "C1") -> bytes:
    return (f"MSH|^~\\&|ADT|HOSP|IMX|IMX|20260301120000||ADT^{trigger}^ADT_{trigger}|{control}|P|2.5\r"
            f"EVN|{trigger}\r{pid}\r{extra}").encode()


async def send(port: int, message: bytes) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(VT + message + FS)
    await writer.drain()
    await reader.readuntil(VT)
    ack = (await reader.readuntil(FS))[:-2].decode()
    writer.close()
    await writer.wait_closed()
    return ack


def msa(ack: str) -> str:
    return next(seg for seg in ack.split("\r") if seg.startswith("MSA|")).split("|")[1]


async def test_register_update_merge_and_errors(tmp_path: Path) -> None:
    async with open_test_node(tmp_path) as node:
        server = MllpServer(node.patient_feed, node.clock, host="127.0.0.1", port=0)
        port = await server.start()
        try:
            a01 = adt("A01", "PID|1||MRN9^^^HOSP&1.2.3.4&ISO||Müller^José||19800215|M")
            assert msa(await send(port, a01)) == "AA"
            p = await node.metadata.get_patient(PatientId(id="MRN9", assigning_authority="1.2.3.4"))
            assert p is not None and p.patient_name == "Müller^José" and p.birth_date == dt.date(1980, 2, 15)
            a08 = adt("A08", "PID|1||MRN9^^^HOSP&1.2.3.4&ISO||Müller-Lopez^José||19800215|M", control="C2")
            assert msa(await send(port, a08)) == "AA"
            p = await node.metadata.get_patient(PatientId(id="MRN9", assigning_authority="1.2.3.4"))
            assert p is not None and p.patient_name == "Müller-Lopez^José"

            # a study arrived under an old MRN; A40 merges it into MRN9
            await node.metadata.store_instance(stored(patient="OLD1", issuer="1.2.3.4", study=5))
            a40 = adt("A40", "PID|1||MRN9^^^HOSP&1.2.3.4&ISO||Müller-Lopez^José",
                      "MRG|OLD1^^^HOSP&1.2.3.4&ISO\r", control="C3")
            assert msa(await send(port, a40)) == "AA"
            study = await node.metadata.get_study("1.2.826.0.1.3680043.10.999.5")
            assert study is not None and study.patient_id.id == "MRN9"
            assert await node.metadata.get_patient(PatientId(id="OLD1", assigning_authority="1.2.3.4")) is None

            assert msa(await send(port, adt("A01", "PID|1||||Nobody^X", control="C4"))) == "AE"
            assert msa(await send(port, adt("A03", "PID|1||MRN9^^^HOSP&1.2.3.4&ISO", control="C5"))) == "AR"
            assert msa(await send(port, a01)) == "AA"  # still serving
        finally:
            await server.stop()
