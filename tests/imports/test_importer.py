"""Imports into the outbox, on SQLite and PostgreSQL: typed values, only changes, bad rows, resume, dry run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text, update

from bridge.imports import importer as importer_module
from bridge.imports import runs
from bridge.imports.fields import FieldTypes, ImportSetupError, resolve
from bridge.imports.importer import Importer, ImportOptions, ImportReport
from bridge.imports.sources import CsvFile, JsonLinesFile, Opened, Query
from bridge.pendo import outbox
from bridge.store.db import make_engine, migrate
from bridge.store.schema import field_values
from bridge.store.store import Store
from tests.conftest import Clock, make_settings

TYPES = resolve({"seats": "number", "active": "boolean", "renews": "date"}, None, {})


@pytest.fixture
def store(database_url: str) -> Store:
    settings = make_settings(database_url)
    migrate(settings)
    return Store(make_engine(settings))


def csv_file(tmp_path: Path, rows: list[str], name: str = "accounts.csv",
             header: str = "accountId,seats,plan,active") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def run(store: Store, source: Any, clock: Clock, types: FieldTypes = TYPES, **options: Any) -> ImportReport:
    shown: list[str] = []
    kind = options.pop("kind", "account")
    report = Importer(make_settings(str(store.engine.url)), store, source,
                      ImportOptions(kind, options.pop("label", "accounts"), **options), types, clock,
                      show=shown.append).run()
    report.bad_examples.extend(f"shown: {line}" for line in shown)
    return report


def stored(store: Store) -> dict[tuple[str, str], Any]:
    with store.engine.connect() as connection:
        return {(r.entity_id, r.field): (json.loads(r.value), r.state, r.source, r.rank)
                for r in connection.execute(select(field_values))}


def deliver_all(store: Store) -> None:
    with store.engine.begin() as connection:
        connection.execute(update(field_values).values(state=outbox.DELIVERED, sent_version=field_values.c.version))


def test_importer_writes_typed_values_under_its_source(store: Store, tmp_path: Path, clock: Clock) -> None:
    report = run(store, CsvFile(csv_file(tmp_path, ["acme,5,pro,yes", "beta,,free,no"])), clock)
    assert (report.rows, report.entities, report.changed_entities, report.changed_values) == (2, 2, 2, 5)
    source = "import:accounts"
    assert stored(store) == {
        ("acme", "seats"): (5, "pending", source, 1), ("acme", "plan"): ("pro", "pending", source, 1),
        ("acme", "active"): (True, "pending", source, 1),
        ("beta", "plan"): ("free", "pending", source, 2), ("beta", "active"): (False, "pending", source, 2),
    }
    assert runs.summary(store.engine)["import:accounts"]["last_run"]["changed_entities"] == 2


def test_importer_the_same_file_again_changes_nothing_and_a_changed_row_only_itself(
        store: Store, tmp_path: Path, clock: Clock) -> None:
    rows = [f"acct-{n},{n},pro,yes" for n in range(50)]
    run(store, CsvFile(csv_file(tmp_path, rows)), clock)
    deliver_all(store)
    clock.advance(3600)
    again = run(store, CsvFile(csv_file(tmp_path, rows)), clock)
    assert (again.rows, again.changed_entities) == (50, 0)
    assert {state for _, state, _, _ in stored(store).values()} == {"delivered"}
    rows[7], rows[9] = "acct-7,70,pro,yes", "acct-9,9,enterprise,yes"
    clock.advance(3600)
    changed = run(store, CsvFile(csv_file(tmp_path, rows)), clock)
    assert (changed.changed_entities, changed.changed_values) == (2, 2)
    pending = {key for key, (_, state, _, _) in stored(store).items() if state == "pending"}
    assert pending == {("acct-7", "seats"), ("acct-9", "plan")}


def test_importer_a_later_row_wins_across_commits(store: Store, tmp_path: Path, clock: Clock,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importer_module, "CHUNK_ROWS", 2)
    run(store, CsvFile(csv_file(tmp_path, ["acme,1,a,yes", "b,1,a,yes", "c,1,a,yes", "acme,2,b,no"])), clock)
    values = stored(store)
    assert (values[("acme", "seats")][0], values[("acme", "plan")][0], values[("acme", "active")][0]) == (2, "b", False)


def test_importer_dry_run_shows_changes_and_writes_nothing(store: Store, tmp_path: Path, clock: Clock) -> None:
    run(store, CsvFile(csv_file(tmp_path, ["acme,5,pro,yes"])), clock)
    clock.advance(10)
    report = run(store, CsvFile(csv_file(tmp_path, ["acme,6,pro,yes", "beta,1,free,no"])), clock, dry_run=True)
    assert [line for line in report.bad_examples] == [
        'shown: account acme: seats: 5 -> 6', 'shown: account beta: active: (not set) -> false',
        'shown: account beta: plan: (not set) -> "free"', 'shown: account beta: seats: (not set) -> 1']
    assert stored(store)[("acme", "seats")][0] == 5 and ("beta", "plan") not in stored(store)


def test_importer_a_bad_row_stops_with_its_number_then_resumes_there(store: Store, tmp_path: Path, clock: Clock,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importer_module, "CHUNK_ROWS", 2)
    path = csv_file(tmp_path, ["a,1,x,yes", "b,2,x,yes", "c,3,x,yes", "d,four,x,yes", "e,5,x,yes"])
    stopped = run(store, CsvFile(path), clock)
    assert stopped.stopped_at == "row 4 (line 5): seats: 'four' is not a number (the field seats is number, by --type)"
    assert {entity for entity, _ in stored(store)} == {"a", "b", "c"}
    assert runs.summary(store.engine)["import:accounts"]["unfinished_after_row"] == 3
    skipped = run(store, CsvFile(path), clock, skip_bad_rows=True)
    assert (skipped.resumed_after, skipped.rows, skipped.bad_rows, skipped.stopped_at) == (3, 2, 1, None)
    assert {entity for entity, _ in stored(store)} == {"a", "b", "c", "e"}
    assert runs.summary(store.engine)["import:accounts"]["unfinished_after_row"] is None


class Interrupted(CsvFile):
    """A CSV file whose reading is interrupted (Ctrl-C, SIGTERM) before row `stop_at`."""

    def __init__(self, path: Path, stop_at: int):
        super().__init__(path)
        self.stop_at = stop_at

    @contextmanager
    def open(self) -> Iterator[Opened]:
        with super().open() as opened:
            def rows() -> Iterator[Any]:
                for row in opened.rows:
                    if row.number == self.stop_at:
                        raise KeyboardInterrupt
                    yield row
            yield Opened(opened.columns, rows())


def test_importer_resumes_after_an_interruption_with_the_first_runs_time(
        store: Store, tmp_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importer_module, "CHUNK_ROWS", 3)
    path = csv_file(tmp_path, [f"acct-{n},{n},p,yes" for n in range(1, 11)])
    with pytest.raises(KeyboardInterrupt):
        run(store, Interrupted(path, stop_at=8), clock)
    assert len({entity for entity, _ in stored(store)}) == 6  # two commits of three rows
    first_time = int(clock() * 1000)
    clock.advance(60)
    resumed = run(store, CsvFile(path), clock)
    assert (resumed.resumed_after, resumed.rows, resumed.changed_entities) == (6, 4, 4)
    with store.engine.connect() as connection:
        times = set(connection.execute(select(field_values.c.source_time)).scalars())
    assert times == {first_time}


def test_importer_a_changed_file_is_not_resumed(store: Store, tmp_path: Path, clock: Clock,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importer_module, "CHUNK_ROWS", 1)
    path = csv_file(tmp_path, ["a,1,x,yes", "b,2,x,yes", "c,3,x,yes"])
    with pytest.raises(KeyboardInterrupt):
        run(store, Interrupted(path, stop_at=3), clock)
    path.write_text("accountId,seats\nz,9\n")
    report = run(store, CsvFile(path), clock)
    assert (report.resumed_after, report.rows) == (0, 1)


@pytest.mark.parametrize(("header", "options", "fragment"), [
    ("id,seats", {}, "no column 'accountId'"),
    ("accountId,seats,bad-name", {}, "not Pendo field names"),
    ("accountId", {}, "no column besides the id"),
    ("accountId,seats", {"timestamp_column": "when"}, "no column 'when'"),
])
def test_importer_unusable_headers_are_refused_before_anything_is_stored(
        store: Store, tmp_path: Path, clock: Clock, header: str, options: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ImportSetupError, match=fragment):
        run(store, CsvFile(csv_file(tmp_path, ["acme,5"], header=header)), clock, **options)
    assert stored(store) == {}


def test_importer_csv_columns_of_unknown_type_are_refused_when_pendo_cannot_tell(
        store: Store, tmp_path: Path, clock: Clock) -> None:
    types = resolve({"seats": "number"}, None, {}, pendo_problem="Pendo's schema could not be read: 503")
    with pytest.raises(ImportSetupError, match="plan"):
        run(store, CsvFile(csv_file(tmp_path, ["acme,5,pro", "b,1,x"], header="accountId,seats,plan")), clock,
            types=types)


def test_importer_id_column_option_and_timestamp_column_guard_newer_values(
        store: Store, tmp_path: Path, clock: Clock) -> None:
    now_ms = int(clock() * 1000)
    run(store, CsvFile(csv_file(tmp_path, ["acme,5"], header="accountId,seats")), clock)
    path = csv_file(tmp_path, [f"acme,9,{now_ms - 60_000}", f"beta,2,{now_ms - 60_000}"], name="old.csv",
                    header="account,seats,updated")
    report = run(store, CsvFile(path), clock, id_column="account", timestamp_column="updated")
    assert report.changed_entities == 1  # beta only: acme's stored value is newer
    values = stored(store)
    assert values[("acme", "seats")][0] == 5 and values[("beta", "seats")][0] == 2 and ("acme", "updated") not in values


def test_importer_json_lines_keep_their_types_and_bad_lines_are_rows(store: Store, tmp_path: Path,
                                                                     clock: Clock) -> None:
    path = tmp_path / "visitors.jsonl"
    path.write_text('{"visitorId": "u1", "role": "admin", "logins": 12, "beta": true}\n\n'
                    '{"visitorId": "u2", "role": null, "logins": 1.5}\n[1]\n{"visitorId": "u3", "x": {"a": 1}}\n')
    report = run(store, JsonLinesFile(path), clock, types=resolve({}, None, {}), kind="visitor", label="people",
                 skip_bad_rows=True)
    assert (report.rows, report.bad_rows) == (4, 2)
    assert report.bad_examples[:2] == ["row 3 (line 4) is not a JSON object",
                                       "row 4 (line 5): x: is dict, not a flat value (text, number, boolean or date)"]
    assert {k: v[0] for k, v in stored(store).items()} == {("u1", "role"): "admin", ("u1", "logins"): 12,
                                                            ("u1", "beta"): True, ("u2", "logins"): 1.5}


def test_importer_sql_query_streams_from_your_own_database(store: Store, tmp_path: Path, clock: Clock,
                                                          postgres_url: str) -> None:
    """The team's database is PostgreSQL here (unquoted aliases come back lower-case); bridge's is either."""
    team = create_engine(postgres_url)
    with team.begin() as connection:
        connection.execute(text("create table customers (id text, seat_count int, plan text, since date)"))
        connection.execute(text("insert into customers select 'c' || n, n, 'pro', date '2026-01-01' "
                                "from generate_series(1, 2500) as n"))
    team.dispose()
    query = Query(postgres_url.replace("postgresql+psycopg://", "postgres://"),
                  "select id as accountId, seat_count as seats, plan, since from customers order by id")
    report = run(store, query, clock, types=resolve({}, None, {}))
    assert (report.rows, report.changed_entities) == (2500, 2500)
    values = stored(store)
    assert values[("c42", "seats")][0] == 42 and values[("c42", "since")][0] == "2026-01-01T00:00:00.000Z"
    assert "password" not in query.description


def test_importer_refreshes_postgresqls_statistics_once_it_has_grown_the_outbox(
        postgres_url: str, tmp_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importer_module, "ANALYZE_FROM", 20)
    settings = make_settings(postgres_url)
    migrate(settings)
    store = Store(make_engine(settings))
    run(store, CsvFile(csv_file(tmp_path, [f"acct-{n},{n},pro,yes" for n in range(10)])), clock)
    with store.engine.connect() as connection:  # -1: never analyzed (ANALYZE sets it at once; autovacuum later)
        tuples = connection.execute(text("select reltuples from pg_class where relname = 'field_values'")).scalar()
    assert tuples == 30
