"""docker-compose.yml and Backend/deploy/ hold the production shape: read as YAML, since
no Docker runs here. Services and health checks, what production requires in every
PayTrace container's environment, Prometheus's targets, and alert rules that name only
metrics PayTrace exports."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import prometheus_client
import yaml

from app import config
from app.infra import metrics
from app.services import metrics_figures

REPO = Path(__file__).resolve().parents[3]
DEPLOY = REPO / "Backend" / "deploy"
APIS, WORKERS = ("api-1", "api-2"), ("worker-1", "worker-2")
# What production refuses to start without (app/config.py, Settings._secrets_in_place),
# and the token Prometheus scrapes with.
REQUIRED = {
    *(name.upper() for name in config._REQUIRED_SECRETS),
    "WALLET_ENCRYPTION_KEYS",
    "AT_API_KEY",
    "DATABASE_URL",
    "REDIS_URL",
    "METRICS_TOKEN",
}


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def services() -> dict:
    return load(REPO / "docker-compose.yml")["services"]


def test_compose_runs_two_apis_two_workers_and_what_they_need():
    found = services()
    assert set(found) == {
        *APIS,
        *WORKERS,
        "migrate",
        "postgres",
        "postgres-replica",
        "pgbouncer",
        "redis",
        "prometheus",
    }
    for name in (*APIS, *WORKERS, "migrate"):
        assert found[name]["image"] == "paytrace:local"
    for name in APIS:
        assert int(found[name]["environment"]["WEB_CONCURRENCY"].strip("${}").split("-")[-1]) >= 2
    for name in WORKERS:
        assert "app.worker" in " ".join(found[name]["command"])


def test_every_long_running_service_has_a_health_check_and_waits_for_its_dependencies():
    found = services()
    for name, service in found.items():
        if name == "migrate":
            continue
        check = service.get("healthcheck")
        assert check and not check.get("disable") and check["test"][0] in ("CMD", "CMD-SHELL"), name
    for name in (*APIS, *WORKERS):
        needs = found[name]["depends_on"]
        assert needs["pgbouncer"]["condition"] == "service_healthy"
        assert needs["redis"]["condition"] == "service_healthy"
        assert needs["migrate"]["condition"] == "service_completed_successfully"


def test_every_paytrace_container_gets_what_production_requires():
    for name in (*APIS, *WORKERS, "migrate"):
        env = services()[name]["environment"]
        assert env["ENVIRONMENT"] == "production"
        missing = REQUIRED - set(env)
        assert not missing, f"{name} lacks {sorted(missing)}"
        # A secret has no default: compose stops, naming it, rather than start weak.
        for secret in REQUIRED - {"DATABASE_URL", "REDIS_URL"}:
            assert re.fullmatch(rf"\$\{{{secret}:\?[^}}]+\}}", env[secret]), (name, secret)
        # Every name is a setting PayTrace reads (WEB_CONCURRENCY: the image's uvicorn).
        names = {key.lower() for key in env} - {"web_concurrency"}
        assert names <= set(config.Settings.model_fields), name


def test_the_apps_reach_postgresql_through_pgbouncer_in_transaction_mode():
    found = services()
    pgbouncer = found["pgbouncer"]["environment"]
    assert pgbouncer["POOL_MODE"] == "transaction"
    port = pgbouncer["LISTEN_PORT"]
    for name in (*APIS, *WORKERS):
        assert f"@pgbouncer:{port}/" in found[name]["environment"]["DATABASE_URL"]


def test_the_apis_read_a_streaming_standby_the_primary_feeds_and_the_workers_never_do():
    found = services()
    replica = found["postgres-replica"]
    assert replica["image"] == found["postgres"]["image"]
    for name in APIS:
        env = found[name]["environment"]
        # Backend/.env may name another standby; empty there still means this one.
        assert re.fullmatch(
            r"\$\{DATABASE_REPLICA_URL:-postgresql://[^@]+@postgres-replica:5432/paytrace\}",
            env["DATABASE_REPLICA_URL"],
        )
        assert found[name]["depends_on"]["postgres-replica"]["condition"] == "service_healthy"
    # Workers decide about money: nothing of theirs may read a copy that lags.
    for name in (*WORKERS, "migrate"):
        assert "DATABASE_REPLICA_URL" not in found[name]["environment"], name
    # The standby is cloned from the primary, through the slot the primary's first start
    # creates, and told to stream from it (-R); the primary lets it replicate.
    script = replica["command"][-1]
    assert re.search(r"pg_basebackup -h postgres .*-X stream -R -S paytrace_replica", script)
    assert replica["depends_on"]["postgres"]["condition"] == "service_healthy"
    init = next(v for v in found["postgres"]["volumes"] if "docker-entrypoint-initdb.d" in v)
    source = init.split(":")[0]
    primary_init = (REPO / source).read_text()
    assert "pg_create_physical_replication_slot('paytrace_replica')" in primary_init
    assert "host replication paytrace all" in primary_init
    assert "postgres-replica-data" in load(REPO / "docker-compose.yml")["volumes"]


def test_prometheus_scrapes_every_api_and_worker_with_the_metrics_token():
    found = services()
    scraped = load(DEPLOY / "prometheus.yml")["scrape_configs"]
    targets = {t for job in scraped for group in job["static_configs"] for t in group["targets"]}
    worker_port = found["worker-1"]["environment"]["WORKER_METRICS_PORT"]
    assert targets == {
        *(f"{api}:{found[api]['environment']['PORT']}" for api in APIS),
        *(f"{worker}:{worker_port}" for worker in WORKERS),
    }
    mounted = "/run/secrets/metrics_token"
    assert "metrics_token" in found["prometheus"]["secrets"]
    for job in scraped:
        assert job["authorization"] == {"type": "Bearer", "credentials_file": mounted}
    volumes = found["prometheus"]["volumes"]
    assert "./Backend/deploy/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in volumes
    assert "./Backend/deploy/alerts.yml:/etc/prometheus/alerts.yml:ro" in volumes


def _exported() -> set[str]:
    """Every series name PayTrace's /metrics can show: the counters and histograms, and
    the figures read from PostgreSQL (read() on a stand-in unit of work)."""
    names: set[str] = set()
    for value in vars(metrics).values():
        if isinstance(value, prometheus_client.Counter):
            names |= {value._name + "_total", value._name + "_created"}
        elif isinstance(value, prometheus_client.Histogram):
            names |= {value._name + suffix for suffix in ("_bucket", "_sum", "_count")}
    row = SimpleNamespace(kind="sms", pending=1, oldest_age_s=1.0)

    class StandIn:  # the unit of work read() uses: only its metrics repository
        metrics = SimpleNamespace(
            outbox_depth=lambda: [row],
            outbox_stuck=lambda: {"sms": 1},
            settlement_backlog=lambda: SimpleNamespace(open=1, oldest_age_s=1.0),
            latest_reconciliation=lambda: (0, 1.0),
        )

        def __enter__(self) -> StandIn:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

    names |= {family.name for family in metrics_figures.read(StandIn())}
    return names


def test_alert_rules_name_only_metrics_paytrace_exports():
    exported = _exported()
    assert "paytrace_outbox_needs_operator" in exported  # the stand-in read the figures
    rules = [rule for group in load(DEPLOY / "alerts.yml")["groups"] for rule in group["rules"]]
    assert len(rules) >= 10
    jobs = {job["job_name"] for job in load(DEPLOY / "prometheus.yml")["scrape_configs"]}
    used: set[str] = set()
    for rule in rules:
        assert rule["alert"].startswith("PayTrace") and rule["labels"]["severity"] in (
            "page",
            "warn",
        )
        named = set(re.findall(r"\bpaytrace_[a-z_]+", rule["expr"]))
        assert named <= exported, (rule["alert"], named - exported)
        used |= named
        for job in re.findall(r'job=~?"([^"]+)"', rule["expr"]):
            assert any(re.fullmatch(job, name) for name in jobs), job
    # Every figure the operations guide says to alert on has a rule.
    for family in ("paytrace_outbox_needs_operator", "paytrace_settlement_lag_seconds"):
        assert family in used
    assert "paytrace_reconciliation_drifts" in used
