"""Flat XML documents (``<xml><Key>value</Key>...</xml>``), as WeChat and WeCom post them.

Refuses DOCTYPEs and entities before parsing (no entity expansion, no external entities),
and raises :class:`ContractError` naming the problem for anything else that is not a
well-formed UTF-8 document.
"""

from __future__ import annotations

from xml.etree import ElementTree

from panorama.errors import ContractError


def parse(body: bytes | str, field: str = "<body>") -> dict[str, str]:
    """Child tag -> trimmed text of the document's root element."""
    if isinstance(body, bytes):
        try:
            body = body.decode()
        except UnicodeDecodeError:
            raise ContractError(field, "is not UTF-8", "malformed") from None
    upper = body.upper()
    if "<!DOCTYPE" in upper or "<!ENTITY" in upper:
        raise ContractError(field, "XML with a DOCTYPE or entities is refused", "malformed")
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError as e:
        raise ContractError(field, f"not well-formed XML: {e}", "malformed") from None
    return {child.tag: (child.text or "").strip() for child in root}
