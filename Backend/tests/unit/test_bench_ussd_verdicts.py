"""bench-ussd's target lines: each target judged against the run's own references."""

from __future__ import annotations

from bench.ussd_load import verdicts


def test_every_target_is_judged_met_or_missed_against_its_reference():
    line = verdicts(5342, 1383, 4660, 42.9)
    assert line == (
        "targets: >= 3x the prototype: met; >= 0.7x the floor: met; "
        "p99 < 100 ms at 200 sessions: met"
    )
    assert verdicts(2685, 1336, 4314, None) == (
        "targets: >= 3x the prototype: MISSED; >= 0.7x the floor: MISSED"
    )
    assert "p99 < 100 ms at 200 sessions: MISSED" in verdicts(3782, 1370, 4461, 121.5)


def test_a_reference_that_did_not_run_is_not_judged():
    assert verdicts(2000, None, 4000, None) == "targets: >= 0.7x the floor: MISSED"
    assert verdicts(3000, None, 0, None) == "targets: none judged in this run"
