"""The figures /metrics reads from PostgreSQL when Prometheus scrapes: the outbox's
depth and age by kind, rows stuck for an operator, the settlement backlog and its lag,
and the latest reconciliation's drift. Read in one short transaction."""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from app.db.unit_of_work import UnitOfWork


def read(uow: UnitOfWork) -> list[Metric]:
    """The figures as Prometheus metric families. Raises ServiceUnavailable."""
    with uow:
        depth = uow.metrics.outbox_depth()
        stuck = uow.metrics.outbox_stuck()
        backlog = uow.metrics.settlement_backlog()
        reconciled = uow.metrics.latest_reconciliation()
    pending = GaugeMetricFamily(
        "paytrace_outbox_pending", "Outbox rows due and not yet performed", labels=["kind"]
    )
    age = GaugeMetricFamily(
        "paytrace_outbox_oldest_pending_seconds",
        "Age of the oldest due outbox row, by kind",
        labels=["kind"],
    )
    for row in depth:
        pending.add_metric([row.kind], row.pending)
        age.add_metric([row.kind], row.oldest_age_s)
    needs_operator = GaugeMetricFamily(
        "paytrace_outbox_needs_operator",
        "Outbox rows failed or unknown (an operator decides), by kind",
        labels=["kind"],
    )
    for kind, count in stuck.items():
        needs_operator.add_metric([kind], count)
    figures: list[Metric] = [
        pending,
        age,
        needs_operator,
        GaugeMetricFamily(
            "paytrace_settlements_open",
            "Ledger movements not yet settled on Stellar",
            value=backlog.open,
        ),
        GaugeMetricFamily(
            "paytrace_settlement_lag_seconds",
            "Age of the oldest movement not yet settled on Stellar",
            value=backlog.oldest_age_s,
        ),
    ]
    if reconciled is not None:
        drifts, since = reconciled
        figures.append(
            GaugeMetricFamily(
                "paytrace_reconciliation_drifts",
                "Accounts whose on-chain balance differed from the ledger at the latest run",
                value=drifts,
            )
        )
        figures.append(
            GaugeMetricFamily(
                "paytrace_reconciliation_age_seconds",
                "Seconds since the latest reconciliation finished",
                value=since,
            )
        )
    return figures
