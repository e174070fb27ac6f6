"""with_fresh_reference: the one loop every posting service runs its transaction in."""

from __future__ import annotations

import pytest

from app.db.repositories.ledger import KeyTaken, ReferenceTaken
from app.errors import ServiceUnavailable
from app.services.ledger import with_fresh_reference


def attempts_that_collide(times: int) -> tuple[list[int], object]:
    calls: list[int] = []

    def attempt() -> str:
        calls.append(len(calls) + 1)
        if len(calls) <= times:
            raise ReferenceTaken
        return f"posted on draw {len(calls)}"

    return calls, attempt


def test_a_taken_reference_is_drawn_again_until_one_is_free():
    calls, attempt = attempts_that_collide(2)
    assert with_fresh_reference(attempt) == "posted on draw 3"
    assert calls == [1, 2, 3]


def test_after_a_handful_of_collisions_it_gives_up_as_unavailable():
    calls, attempt = attempts_that_collide(1_000)
    with pytest.raises(ServiceUnavailable, match="free transaction reference"):
        with_fresh_reference(attempt)
    assert len(calls) == 5  # bounded: never a loop that holds the caller


def test_other_errors_are_not_retried():
    calls: list[int] = []

    def attempt() -> None:
        calls.append(1)
        raise KeyTaken

    with pytest.raises(KeyTaken):
        with_fresh_reference(attempt)
    assert calls == [1]
