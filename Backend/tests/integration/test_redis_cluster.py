"""PayTrace on a real three-node Redis Cluster (REDIS_CLUSTER=true): a REST sign-up (the
rate limiter's MULTI, the SMS sandbox's MGET), USSD hops (one MGET of the session, the
profile and the pay-request flag) and a retried hop all answer as on one Redis node,
and what a hop reads together lives in one hash slot."""

from __future__ import annotations

import pytest
from redis.cluster import RedisCluster

from app.api.app import create_app
from app.ussd.session_store import pay_request_key, profile_key, session_key
from tests.conftest import LiveServer
from tests.e2e.at_gateway import AtGateway
from tests.support.pwa import Pwa
from tests.support.redis_cluster import redis_cluster

JANE, PIN = "+254711000301", "4821"


@pytest.fixture
def cluster(tmp_path):
    with redis_cluster(tmp_path / "cluster") as url:
        yield url


@pytest.fixture
def on_cluster(live_settings, cluster, database):
    settings = live_settings.model_copy(update={"redis_url": cluster, "redis_cluster": True})
    with LiveServer(create_app(settings), settings.port) as server:
        pwa = Pwa(server.url, settings, database)
        yield settings, server, pwa
        pwa.close()


def test_sign_up_and_ussd_hops_work_on_a_redis_cluster(on_cluster, cluster):
    settings, server, pwa = on_cluster

    pwa.register(JANE, "Jane Wanjiku", PIN)  # rate limits, codes read off the SMS sandbox

    phone = AtGateway(server.url, JANE)
    menu = phone.dial()
    assert menu.startswith("CON PayTrace - Hi Jane")
    assert phone.hop() == menu  # AT's retry of the hop: the stored answer
    assert phone.send("6").startswith("CON ")  # My account, from the stored session

    client = RedisCluster.from_url(cluster)
    try:
        prefix = settings.redis_prefix
        keys = [
            session_key(prefix, JANE, phone.session_id),
            profile_key(prefix, JANE),
            pay_request_key(prefix, JANE),
        ]
        assert client.exists(keys[0]) == 1 and client.exists(keys[1]) == 1
        assert len({client.keyslot(key) for key in keys}) == 1
        # Three masters really share the work: another caller's keys may live elsewhere.
        slots = {client.keyslot(profile_key(prefix, f"+2547110{n:05d}")) for n in range(50)}
        nodes = {client.nodes_manager.get_node_from_slot(slot).name for slot in slots}
        assert len(nodes) == 3
    finally:
        client.close()
