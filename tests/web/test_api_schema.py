"""The served JSON Schema and the server accept and refuse the same bodies (checked with the jsonschema library).

The schema's two vendor keywords (`x-maxBytes`, `x-maxJsonBytes`) are given to jsonschema as keyword checks, as
any client can. Rules about the clock are not in the schema and are tested in test_api.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from flask.testing import FlaskClient
from jsonschema import ValidationError, validators

from bridge.store import keys
from bridge.store.db import make_engine, migrate
from bridge.web.api_compiled import Compiled
from bridge.web.api_schema import SCHEMA, openapi
from bridge.web.api_validate import Validator
from bridge.web.app import create_app
from tests.conftest import make_settings

NOW_MS = int(time.time() * 1000)


def _max_bytes(_validator: Any, limit: int, instance: Any, _schema: Any) -> Iterator[ValidationError]:
    if isinstance(instance, str) and len(instance.encode()) > limit:
        yield ValidationError(f"more than {limit} bytes")


def _max_json_bytes(_validator: Any, limit: int, instance: Any, _schema: Any) -> Iterator[ValidationError]:
    if isinstance(instance, dict) and len(json.dumps(instance, separators=(",", ":"), ensure_ascii=False)
                                          .encode()) > limit:
        yield ValidationError(f"more than {limit} bytes as JSON")


Checker = validators.extend(jsonschema.Draft202012Validator, {"x-maxBytes": _max_bytes,
                                                              "x-maxJsonBytes": _max_json_bytes})


def ev(**extra: Any) -> dict[str, Any]:
    return {"event": "Report Exported", "visitorId": "user-1", **extra}


def acct(**extra: Any) -> dict[str, Any]:
    return {"accountId": "acme", "values": {"seats": 5}, **extra}


def vis(**extra: Any) -> dict[str, Any]:
    return {"visitorId": "user-1", "values": {"role": "admin"}, **extra}


TRACK: list[Any] = [
    ev(), ev(accountId="acme"), ev(timestamp=NOW_MS), ev(timestamp=float(NOW_MS)), ev(timestamp="2026-11-30T00:00:00Z"),
    ev(timestamp="2026-11-29T23:30:00.123+01:00"), ev(timestamp="2026-11-29T23:30+0100"),
    ev(properties={"format": "csv", "rows": 12, "ratio": 0.5, "ok": True, "none": None}),
    ev(properties={}), ev(messageId="m-1"), [ev(), ev(visitorId="user-2")], [ev()] * 500,
    ev(properties={"p": "x" * 506}), ev(properties={"p": "x" * 507}), ev(visitorId="é" * 64),
    ev(visitorId="v" * 128), ev(properties={"a" * 32: 1}), ev(properties={"_a1": 1}),
    {"visitorId": "user-1"}, ev(event=""), ev(visitorId=7), ev(visitorId="v" * 129), ev(visitorId="é" * 65),
    ev(visitorID="user-1"), ev(properties={"nested": {"a": 1}}), ev(properties={"list": [1]}),
    ev(properties={"1st": 1}), ev(properties={"a" * 33: 1}), ev(properties={"has-dash": 1}), ev(properties=[]),
    ev(timestamp=True), ev(timestamp=-1), ev(timestamp=1.5), ev(timestamp="2026-11-30T00:00:00"),
    ev(timestamp="2026-11-30"), ev(timestamp="yesterday"), ev(timestamp=None), [], [ev()] * 501, "event", None, 7,
    ev(messageId=""), ev(messageId="m" * 201), ev(messageId=7), ev(accountId="a" * 256), ev(accountId=""),
    ev(event="e" * 256), ev(event="e" * 255), [ev(), {"event": "x"}], [ev(), "x"],
    ev(visitorId="a\x00b"), ev(messageId="m\x00"), ev(accountId="\x00"), ev(event="Report\x00Exported"),
    ev(properties={"p": "nul\x00inside"}),
]
ACCOUNTS: list[Any] = [
    [acct()], [acct(timestamp=NOW_MS)], [acct(timestamp="2026-11-30T00:00:00Z")], [acct(timestamp=0)],
    [acct(values={"plan": "pro", "seats": 12, "active": True, "mrr": 49.5, "_x": "y"})],
    [acct(values={"notes": "n" * 1500})], [acct(accountId="a" * 255)], [acct(accountId=f"a{i}") for i in range(1000)],
    [acct(values={"f" * 255: 1})],
    [acct(values={})], [acct(values={"notes": "n" * 1501})], [acct(values={"x": None})], [acct(values={"x": {}})],
    [acct(values={"x": [1]})], [acct(values={"1x": 1})], [acct(values={"has-dash": 1})],
    [acct(values={"f" * 256: 1})], [{"values": {"x": 1}}], [{"accountId": "acme"}], [acct(accountId="")],
    [acct(accountId=5)], [acct(accountId="a" * 256)], [acct(extra=1)], acct(), [], [acct(timestamp="soon")],
    [acct(accountId=f"a{i}") for i in range(1001)], [vis()], [acct(values="x")],
    [acct(accountId="a\x00")], [acct(values={"notes": "a\x00b"})],
]
VISITORS: list[Any] = [
    [vis()], [vis(visitorId="é" * 64)], [vis(visitorId="é" * 65)], [vis(visitorId="v" * 129)], [acct()],
    [vis(values={"last_login": "2026-11-29T10:00:00Z", "admin": False})],
]
CASES = [("track", "/v1/track", body) for body in TRACK] + [
    ("accounts", "/v1/metadata/accounts", body) for body in ACCOUNTS] + [
    ("visitors", "/v1/metadata/visitors", body) for body in VISITORS]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> tuple[FlaskClient, str]:
    path: Path = tmp_path_factory.mktemp("api") / "bridge.db"
    settings = make_settings(f"sqlite:///{path}", api_requests_per_second=10_000.0)
    migrate(settings)
    key = keys.create(make_engine(settings), "schema-test", (), time.time())
    return create_app(settings).test_client(), key


def _jsonschema_valid(schema: dict[str, Any], name: str, body: Any) -> bool:
    return Checker({**schema, "$ref": f"#/$defs/{name}Body"}).is_valid(body)


@pytest.mark.parametrize(("name", "path", "body"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_api_schema_served_schema_and_server_agree(served: tuple[FlaskClient, str], name: str, path: str,
                                                   body: Any) -> None:
    client, key = served
    schema = client.get("/v1/schema.json").get_json()
    expected = _jsonschema_valid(schema, name, body)
    answer = client.post(path, data=json.dumps(body), headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == (202 if expected else 400), answer.get_json()
    if not expected:
        problems = answer.get_json()["problems"]
        assert problems and all(p["path"].startswith("$") for p in problems)


@pytest.mark.parametrize(("name", "path", "body"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_api_schema_compiled_check_and_validator_give_jsonschemas_answer(name: str, path: str, body: Any) -> None:
    expected = _jsonschema_valid(SCHEMA, name, body)
    assert Compiled(SCHEMA).valid(f"{name}Body", body) is expected
    assert (not Validator(SCHEMA).problems({"$ref": f"#/$defs/{name}Body"}, body)) is expected


def test_api_schema_cases_cover_both_answers() -> None:
    verdicts = {_jsonschema_valid(SCHEMA, name, body) for name, _, body in CASES}
    assert verdicts == {True, False}
    assert sum(_jsonschema_valid(SCHEMA, name, body) for name, _, body in CASES) >= 25


def test_api_schema_is_a_valid_2020_12_schema_and_the_openapi_document_refers_to_it() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    document = openapi()
    assert document["openapi"].startswith("3.1")
    bodies = {path: op["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
              for path, op in document["paths"].items()}
    assert bodies == {"/v1/track": "/v1/schema.json#/$defs/trackBody",
                      "/v1/metadata/accounts": "/v1/schema.json#/$defs/accountsBody",
                      "/v1/metadata/visitors": "/v1/schema.json#/$defs/visitorsBody"}
    for target in bodies.values():
        assert target.split("#/$defs/")[1] in SCHEMA["$defs"]


def test_api_schema_a_pattern_ends_at_the_end_of_the_text_as_in_json_schema() -> None:
    """ECMA 262's `$` does not match before a final newline (Python's does, and so does jsonschema's check)."""
    problems = Validator(SCHEMA).problems({"$ref": "#/$defs/trackBody"}, ev(properties={"plan\n": 1}))
    assert [p.path for p in problems] == ['$.properties["plan\\n"]']
    assert not Compiled(SCHEMA).valid("trackBody", ev(properties={"plan\n": 1}))


def test_api_schema_validator_refuses_a_schema_with_a_keyword_it_does_not_enforce() -> None:
    with pytest.raises(ValueError, match="maximum"):
        Validator({"$defs": {"n": {"type": "integer", "maximum": 3}}})
