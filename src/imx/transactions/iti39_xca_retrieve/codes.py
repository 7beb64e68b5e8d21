"""Namespaces of XDS.b retrieve (ITI TF-2b 3.39, ITI TF-2b 3.43)."""

from __future__ import annotations

NS_XDS = "urn:ihe:iti:xds-b:2007"
NS_XOP = "http://www.w3.org/2004/08/xop/include"
