import pytest

from bridge.errors import ConfigError
from bridge.providers.variables import address, choice, secret_list, text, whole_number

NAME = "EXAMPLE_VARIABLE"


def test_text_strips_and_treats_blank_as_unset() -> None:
    assert text({NAME: "  key  "}, NAME) == "key"
    assert text({NAME: "   "}, NAME) is None and text({}, NAME) is None


def test_secret_list_splits_on_commas_and_drops_blanks() -> None:
    assert secret_list({NAME: " new , ,old,"}, NAME) == ("new", "old")
    assert secret_list({NAME: " , "}, NAME) == () and secret_list({}, NAME) == ()


@pytest.mark.parametrize(("raw", "expected"), [("", 300), ("  ", 300), ("1", 1), ("3600", 3600), (" 60 ", 60)])
def test_whole_number_reads_digits_within_bounds(raw: str, expected: int) -> None:
    assert whole_number({NAME: raw}, NAME, 300, 1, 3600) == expected


@pytest.mark.parametrize("raw", ["0", "3601", "-5", "1.5", "1e3", "٣", "ten", "9" * 12])
def test_whole_number_refuses_what_is_not_a_bounded_whole_number(raw: str) -> None:
    with pytest.raises(ConfigError, match=NAME):
        whole_number({NAME: raw}, NAME, 300, 1, 3600)


def test_choice_defaults_to_the_first_and_ignores_case() -> None:
    assert choice({}, NAME, ("live", "test")) == "live"
    assert choice({NAME: " TEST "}, NAME, ("live", "test")) == "test"
    with pytest.raises(ConfigError, match=f"{NAME} must be one of: live, test"):
        choice({NAME: "prod"}, NAME, ("live", "test"))


@pytest.mark.parametrize(("raw", "expected"), [
    ("", "https://api.example.com"),
    ("https://eu.example.com/", "https://eu.example.com"),
    ("https://api.example.com/v2", "https://api.example.com/v2"),
    ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
    ("http://localhost:1", "http://localhost:1"),
])
def test_address_accepts_https_or_a_loopback_test_server(raw: str, expected: str) -> None:
    assert address({NAME: raw}, NAME, "https://api.example.com", "https://api.example.com") == expected


@pytest.mark.parametrize("raw", [
    "http://api.example.com", "ftp://api.example.com", "https://", "api.example.com",
    "https://api.example.com/?a=1", "https://api.example.com/#x", "https://[::1",
])
def test_address_refuses_naming_the_variable(raw: str) -> None:
    with pytest.raises(ConfigError, match=f"{NAME} must be an https address such as https://x.test"):
        address({NAME: raw}, NAME, "https://api.example.com", "https://x.test")


def test_address_can_allow_plain_http_anywhere() -> None:
    assert address({NAME: "http://proxy.internal"}, NAME, "", "x", http_anywhere=True) == "http://proxy.internal"
    with pytest.raises(ConfigError, match="http\\(s\\) address"):
        address({NAME: "ftp://proxy.internal"}, NAME, "", "x", http_anywhere=True)
