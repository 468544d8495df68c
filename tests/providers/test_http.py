from typing import Any

import pytest
import requests
import responses

from bridge.errors import BridgeError, ConfigError
from bridge.providers.http import TRIES, ApiClient, error_code, retry_after

BASE = "https://api.example.test"
KEY = "sk_secret_value"


class ExampleError(BridgeError):
    pass


class ExampleNotFound(ExampleError):
    pass


def client(waits: list[float], **options: Any) -> ApiClient:
    return ApiClient("Example", "EXAMPLE_API_KEY", ExampleError, sleep=waits.append, clock=lambda: 1_000_000_000.0,
                     **options)


@responses.activate
def test_api_client_retries_429_5xx_and_no_answer_as_retry_after_says_else_backing_off() -> None:
    responses.get(f"{BASE}/x", status=429, headers={"Retry-After": "7"})
    responses.get(f"{BASE}/x", status=503)
    responses.get(f"{BASE}/x", body=requests.ConnectionError("refused"))
    responses.get(f"{BASE}/x", status=502, headers={"Retry-After": "Sun, 09 Sep 2001 01:46:52 GMT"})  # clock + 12 s
    responses.get(f"{BASE}/x", json={"ok": True})
    waits: list[float] = []
    api = client(waits)
    assert api.object(BASE, "/x") == {"ok": True}
    assert waits == [7.0, 2.0, 4.0, 12.0] and api.calls == 5


@responses.activate
def test_api_client_gives_up_after_its_tries_with_the_package_error() -> None:
    responses.get(f"{BASE}/x", status=500)
    waits: list[float] = []
    with pytest.raises(ExampleError, match=r"kept failing \(HTTP 500\) for GET /x after 5 tries"):
        client(waits).answer(BASE, "/x")
    assert len(responses.calls) == TRIES and waits == [1.0, 2.0, 4.0, 8.0]


@responses.activate
def test_api_client_caps_waits_and_starts_its_backoff_where_told() -> None:
    responses.get(f"{BASE}/x", status=429, headers={"Retry-After": "86400"})
    responses.get(f"{BASE}/x", status=503)
    responses.get(f"{BASE}/x", json={})
    waits: list[float] = []
    client(waits, max_wait=90.0, first_wait=2.0).json(BASE, "/x")
    assert waits == [90.0, 4.0]


@pytest.mark.parametrize(("status", "error", "message"), [
    (401, ConfigError, r"Example refused EXAMPLE_API_KEY \(401\): set a valid API key"),
    (403, ConfigError, r"Example refused EXAMPLE_API_KEY for GET /x \(403\): give it"),
    (404, ExampleNotFound, r"nothing at GET /x \(404\)"),
    (422, ExampleError, r"HTTP 422 \(bad_param\) to GET /x"),
])
@responses.activate
def test_api_client_does_not_retry_refusals_and_names_what_to_fix(status: int, error: type[Exception],
                                                                  message: str) -> None:
    responses.get(f"{BASE}/x", status=status, json={"code": "bad_param", "echo": KEY})
    with pytest.raises(error, match=message) as raised:
        client([], not_found=ExampleNotFound, detail=lambda r: error_code(r, "code")).answer(BASE, "/x", auth=(KEY, ""))
    assert KEY not in str(raised.value) and len(responses.calls) == 1


@responses.activate
def test_api_client_without_a_not_found_type_reports_404_as_its_error() -> None:
    responses.get(f"{BASE}/x", status=404)
    with pytest.raises(ExampleError, match="HTTP 404") as raised:
        client([]).answer(BASE, "/x")
    assert type(raised.value) is ExampleError


@pytest.mark.parametrize(("body", "read", "message"), [
    (b"<html>", "json", "not usable JSON"),
    (b'{"n": NaN}', "json", "not usable JSON"),
    (b"[1]", "object", "not a JSON object"),
    (b"<html>", "object", "not usable JSON"),
])
@responses.activate
def test_api_client_reads_answers_strictly(body: bytes, read: str, message: str) -> None:
    responses.get(f"{BASE}/x", body=body)
    with pytest.raises(ExampleError, match=message):
        getattr(client([]), read)(BASE, "/x")


@responses.activate
def test_api_client_sends_what_the_package_asks() -> None:
    responses.get(f"{BASE}/x", json=[1], match=[
        responses.matchers.query_param_matcher({"page": "2"}),
        responses.matchers.header_matcher({"Accept": "application/vnd.example+json"})])
    assert client([]).json(BASE, "/x", params={"page": 2}, headers={"Accept": "application/vnd.example+json"}) == [1]


@pytest.mark.parametrize(("value", "expected"), [
    (None, None), ("", None), ("12", 12.0), (" 3 ", 3.0), ("1.5", 1.5), ("soon", None), ("-4", None),
    ("Mon, 12 Jan 1970 13:46:50 GMT", 10.0),  # 1_000_010 s after the epoch, 10 s after the clock
    ("Mon, 12 Jan 1970 13:46:30 GMT", 0.0),  # already past
])
def test_retry_after_reads_seconds_and_http_dates(value: str | None, expected: float | None) -> None:
    assert retry_after(value, 1_000_000.0) == expected


@pytest.mark.parametrize(("body", "expected"), [
    (b'{"error": {"code": "not_found"}}', " (not_found)"),
    (b'{"error": {"code": 7}}', ""),
    (b'{"error": "flat"}', ""),
    (b"<html>", ""),
    (b'{"error": {"code": "' + b"x" * 200 + b'"}}', ""),
])
def test_error_code_shows_a_short_code_or_nothing(body: bytes, expected: str) -> None:
    response = requests.Response()
    response._content = body
    assert error_code(response, "error", "code") == expected
