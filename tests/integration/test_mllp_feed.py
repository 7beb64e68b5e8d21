"""The registration feed over MLLP: ADT A01 registers, A08 updates, A40 merges (moving the
retired ID's studies), bad messages get AE/AR ACKs and the listener keeps serving."""

from __future__ import annotations

import asyncio
import dataclasses
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


async def test_feed_fills_the_patient_index_with_address_and_phone(tmp_path: Path) -> None:
    """PID-11 address, PID-13 phone and PID-6 mother's maiden name reach the MPI the XCPD
    responder matches against; A40 retires the merged identifier's index entry."""
    mrn = PatientId(id="MRN7", assigning_authority="1.2.3.4")
    async with open_test_node(tmp_path) as node:
        server = MllpServer(node.patient_feed, node.clock, host="127.0.0.1", port=0)
        port = await server.start()
        try:
            a04 = adt("A04", "PID|1||MRN7^^^HOSP&1.2.3.4&ISO~123456789^^^SSA&2.16.840.1.113883.4.1"
                             "&ISO||Roe^Rita^Ann||19750704|F|||"
                             "12 North Main Street^Apt 4^Springfield^IL^62704^USA||"
                             "^PRN^PH^^1^217^5550101")
            a04 = a04.replace(b"||Roe^Rita^Ann||", b"||Roe^Rita^Ann|Smith^^^^|")
            assert msa(await send(port, a04)) == "AA"
            entry = await node.metadata.get_mpi_patient(mrn)
            assert entry is not None
            d = entry.demographics
            assert d.addresses[0].street_lines == ("12 North Main Street", "Apt 4")
            assert (d.addresses[0].city, d.addresses[0].state, d.addresses[0].postal_code) == (
                "Springfield", "IL", "62704")
            assert d.telecoms == ("tel:+12175550101",)
            assert d.mothers_maiden_name is not None and d.mothers_maiden_name.family == "Smith"
            assert d.ids == (PatientId(id="123456789", assigning_authority="2.16.840.1.113883.4.1"),)
            await node.metadata.upsert_mpi_patient(dataclasses.replace(
                entry, patient_id=PatientId(id="OLD7", assigning_authority="1.2.3.4")))
            a40 = adt("A40", "PID|1||MRN7^^^HOSP&1.2.3.4&ISO||Roe^Rita",
                      "MRG|OLD7^^^HOSP&1.2.3.4&ISO\r", control="C3")
            assert msa(await send(port, a40)) == "AA"
            assert await node.metadata.get_mpi_patient(
                PatientId(id="OLD7", assigning_authority="1.2.3.4")) is None
            # the survivor keeps the demographics of its A04 (A40's PID is not a full update)
            assert await node.metadata.get_mpi_patient(mrn) == entry
        finally:
            await server.stop()
