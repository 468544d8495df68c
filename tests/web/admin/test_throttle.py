"""The login throttle's waits."""

from __future__ import annotations

import pytest

from bridge.web.admin.throttle import FORGET_SECONDS, MAX_WAIT_SECONDS, Failures


@pytest.mark.parametrize(("count", "since", "wait"), [
    (0, 0, 0.0), (4, 0, 0.0), (5, 0, 2.0), (5, 1.5, 0.5), (5, 2.0, 0.0), (6, 0, 4.0), (8, 0, 16.0),
    (40, 0, MAX_WAIT_SECONDS), (40, FORGET_SECONDS + 1, 0.0),
])
def test_throttle_wait(count: int, since: float, wait: float) -> None:
    assert Failures(count, 100.0).wait(100.0 + since) == pytest.approx(wait)
