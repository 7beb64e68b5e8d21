"""HL7 v2.x ADT → ``PatientFeedEvent`` and ACK builder (HL7 v2.5 ch. 2, 3; ITI TF-2a 3.8.4).

Parsing uses python-hl7 for segment/field/repetition splitting; component and
sub-component values are read with the message's own encoding characters.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

import hl7

from imx.errors import MalformedMessageError, MissingParameterError, UnsupportedError
from imx.model.identifiers import PatientId
from imx.model.patient_discovery import Address, PatientDemographics, PersonName

__all__ = ["FeedAction", "PatientFeedEvent", "build_ack", "parse_adt"]


class FeedAction(enum.Enum):
    REGISTER = "register"  # A01 admit, A04 register, A05 pre-admit, A28 add person
    UPDATE = "update"  # A08 update, A31 update person
    MERGE = "merge"  # A40 merge patient - patient identifier list


_EVENTS = {
    "A01": FeedAction.REGISTER, "A04": FeedAction.REGISTER, "A05": FeedAction.REGISTER,
    "A28": FeedAction.REGISTER, "A08": FeedAction.UPDATE, "A31": FeedAction.UPDATE,
    "A40": FeedAction.MERGE,
}
_SEX = {"M": "M", "F": "F", "O": "UN", "U": "", "A": "UN", "N": ""}


@dataclass(frozen=True, slots=True, kw_only=True)
class PatientFeedEvent:
    action: FeedAction
    trigger_event: str  # "A01" ...
    message_control_id: str
    demographics: PatientDemographics  # ids = PID-3 (first is the primary identifier)
    prior_ids: tuple[PatientId, ...] = ()  # MRG-1 for A40: the identifiers being retired


@dataclass(frozen=True, slots=True)
class _Enc:
    component: str = "^"
    repetition: str = "~"
    subcomponent: str = "&"


def _enc(msh: str) -> _Enc:
    # MSH-2 encoding characters: component, repetition, escape, subcomponent (HL7 v2.5 2.5.4).
    chars = msh[4:8] if len(msh) >= 8 else "^~\\&"
    return _Enc(component=chars[0], repetition=chars[1], subcomponent=chars[3] if len(chars) > 3 else "&")


def _field(segment: hl7.Segment | None, index: int) -> str:
    if segment is None or len(segment) <= index:
        return ""
    return str(segment[index])


def _components(value: str, enc: _Enc) -> list[str]:
    return value.split(enc.component)


def _comp(parts: list[str], i: int) -> str:
    return parts[i].strip() if len(parts) > i else ""


def _cx(value: str, enc: _Enc) -> PatientId | None:
    parts = _components(value, enc)
    ident = _comp(parts, 0)
    if not ident:
        return None
    hd = _comp(parts, 3).split(enc.subcomponent)
    # HD: namespace & universal ID & type; prefer the ISO OID (ITI TF-2a 3.8.4.1.2.3).
    authority = hd[1] if len(hd) > 1 and hd[1] else hd[0]
    return PatientId(id=ident, assigning_authority=authority)


def _xpn(value: str, enc: _Enc) -> PersonName:
    p = _components(value, enc)
    given = tuple(g for g in (_comp(p, 1), _comp(p, 2)) if g)
    return PersonName(family=_comp(p, 0).split(enc.subcomponent)[0], given=given,
                      suffix=_comp(p, 3), prefix=_comp(p, 4))


def _xad(value: str, enc: _Enc) -> Address:
    p = _components(value, enc)
    lines = tuple(x for x in (_comp(p, 0).split(enc.subcomponent)[0], _comp(p, 1)) if x)
    return Address(street_lines=lines, city=_comp(p, 2), state=_comp(p, 3),
                   postal_code=_comp(p, 4), country=_comp(p, 5))


def _xtn(value: str, enc: _Enc) -> str | None:
    p = _components(value, enc)
    if _comp(p, 2).lower() == "internet" or "@" in _comp(p, 3):
        return f"mailto:{_comp(p, 3)}" if _comp(p, 3) else None
    number = "".join(x for x in (_comp(p, 5), _comp(p, 6)) if x) or _comp(p, 0)
    digits = "".join(ch for ch in number if ch.isdigit() or ch == "+")
    if not digits:
        return None
    country = _comp(p, 4)
    return f"tel:+{country}{digits}" if country else f"tel:{digits}"


def _date(value: str) -> dt.date | None:
    v = value.strip()[:8]
    if len(v) < 8 or not v.isdigit():
        return None
    try:
        return dt.date(int(v[:4]), int(v[4:6]), int(v[6:8]))
    except ValueError as exc:
        raise MalformedMessageError("PID-7 is not a valid date") from exc


def _reps(segment: hl7.Segment | None, index: int, enc: _Enc) -> list[str]:
    raw = _field(segment, index)
    return [r for r in raw.split(enc.repetition) if r.strip()] if raw else []


def parse_adt(text: str) -> PatientFeedEvent:
    """Parse one ADT message (segments separated by CR; LF tolerated).

    Raises:
        MalformedMessageError: not HL7 v2 or unreadable segments (ACK AR).
        UnsupportedError: an event other than A01/A04/A05/A08/A28/A31/A40 (ACK AR).
        MissingParameterError: no PID-3 identifier, or A40 without MRG-1 (ACK AE).
    """
    text = text.replace("\r\n", "\r").replace("\n", "\r").strip("\r\x0b\x1c ")
    if not text.startswith("MSH"):
        raise MalformedMessageError("not an HL7 v2 message (no MSH segment)")
    try:
        msg = hl7.parse(text)
        msh = msg.segment("MSH")
    except Exception as exc:  # noqa: BLE001 - python-hl7 raises several types
        raise MalformedMessageError("unreadable HL7 v2 message") from exc
    enc = _enc(text)
    msg_type = _components(_field(msh, 9), enc)
    trigger = _comp(msg_type, 1)
    if _comp(msg_type, 0) != "ADT" or trigger not in _EVENTS:
        raise UnsupportedError("only ADT A01/A04/A05/A08/A28/A31/A40 are accepted")
    pid = _segment(msg, "PID")
    ids = tuple(x for x in (_cx(r, enc) for r in _reps(pid, 3, enc)) if x is not None)
    if not ids:
        raise MissingParameterError("PID-3 patient identifier is required")
    telecoms = tuple(t for t in (_xtn(r, enc) for r in _reps(pid, 13, enc) + _reps(pid, 14, enc))
                     if t)
    demographics = PatientDemographics(
        ids=ids,
        names=tuple(_xpn(r, enc) for r in _reps(pid, 5, enc)),
        birth_date=_date(_field(pid, 7)),
        gender=_SEX.get(_field(pid, 8).strip().upper()[:1], ""),
        addresses=tuple(_xad(r, enc) for r in _reps(pid, 11, enc)),
        telecoms=telecoms,
        mothers_maiden_name=(_xpn(_reps(pid, 6, enc)[0], enc) if _reps(pid, 6, enc) else None),
    )
    prior: tuple[PatientId, ...] = ()
    action = _EVENTS[trigger]
    if action is FeedAction.MERGE:
        mrg = _segment(msg, "MRG")
        prior = tuple(x for x in (_cx(r, enc) for r in _reps(mrg, 1, enc)) if x is not None)
        if not prior:
            raise MissingParameterError("A40 needs MRG-1 prior patient identifier")
    return PatientFeedEvent(action=action, trigger_event=trigger,
                            message_control_id=_field(msh, 10).strip(),
                            demographics=demographics, prior_ids=prior)


def _segment(msg: hl7.Message, name: str) -> hl7.Segment | None:
    try:
        return msg.segment(name)
    except KeyError:
        return None


def build_ack(original: str, *, code: str, text: str = "", sending_application: str = "IMX",
              sending_facility: str = "IMX", now: dt.datetime) -> str:
    """An ACK for ``original`` (HL7 v2.5 2.14.1): MSH + MSA (AA, AE or AR) (+ ERR text).

    ``text`` must be PHI-free; it is sent back to the feeding system.
    """
    first = original.replace("\n", "\r").split("\r", 1)[0]
    fields = first.split("|")
    enc = fields[1] if len(fields) > 1 else "^~\\&"

    def f(i: int) -> str:
        return fields[i] if len(fields) > i else ""

    control_id = f(9)
    version = f(11) or "2.5"
    stamp = now.astimezone(dt.UTC).strftime("%Y%m%d%H%M%S")
    msh = "|".join(["MSH", enc, sending_application, sending_facility, f(2), f(3), stamp, "",
                    f"ACK^{_comp(_components(f(8), _Enc()), 1)}^ACK", f"ACK{control_id}"[:20],
                    f(10) or "P", version])
    segments = [msh, f"MSA|{code}|{control_id}"]
    if text:
        segments.append(f"ERR|||207^Application internal error^HL70357|E||||{_escape(text)}")
    return "\r".join(segments) + "\r"


def _escape(text: str) -> str:
    # HL7 v2.5 2.7.1 escape sequences for the delimiters.
    out = text.replace("\\", "\\E\\").replace("|", "\\F\\").replace("^", "\\S\\")
    return out.replace("&", "\\T\\").replace("~", "\\R\\")
