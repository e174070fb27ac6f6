"""The hot paths count through Children (app/infra/metrics.py): the metric's own
children, looked up once, so the scrape shows exactly what labels() would count."""

from prometheus_client import REGISTRY

from app.infra.metrics import HTTP_SECONDS, HTTP_SECONDS_BY, USSD_HOPS, USSD_HOPS_BY


def _hops(screen: str, outcome: str) -> float:
    labels = {"screen": screen, "outcome": outcome}
    return REGISTRY.get_sample_value("paytrace_ussd_hops_total", labels) or 0.0


def test_a_child_is_the_metrics_own_and_is_looked_up_once():
    child = USSD_HOPS_BY("test-screen", "con")
    assert child is USSD_HOPS.labels("test-screen", "con")
    assert USSD_HOPS_BY("test-screen", "con") is child
    assert HTTP_SECONDS_BY("/test/route") is HTTP_SECONDS.labels("/test/route")


def test_a_count_through_children_reaches_the_scrape():
    before = _hops("test-screen-2", "end")
    USSD_HOPS_BY("test-screen-2", "end").inc()
    USSD_HOPS_BY("test-screen-2", "end").inc()
    assert _hops("test-screen-2", "end") == before + 2
