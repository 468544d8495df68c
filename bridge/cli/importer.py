"""`bridge import accounts|visitors FILE` (CSV or JSON Lines) or `--sql "SELECT …" --from URL`.

Exit codes: 0 imported (or a dry run done), 1 stopped at a bad row, interrupted or the source failed mid-way
(run the same command again: it resumes), 2 cannot start (a column, an option, the source or a setting to fix).
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from bridge.settings import Settings

log = logging.getLogger("bridge.cli")

KINDS = {"accounts": "account", "visitors": "visitor"}
JSON_LINES = (".jsonl", ".ndjson")


def _source(settings: Settings, args: argparse.Namespace) -> Any:
    from bridge.imports.fields import ImportSetupError
    from bridge.imports.sources import CsvFile, JsonLinesFile, Query

    if (args.file is None) == (args.sql is None):
        raise ImportSetupError("give either a FILE (CSV or .jsonl) or --sql \"SELECT …\"")
    if args.sql is not None:
        url = args.source_url or settings.import_database_url
        if not url:
            raise ImportSetupError("--sql needs --from URL (or BRIDGE_IMPORT_DATABASE_URL, which keeps the password "
                                   "out of the command line)")
        return Query(url, args.sql)
    path = Path(args.file)
    return JsonLinesFile(path) if path.suffix.lower() in JSON_LINES else CsvFile(path)


def _types(settings: Settings, store: Any, kind: str, args: argparse.Namespace) -> Any:
    from bridge.imports import fields
    from bridge.pendo.client import PendoClient

    pendo, problem = None, None
    if settings.pendo_integration_key:
        pendo, problem = fields.PendoSchema(store, PendoClient(settings).get_schema).types(kind)
    return fields.resolve(fields.explicit_types(args.type or ()), pendo, fields.mapping_types(settings, kind),
                          problem)


def _notes(types: Any, kind: str, source: Any) -> None:
    if types.pendo_problem:
        print(f"note: {types.pendo_problem}", file=sys.stderr)
    if types.pendo_fields is None and not types.pendo_problem:
        print("note: PENDO_INTEGRATION_KEY is not set: field types come from --type and the mappings only"
              + (" (other CSV columns are text)" if source.from_text else ""), file=sys.stderr)


def _unknown_fields(types: Any, seen: set[str], kind: str, source: Any) -> None:
    untyped = sorted(name for name in seen if types.of(name) is None)
    if source.from_text and untyped:
        print(f"note: no type is known for {', '.join(untyped)}: sent as text. For a number, boolean or date field "
              "give --type NAME=TYPE, or create the field in Pendo first", file=sys.stderr)
    missing = sorted(seen - types.pendo_fields) if types.pendo_fields is not None else []
    if missing:
        print(f"note: Pendo has no {kind} field {', '.join(missing)}: their values are held until the fields exist "
              "(create them in Pendo, Settings → Data Mappings)", file=sys.stderr)


def _run(settings: Settings, args: argparse.Namespace) -> int:
    from bridge.cli.keys import migrated_engine
    from bridge.imports.fields import ImportSetupError
    from bridge.imports.importer import Importer, ImportOptions
    from bridge.ops.progress import Progress
    from bridge.store.keys import NAME
    from bridge.store.store import Store

    kind = KINDS[args.kind]
    label = args.source_name or args.kind
    if not NAME.fullmatch(label):
        raise ImportSetupError(f"--source {label!r}: use 1 to 32 lower-case letters, digits, '.', '_' or '-'")
    store = Store(migrated_engine(settings))
    source = _source(settings, args)
    types = _types(settings, store, kind, args)
    _notes(types, kind, source)
    options = ImportOptions(kind, label, args.id_column, args.timestamp_column, args.dry_run, args.skip_bad_rows,
                            args.restart)
    importer = Importer(settings, store, source, options, types, progress=Progress(f"import {args.kind}", "rows"))
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        report = importer.run()
    except KeyboardInterrupt:
        print("bridge: import interrupted: the rows read so far are stored; run the same command again to resume",
              file=sys.stderr)
        return 1
    _unknown_fields(types, importer.fields_seen, kind, source)
    summary = report.summary()
    print(json.dumps(summary, sort_keys=True))
    log.info("import finished" if report.stopped_at is None else "import stopped at a bad row", extra=summary)
    if report.stopped_at:
        print(f"bridge: {report.stopped_at}\nThe rows before it are stored. Fix the row and run the same command "
              "again (it resumes at this row), or add --skip-bad-rows.", file=sys.stderr)
        return 1
    if report.bad_rows:
        print(f"bridge: skipped {report.bad_rows} bad rows:\n  " + "\n  ".join(report.bad_examples)
              + ("\n  …" if report.bad_rows > len(report.bad_examples) else ""), file=sys.stderr)
    return 0


def _interrupt(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt  # SIGTERM (a scheduler's stop): end like Ctrl-C, after the last commit


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "import", help="import account or visitor attributes from CSV, JSON Lines or your database (nightly sync)",
        description="Each row is one account or visitor: the id column, then one column per custom field. Only "
                    "values that differ from what Pendo was last sent are sent. Resumable; see docs/import.md.")
    parser.add_argument("kind", choices=tuple(KINDS))
    parser.add_argument("file", nargs="?", help="a CSV file with a header row, or a .jsonl file")
    parser.add_argument("--sql", help="a SELECT on your own database instead of a file")
    parser.add_argument("--from", dest="source_url", metavar="URL",
                        help="the database for --sql: any SQLAlchemy URL (default: BRIDGE_IMPORT_DATABASE_URL)")
    parser.add_argument("--id-column", help="the id column (default: accountId / visitorId)")
    parser.add_argument("--timestamp-column", help="a column with when each row's values were true (default: the "
                                                   "import's start); older values never overwrite newer ones")
    parser.add_argument("--type", action="append", metavar="NAME=TYPE",
                        help="a field's type (text, number, boolean, date) when Pendo's schema does not say")
    parser.add_argument("--source", dest="source_name", metavar="NAME",
                        help="shown as import:NAME in bridge status (default: the kind); also names the resume cursor")
    parser.add_argument("--dry-run", action="store_true", help="print what would change; store nothing")
    parser.add_argument("--skip-bad-rows", action="store_true", help="skip and count bad rows instead of stopping")
    parser.add_argument("--restart", action="store_true", help="ignore an interrupted run's cursor; start over")
    parser.set_defaults(run=_run, settings="optional")

