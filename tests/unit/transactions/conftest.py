"""Schema validation for transaction tests: the XSDs shipped with imx (imx.wire.schemas)."""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable

import pytest
from lxml import etree

NS_XOP = "http://www.w3.org/2004/08/xop/include"


def inline_xop(element: etree._Element) -> etree._Element:
    """XOP 1.0 §3: the infoset a schema sees has base64 text where each xop:Include stands."""
    el = copy.deepcopy(element)
    for inc in list(el.iter(f"{{{NS_XOP}}}Include")):
        parent = inc.getparent()
        assert parent is not None
        parent.remove(inc)
        parent.text = base64.b64encode(b"\x00DICM").decode()
    return el


@pytest.fixture
def validate() -> Callable[[etree._Element, str], None]:
    from imx.wire.schemas import validate as _validate

    def run(element: etree._Element, schema: str) -> None:
        _validate(inline_xop(element), schema)

    return run
