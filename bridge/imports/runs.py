"""Import runs as `bridge status` shows them: the last finished run and any interrupted one, per source.

Both are rows of `controls`: the cursor of a run in progress or interrupted (`import:<kind>:<label>`), and the
summary of the last finished run (`import_last:<kind>:<label>`).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, select

from bridge.store.db import reading
from bridge.store.schema import controls

CURSOR = "import:{kind}:{label}"
LAST_RUN = "import_last:{kind}:{label}"


def summary(engine: Engine) -> dict[str, dict[str, Any]]:
    """{"import:<label>": {"kind", "last_run": {...} | None, "unfinished_after_row": n | None}}."""
    with reading(engine) as connection:
        rows = connection.execute(select(controls.c.name, controls.c.value, controls.c.updated_at)
                                  .where(controls.c.name.like("import%:%:%"))).all()
    found: dict[str, dict[str, Any]] = {}
    for name, value, updated_at in rows:
        prefix, kind, label = name.split(":", 2)
        entry = found.setdefault(f"import:{label}", {"kind": kind, "last_run": None, "unfinished_after_row": None})
        decoded = _object(value)
        if prefix == "import_last":
            entry["last_run"] = decoded
        elif prefix == "import":
            entry["unfinished_after_row"] = decoded.get("rows")
            entry["unfinished_updated_at"] = updated_at
    return found


def _object(raw: str | None) -> dict[str, Any]:
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
