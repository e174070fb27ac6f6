"""A real three-node Redis Cluster on 127.0.0.1 (the distribution's `redis-server` and
`redis-cli`), for the tests of PayTrace on Redis Cluster. Where they are missing, the
tests skip with a reason starting "needs " (a failure in CI: tests/support/ci_skips.py)."""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis


def _cluster_port() -> int:
    """A port whose cluster bus port (10,000 higher, so at most 55,535) is free too."""
    while True:
        port = random.randint(20_000, 45_000)
        try:
            for candidate in (port, port + 10_000):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        return port


def _binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"needs {name} (the distribution's redis-server / redis-tools package)")
    return found


@contextmanager
def redis_cluster(work_dir: Path, nodes: int = 3) -> Iterator[str]:
    """Three masters, the 16,384 slots spread over them; yields one node's URL."""
    server, cli = _binary("redis-server"), _binary("redis-cli")
    ports = [_cluster_port() for _ in range(nodes)]
    processes = []
    try:
        for port in ports:
            node_dir = work_dir / f"node-{port}"
            node_dir.mkdir(parents=True)
            processes.append(
                subprocess.Popen(
                    [
                        server,
                        "--port",
                        str(port),
                        "--bind",
                        "127.0.0.1",
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        "nodes.conf",
                        "--dir",
                        str(node_dir),
                        "--save",
                        "",
                        "--appendonly",
                        "no",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        for port in ports:
            _wait_ping(port)
        subprocess.run(
            [cli, "--cluster", "create", *[f"127.0.0.1:{p}" for p in ports],
             "--cluster-replicas", "0", "--cluster-yes"],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
        _wait_cluster_ok(ports)
        yield f"redis://127.0.0.1:{ports[0]}"
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def _wait_ping(port: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            redis.Redis(host="127.0.0.1", port=port, socket_timeout=0.5).ping()
            return
        except redis.RedisError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _wait_cluster_ok(ports: list[int], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        states = [
            redis.Redis(host="127.0.0.1", port=p).cluster("info")["cluster_state"] for p in ports
        ]
        if all(state == "ok" for state in states):
            return
        time.sleep(0.1)
    raise RuntimeError("the Redis Cluster did not come up")
