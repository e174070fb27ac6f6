"""`make -C Backend bench-ussd`: USSD hops under concurrent sessions.

Starts its own servers (embedded PostgreSQL/Redis under .data/bench, or
$DATABASE_URL / $REDIS_URL), one uvicorn worker serving PayTrace and one serving
the floor app (one Redis GET + SET), seeds registered callers by walking
registration once per phone, then drives each server in turn with the same number
of keep-alive sessions and prints hops/s, p50/p90/p99/max and errors, and
PayTrace's throughput as a fraction of the floor's.

With --money each call is a Send money journey (bench.ussd_money): callers are
also funded through the real cash-in service, and the final PIN hop (PIN check,
ledger transaction, outbox) is reported apart from the navigation hops.

The original prototype's handler (`make bench-prototype`: a checkout of the public
stellarites Backend/ at a pinned commit with its own venv, in $PROTOTYPE_DIR) is a
second reference: started with its own venv's uvicorn and driven with its own menu
walk (dial, then "2": two screens, each one Redis GET and SETEX), so every run
prints PayTrace/prototype beside PayTrace/floor. Without it the run says so.
Last, PIN checks per second per core (argon2id at production cost, bench/pin_checks.py).

With --api-processes N (API_PROCESSES=N from make) PayTrace and the floor each run as
uvicorn --workers N, unpinned; --no-pin leaves one process unpinned too, to compare.

    python -m bench.ussd_load [--sessions 200] [--duration 15] [--money] [--url http://...]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from app.cli.devserver import Child, Supervisor, child_env, uvicorn_argv
from app.cli.terminal_phone import (
    DEFAULT_SERVICE_CODE,
    NETWORK_CODE,
    dial,
    make_client,
    new_session_id,
)
from app.config import BACKEND_DIR, Settings
from app.db.migrate import apply_migrations
from app.infra.embedded import EmbeddedServers, ensure_servers, start_redis
from bench import pin_checks, ussd_money
from bench.loadgen import Result, http_request, pin_cores, process_cpu_s, run_load

HOST = "127.0.0.1"
PIN = "4826"
REGISTRATION = ["1", "Bench Caller", PIN, PIN, "1", "1"]  # Register, name, PIN x2, English, accept
# Registered: My account, my details, back, home, My account, my details, home.
REGISTERED_WALK = ["6", "1", "0", "00", "6", "1", "00"]
UNREGISTERED_WALK = ["2", "0", "2", "00"]  # About, back, About, home
# The prototype's menu: dial (main menu), then 2 (Sign in: "Enter your phone number").
PROTOTYPE_WALK = ["2"]
# Issue 18's targets for navigation and first hops, side by side with both references.
PROTOTYPE_TARGET = 3.0
FLOOR_TARGET = 0.7
NAVIGATION_P99_MS = 100  # at 200 sessions with no think time
PROTOTYPE_HINT = (
    "prototype reference absent: `make -C Backend bench-prototype` prepares it "
    "(PROTOTYPE_REPO may name a local mirror of github.com/bizzy604/stellarites)"
)


def prototype_dir() -> Path:
    """Where `make bench-prototype` put the checkout ($PROTOTYPE_DIR, relative to Backend/)."""
    given = Path(os.environ.get("PROTOTYPE_DIR") or ".bench/prototype")
    return given if given.is_absolute() else BACKEND_DIR / given


def prototype_child(port: int) -> Child | None:
    """The prototype's uvicorn from its own venv, as PayTrace's is run; None if absent."""
    root = prototype_dir()
    python, backend = root / ".venv" / "bin" / "python", root / "Backend"
    if not python.exists() or not (backend / "app" / "main.py").exists():
        return None
    argv = [str(python), "-m", "uvicorn", "app.main:app", "--app-dir", str(backend)]
    argv += ["--host", HOST, "--port", str(port), "--loop", "uvloop", "--http", "httptools"]
    return Child("prototype", [*argv, "--no-access-log", "--log-level", "warning"])


def phone_number(index: int) -> str:
    return f"+2547{index:08d}"  # a valid Kenyan mobile range, one number per session


def new_caller(index: int, call_no: int) -> str:
    """A number no call has dialled from before in this run (nor any seeded caller)."""
    return f"+2547{50_000_000 + (index * 100_000 + call_no) % 50_000_000:08d}"


def ussd_call(
    port: int, service_code: str, token: str | None, walk: list[str], first_hops: bool = False
):
    """The raw requests of one call: dial, then each input, text accumulating as AT's does.
    With first_hops, each call is a dial from a new number: a profile no cache holds."""
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    headers = f"Content-Type: application/x-www-form-urlencoded\r\n{auth}"

    def build(index: int, call_no: int) -> list[bytes]:
        session_id = new_session_id()
        phone = new_caller(index, call_no) if first_hops else phone_number(index)
        texts = ["*".join(walk[:n]) for n in range(len(walk) + 1)]
        return [
            http_request(
                "POST",
                HOST,
                port,
                "/ussd",
                urlencode(
                    {
                        "sessionId": session_id,
                        "serviceCode": service_code,
                        "phoneNumber": phone,
                        "networkCode": NETWORK_CODE,
                        "text": text,
                    }
                ).encode(),
                headers,
            )
            for text in texts
        ]

    return build


def get_call(port: int, path: str, hops: int = 8):
    request = http_request("GET", HOST, port, path)
    return lambda _index, _call_no: [request] * hops


def is_ussd_answer(_hop: int, status: int, body: bytes) -> bool:
    return status == 200 and body[:4] in (b"CON ", b"END ")


def is_navigation_answer(hop: int, status: int, body: bytes) -> bool:
    """Every hop of the walk continues the call: an END there is an apology, not a menu."""
    return is_ussd_answer(hop, status, body) and body[:4] == b"CON "


def is_ok(_hop: int, status: int, _body: bytes) -> bool:
    return status == 200


def wait_ready(url: str, supervisor: Supervisor | None, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if supervisor is not None and supervisor.dead_child() is not None:
            raise SystemExit(f"bench: {supervisor.dead_child().name} died while starting")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310
            if response.status == 200:
                return
        time.sleep(0.2)
    raise SystemExit(f"bench: {url} not ready after {timeout_s:.0f} s")


def ussd_route_exists(base_url: str, service_code: str, token: str | None) -> bool:
    with make_client(base_url, token) as client:
        response = client.post(
            "/ussd",
            data={
                "sessionId": new_session_id(),
                "serviceCode": service_code,
                "phoneNumber": phone_number(0),
                "networkCode": NETWORK_CODE,
                "text": "",
            },
        )
    return response.status_code not in (404, 405)


def seed_callers(base_url: str, count: int, service_code: str, token: str | None) -> int:
    """Register every bench phone that is not yet registered; returns how many are."""

    def ensure(index: int) -> bool:
        with make_client(base_url, token) as client:
            first = dial(client, phone_number(index), [], service_code)[0]
            if "PayTrace - " in first.text:  # the registered main menu's title
                return True
            screens = dial(client, phone_number(index), REGISTRATION, service_code)
            return len(screens) == len(REGISTRATION) + 1 and screens[-1].ended

    with ThreadPoolExecutor(max_workers=8) as pool:
        return sum(pool.map(ensure, range(count)))


def table(results: list[Result]) -> str:
    head = f"{'target':<12}{'hops/s':>9}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}"
    tail_head = f"{'hops':>9}{'errors':>8}{'gen cpu':>9}{'srv cpu':>9}{'cpu/hop':>9}"
    lines = [head + tail_head, "-" * (len(head) + 44)]
    for r in results:
        # The server's CPU per hop (ms): steadier than hops/s on a machine others load.
        per_hop = 10 * r.server_cpu_pct / r.hops_per_s if r.hops_per_s else float("nan")
        tail = f"{r.errors:>8}{r.generator_cpu_pct:>8.0f}%{r.server_cpu_pct:>8.0f}%{per_hop:>9.2f}"
        rows = [(r.name, r, tail)]
        rows += [(f"  {k}", r.kind(k), f"{r.kind(k).errors:>8}") for k in sorted(r.by_kind)]
        for name, figures_of, tail in rows:
            figures = [figures_of.percentile_ms(p) for p in (50, 90, 99, 100)]
            lines.append(
                f"{name:<12}{figures_of.hops_per_s:>9.0f}"
                + "".join(f"{f:>9.1f}" for f in figures)
                + f"{len(figures_of.latencies_s):>9}{tail}"
            )
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=200, help="concurrent sessions")
    parser.add_argument("--duration", type=float, default=15.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds first")
    parser.add_argument("--url", help="benchmark an already running PayTrace (127.0.0.1 only)")
    parser.add_argument("--service-code", default=DEFAULT_SERVICE_CODE)
    parser.add_argument("--token", help="USSD callback token (default: USSD_CALLBACK_TOKEN)")
    parser.add_argument(
        "--endpoint",
        choices=["ussd", "ready"],
        default="ussd",
        help="ussd: navigation hops (default); ready: GET /health/ready, for comparison",
    )
    parser.add_argument(
        "--money",
        action="store_true",
        help="each call sends money (1, number, amount, PIN); callers are funded first",
    )
    parser.add_argument(
        "--first-hops",
        action="store_true",
        help="each call is one dial from a new number: the first hop of a caller no cache knows",
    )
    parser.add_argument(
        "--api-processes",
        type=int,
        default=int(os.environ.get("API_PROCESSES") or 1),
        help="uvicorn --workers for PayTrace and the floor alike (default 1, pinned to a core;"
        " more share every core with the generator, unpinned)",
    )
    parser.add_argument(
        "--no-pin",
        action="store_true",
        help="one process too shares every core with the generator (to compare with several)",
    )
    parser.add_argument(
        "--think-ms",
        type=float,
        default=0.0,
        help="pause after each answer, as a caller reads and types (0: saturation test)",
    )
    args = parser.parse_args(argv)
    if not 0 <= args.think_ms <= 60_000:
        parser.error("--think-ms must be 0..60000")
    if not 1 <= args.sessions <= 2000 or not 0 < args.duration <= 600:
        parser.error("--sessions must be 1..2000 and --duration 0..600 s")
    if not 1 <= args.api_processes <= 16 or (args.url and args.api_processes != 1):
        parser.error("--api-processes must be 1..16, and 1 with --url (a server it starts)")
    if args.url and urlsplit(args.url).hostname not in ("127.0.0.1", "localhost"):
        parser.error("--url must be on 127.0.0.1: load is only ever sent to this machine")
    if args.first_hops and (args.money or args.endpoint != "ussd"):
        parser.error("--first-hops is a navigation run: no --money, --endpoint ussd")
    if args.money and (args.endpoint != "ussd" or args.sessions < 2):
        parser.error("--money needs --endpoint ussd and at least 2 sessions")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    data_dir = BACKEND_DIR / ".data" / "bench"  # bench callers never mix with `make run` data
    # A benchmark is a development run (its own server and data on 127.0.0.1), also
    # when started without `make`; the servers it starts inherit this.
    os.environ.setdefault("ENVIRONMENT", "development")
    settings = Settings(data_dir=data_dir)
    token = args.token or (
        settings.ussd_callback_token.get_secret_value() if settings.ussd_callback_token else None
    )
    servers = EmbeddedServers()
    children: list[Child] = []
    supervisor: Supervisor | None = None
    try:
        if args.url:
            redis_url = settings.redis_url or start_redis(data_dir, servers)
            # --money funds callers in the server's database: it must be named.
            database_url = settings.database_url
            if args.money and not database_url:
                print("bench: --money with --url needs DATABASE_URL", file=sys.stderr)
                return 2
        else:
            database_url, redis_url, servers = ensure_servers(
                data_dir, settings.database_url, settings.redis_url
            )
            apply_migrations(database_url)
        env = child_env(database_url, redis_url)
        # The prototype's SQLite file (its handler's menus never read it) stays in .data.
        env.update(DATA_DIR=str(data_dir), LOG_LEVEL="WARNING", DB_PATH=str(data_dir / "proto.db"))
        floor_port = _free_port()
        # Several processes: uvicorn's own --workers, as the image runs the API, and the
        # floor the same, so PayTrace/floor compares like with like.
        workers = ["--workers", str(args.api_processes)] if args.api_processes > 1 else []
        floor_argv = uvicorn_argv("bench.floor_app:create_app", HOST, floor_port, "warning")
        children.append(Child("floor", floor_argv + workers))
        prototype_port = _free_port()
        prototype = prototype_child(prototype_port)
        if prototype is not None:
            children.append(prototype)
        if not args.url:
            api_port = _free_port()
            api_argv = uvicorn_argv("app.api.app:create_app", HOST, api_port, "warning")
            children.append(Child("paytrace", api_argv + workers))
            args.url = f"http://{HOST}:{api_port}"
        supervisor = Supervisor(children, env)
        supervisor.start()
        wait_ready(f"{args.url}/health/ready", supervisor)
        wait_ready(f"http://{HOST}:{floor_port}/floor", supervisor)
        if prototype is not None:
            wait_ready(f"http://{HOST}:{prototype_port}/health", supervisor)
        ports = {"floor": floor_port, "prototype": prototype_port if prototype else None}
        return _measure(args, token, ports, supervisor, database_url)
    finally:
        if supervisor is not None:
            supervisor.stop()
        servers.stop()


def _measure(
    args: argparse.Namespace,
    token: str | None,
    ports: dict[str, int | None],
    sup: Supervisor,
    database_url: str,
) -> int:
    api_port = urlsplit(args.url).port or 80
    floor_port, prototype_port = ports["floor"], ports["prototype"]
    hop_kind = None
    if args.endpoint == "ussd":
        if not ussd_route_exists(args.url, args.service_code, token):
            print("bench: this PayTrace has no POST /ussd; try --endpoint ready", file=sys.stderr)
            return 2
        started = time.monotonic()
        registered = seed_callers(args.url, args.sessions, args.service_code, token)
        print(
            f"seeded: {registered}/{args.sessions} callers registered "
            f"({time.monotonic() - started:.1f} s)"
        )
        walk = REGISTERED_WALK if registered == args.sessions else UNREGISTERED_WALK
        if args.first_hops:
            walk = []
        build = ussd_call(api_port, args.service_code, token, walk, args.first_hops)
        check, what = is_navigation_answer, f"USSD call: dial + {'/'.join(walk)}"
        if args.first_hops:
            what = "first hops: one dial from a new (unregistered) number each call"
        if args.money:
            if registered != args.sessions:
                print("bench: --money needs every caller registered", file=sys.stderr)
                return 2
            phones = [phone_number(i) for i in range(args.sessions)]
            took = ussd_money.fund_callers(database_url, phones)
            print(f"funded: {len(phones)} callers through cash_in ({took:.1f} s)")
            build = ussd_money.money_call(api_port, HOST, args.service_code, token, phones, PIN)
            check, hop_kind = ussd_money.is_money_journey_answer, ussd_money.hop_kind
            what = "Send money: dial + 1/<next caller>/<KES 50-250>/<PIN>, answered END Sent"
    else:
        build, check, what = get_call(api_port, "/health/ready"), is_ok, "GET /health/ready"
    pids = [c.proc.pid for c in sup.children if c.proc is not None]
    if args.api_processes == 1 and not args.no_pin:
        print(pin_cores(pids))
    else:
        print(
            f"{args.api_processes} process(es) per server (uvicorn --workers), unpinned: they"
            f" and the load generator share {len(os.sched_getaffinity(0))} cores"
        )
    # With think time, stagger the first dials over one call and warm up for at
    # least that long, so the measured window sees callers at every step of a call.
    hops_per_call = len(build(0, 1))
    stagger_s = args.think_ms / 1000 * hops_per_call
    if stagger_s > args.warmup:
        args.warmup = stagger_s
    print(
        f"{args.sessions} sessions, {args.think_ms:.0f} ms think time, "
        f"{args.warmup:.0f} s warm-up (first dials spread over {stagger_s:.1f} s) "
        f"+ {args.duration:.0f} s; "
        f"PayTrace: {what}; prototype: dial{'' if args.first_hops else ' + 2'}; "
        "floor: GET /floor (Redis GET + SET)"
    )
    results = []
    server_pids = {c.name: c.proc.pid for c in sup.children if c.proc is not None}
    targets = [("paytrace", api_port, build, check, hop_kind)]
    if prototype_port is not None and args.endpoint == "ussd" and not args.money:
        prototype_walk = [] if args.first_hops else PROTOTYPE_WALK
        walk = ussd_call(prototype_port, args.service_code, None, prototype_walk, args.first_hops)
        targets.append(("prototype", prototype_port, walk, is_navigation_answer, None))
    targets.append(("floor", floor_port, get_call(floor_port, "/floor"), is_ok, None))
    for name, port, builder, checker, kinds in targets:
        cpu_before, wall_before = process_cpu_s(server_pids.get(name)), time.monotonic()
        results.append(
            _run(
                run_load(
                    name,
                    HOST,
                    port,
                    builder,
                    checker,
                    sessions=args.sessions,
                    warmup_s=args.warmup,
                    duration_s=args.duration,
                    think_s=args.think_ms / 1000,
                    hop_kind=kinds,
                    stagger_s=stagger_s,
                )
            )
        )
        spent = process_cpu_s(server_pids.get(name)) - cpu_before
        results[-1].server_cpu_pct = 100 * spent / (time.monotonic() - wall_before)
    print(table(results))
    print(f"load average (1, 5, 15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    named = {r.name: r for r in results}
    paytrace, floor = named["paytrace"], named["floor"]
    if "prototype" in named and named["prototype"].hops_per_s:
        ratio = paytrace.hops_per_s / named["prototype"].hops_per_s
        print(f"PayTrace/prototype throughput: {ratio:.2f}")
    elif not args.money and args.endpoint == "ussd":
        print(PROTOTYPE_HINT)
    if floor.hops_per_s:
        print(f"PayTrace/floor throughput: {paytrace.hops_per_s / floor.hops_per_s:.2f}")
    if not args.money and args.endpoint == "ussd":
        prototype = named.get("prototype")
        saturated = args.think_ms == 0 and args.sessions == 200 and not args.first_hops
        print(
            verdicts(
                paytrace.hops_per_s,
                prototype.hops_per_s if prototype else None,
                floor.hops_per_s,
                paytrace.percentile_ms(99) if saturated else None,
            )
        )
    if args.money:
        print(ussd_money.summary(paytrace))
    # What a money hop's PIN check costs, per core, after the load (bench/pin_checks.py).
    print(pin_checks.measure(2.0))
    for r in results:
        for sample in r.error_samples:
            print(f"  {r.name} error: {sample}")
    return 1 if any(r.errors for r in results) else 0


def verdicts(
    hops_per_s: float,
    prototype_per_s: float | None,
    floor_per_s: float,
    navigation_p99_ms: float | None,
) -> str:
    """Each target this run can judge, met or MISSED; a reference that did not run (or
    a p99 measured off the target's conditions: None) is not judged."""

    def judged(ok: bool) -> str:
        return "met" if ok else "MISSED"

    parts = []
    if prototype_per_s:
        ratio = hops_per_s / prototype_per_s
        parts.append(f">= {PROTOTYPE_TARGET:g}x the prototype: {judged(ratio >= PROTOTYPE_TARGET)}")
    if floor_per_s:
        ratio = hops_per_s / floor_per_s
        parts.append(f">= {FLOOR_TARGET:g}x the floor: {judged(ratio >= FLOOR_TARGET)}")
    if navigation_p99_ms is not None:
        ok = navigation_p99_ms < NAVIGATION_P99_MS
        parts.append(f"p99 < {NAVIGATION_P99_MS} ms at 200 sessions: {judged(ok)}")
    return "targets: " + ("; ".join(parts) if parts else "none judged in this run")


def _run(coro):
    """uvloop when present: the generator's own cost per request is what we keep small."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


if __name__ == "__main__":
    sys.exit(main())
