"""A Braintree notification's `bt_payload`: base64 of an XML document, read into plain dicts and lists (pure).

The XML is parsed by `defusedxml`, which refuses a DTD, entity declarations and external references, so a
payload cannot expand entities or reach out for files. It is converted the way Braintree's own SDKs read
their XML: element names with `-` become `_`, an element with `type="array"` is a list of its children, one
with child elements is a dict (a repeated name becomes a list), `type="integer"` / `"boolean"` are converted,
`nil="true"` is None, and other text is kept as a stripped string (dates and times stay text; `facts` reads
them). The document is refused when it nests deeper than MAX_DEPTH or decodes to more than MAX_XML bytes.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any
from xml.etree.ElementTree import Element

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from bridge.errors import PayloadError

MAX_DEPTH = 64  # element nesting; Braintree's notifications use about six levels
MAX_XML = 1_000_000  # bytes of decoded XML
# What Braintree's SDKs accept in `bt_payload`: base64 with the line breaks its encoder inserts.
_BASE64 = re.compile(r"[A-Za-z0-9+/=\n]+")


def decode(payload: str) -> dict[str, Any]:
    """The notification document as a dict, e.g. `{"kind": …, "timestamp": …, "subject": {…}}`."""
    if not _BASE64.fullmatch(payload):
        raise PayloadError("bt_payload has characters that are not base64")
    if len(payload) > MAX_XML * 4 // 3 + MAX_XML // 38 + 8:
        raise PayloadError(f"bt_payload decodes to more than {MAX_XML} bytes")
    try:
        xml = base64.b64decode(payload.replace("\n", ""), validate=True)
    except (binascii.Error, ValueError):
        raise PayloadError("bt_payload is not base64") from None
    root = parse_xml(xml)
    if root.tag != "notification":
        raise PayloadError("bt_payload is not a Braintree notification: its root element is not <notification>")
    value = _value(root)
    if not isinstance(value, dict):
        raise PayloadError("bt_payload is not a Braintree notification: <notification> is empty")
    return value


def parse_xml(xml: bytes) -> Element:
    """The document's root element; PayloadError for malformed XML, a DTD, an entity or too deep a nesting."""
    try:
        root = fromstring(xml, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise PayloadError("bt_payload's XML declares a DTD or entities, which are refused") from None
    except (ParseError, ValueError):
        raise PayloadError("bt_payload is not well-formed XML") from None
    if _too_deep(root):
        raise PayloadError(f"bt_payload's XML nests deeper than {MAX_DEPTH} levels")
    return root


def _too_deep(root: Element) -> bool:
    stack = [(root, 1)]
    while stack:
        element, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        stack.extend((child, depth + 1) for child in element)
    return False


def _value(element: Element) -> Any:
    """An element's content as Braintree's SDKs read it (depth is bounded before this recursion runs)."""
    children = list(element)
    if element.get("type") == "array":
        return [_value(child) for child in children]
    if children:
        grouped: dict[str, list[Any]] = {}
        for child in children:
            grouped.setdefault(_name(child.tag), []).append(_value(child))
        return {name: values[0] if len(values) == 1 else values for name, values in grouped.items()}
    return _scalar(element)


def _scalar(element: Element) -> Any:
    text = (element.text or "").strip()
    kind = element.get("type")
    if element.get("nil") == "true" or (kind in ("integer", "boolean") and not text):
        return None
    if kind == "integer":
        try:
            return int(text)
        except ValueError:
            raise PayloadError(f"<{element.tag}> is not an integer") from None
    if kind == "boolean":
        return text in ("true", "1")
    return text


def _name(tag: object) -> str:
    return str(tag).replace("-", "_")
