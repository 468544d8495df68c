"""A Maxio webhook body: `application/x-www-form-urlencoded` with bracketed keys, read into nested dicts (pure).

`id=1&event=signup_success&payload[subscription][product][name]=Basic` becomes
`{"id": "1", "event": "signup_success", "payload": {"subscription": {"product": {"name": "Basic"}}}}`
(docs.maxio.com, Webhooks Reference). Values stay text, as sent: `""` for Maxio's nil, `"true"`/`"false"`,
`"4900"`; `facts` reads them. A key sent more than once (Maxio repeats the keys of list items without an index,
e.g. `[public_signup_pages][id]`) becomes a list of its values. The reader is strict: UTF-8, every field with
`=`, at most MAX_FIELDS fields and MAX_DEPTH levels, keys of at most MAX_KEY characters, and no key used both
as a value and as a parent; anything else is a PayloadError.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

from bridge.errors import PayloadError

MAX_FIELDS = 10_000  # Maxio's largest payloads (statements) have about a thousand
MAX_DEPTH = 64
MAX_KEY = 1_000
_KEY = re.compile(r"([^\[\]]+)((?:\[[^\[\]]*\])*)")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")


def read_form(body: bytes) -> dict[str, Any]:
    """The nested fields of a form body; PayloadError when it is not a form this reader accepts."""
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True,
                          max_num_fields=MAX_FIELDS, errors="strict")
    except UnicodeDecodeError:
        raise PayloadError("body is not UTF-8") from None
    except ValueError:
        raise PayloadError("body is not a form (name=value pairs joined by &), or has too many fields") from None
    root: dict[str, Any] = {}
    for key, value in pairs:
        _put(root, path(key), value)
    return root


def path(key: str) -> list[str]:
    """`payload[subscription][id]` → `["payload", "subscription", "id"]`; PayloadError for a malformed key."""
    if len(key) > MAX_KEY:
        raise PayloadError(f"a form key is longer than {MAX_KEY} characters")
    found = _KEY.fullmatch(key)
    if found is None:
        raise PayloadError(f"form key {key[:60]!r} is not name[part][part]…")
    parts = [found.group(1), *_SEGMENT.findall(found.group(2))]
    if len(parts) > MAX_DEPTH:
        raise PayloadError(f"form key nests deeper than {MAX_DEPTH} levels")
    return parts


def _put(root: dict[str, Any], parts: list[str], value: str) -> None:
    node = root
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise PayloadError(f"form key {'.'.join(parts)[:60]!r} is both a value and a parent")
        node = child
    leaf = parts[-1]
    if leaf not in node:
        node[leaf] = value
    elif isinstance(node[leaf], dict):
        raise PayloadError(f"form key {'.'.join(parts)[:60]!r} is both a value and a parent")
    elif isinstance(node[leaf], list):
        node[leaf].append(value)
    else:
        node[leaf] = [node[leaf], value]
