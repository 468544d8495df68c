"""The generic group commit: callers arriving during a commit share the next one and learn their own result."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest

from bridge.errors import StoreUnavailable
from bridge.store.group_commit import GroupCommit


def test_group_commit_shares_commits_and_hands_each_caller_its_result() -> None:
    commits: list[list[int]] = []

    def commit(batch: Sequence[int]) -> list[int]:
        commits.append(list(batch))
        time.sleep(0.05)  # a slow disk sync: callers arriving meanwhile queue for the next commit
        return [n * 10 for n in batch]

    group: GroupCommit[int, int] = GroupCommit(commit)
    results: dict[int, int] = {}
    threads = [threading.Thread(target=lambda n=n: results.__setitem__(n, group.submit(n))) for n in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {n: n * 10 for n in range(30)}
    assert len(commits) < 30 and sorted(n for batch in commits for n in batch) == list(range(30))


def test_group_commit_a_failed_commit_fails_every_caller_of_it_and_not_the_next() -> None:
    calls = []

    def commit(batch: Sequence[str]) -> list[str]:
        calls.append(batch)
        if len(calls) == 1:
            raise StoreUnavailable("disk full")
        return list(batch)

    group: GroupCommit[str, str] = GroupCommit(commit)
    with pytest.raises(StoreUnavailable):
        group.submit("a")
    assert group.submit("b") == "b"


def test_group_commit_a_bug_in_the_commit_does_not_leave_callers_waiting() -> None:
    def commit(batch: Sequence[str]) -> list[str]:
        raise RuntimeError("bug")

    group: GroupCommit[str, str] = GroupCommit(commit)
    with pytest.raises(RuntimeError):
        group.submit("a")
    with pytest.raises(RuntimeError):
        group.submit("b")  # the group is not stuck in "committing"
