"""Which stack: `dev` is what `make up` runs (gateway on :8000); `e2e` is the
one the end-to-end tests start, on other ports and databases, so the two never
meet; `bench` is the one `make bench` seeds and loads (gateway on :28000)."""

import os
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
SERVICES = ("auth", "cotos", "cotonomas", "mailer", "live", "graph", "archive")
# live keeps nothing of its own (it reads Redis streams): no database to make, empty or migrate.
DATABASE_SERVICES = tuple(service for service in SERVICES if service != "live")
POSTGRES_PORT = 5432
REDIS_PORT = 6379
MAX_REPLICAS = 8
SURGE = 9  # the instance number of the extra process a rollout starts (its port's last digit)


@dataclass(frozen=True)
class Profile:
    name: str
    gateway_port: int  # a multiple of 10: instance ports end in the instance's number
    first_service_port: int
    smtp_port: int
    inbox_port: int
    database_prefix: str
    own_redis_port: int | None  # a Redis of the stack's own (tests restart it), else the shared one on 6379
    own_postgres_port: int | None  # a PostgreSQL of the stack's own (tests stop it), else the shared one on 5432
    upstream_timeout: str  # how long the gateway waits for a service's answer
    avatar_url: str  # where avatars come from; tests must not reach outside hosts
    auth_limit_per_client: int  # sign-in requests and link uses per client address per 15 minutes
    mail_reclaim_idle_ms: int  # how long a crashed mailer's job waits before another takes it
    default_replicas: int  # instances of each service when `up` is not told otherwise
    anonymous_writes_per_client: int = 300  # per 15 minutes, as in production; tests and load write more
    # The gateway's limits per client address (cotoami.conf.template): requests in progress, and
    # requests a second with the burst beyond it. A browser stays far below; tests and load ask more.
    gateway_connections_per_client: int = 32
    gateway_requests_per_second: int = 50
    gateway_request_burst: int = 200
    # cotos' test-only fault hooks (FAULT_HOOKS=on: X-Cotoami-Fault kills the process after a commit).
    fault_hooks: bool = False

    def __post_init__(self) -> None:
        if self.gateway_port % 10:
            raise ValueError(f"profile {self.name}: the gateway port must be a multiple of 10")

    @property
    def run_dir(self) -> Path:
        return ROOT / ".run" / self.name

    @property
    def logs_dir(self) -> Path:
        return self.run_dir / "logs"

    @property
    def secrets_dir(self) -> Path:
        return self.run_dir / "secrets"

    def service_port(self, service: str) -> int:
        """The port every instance of the service shares (SO_REUSEPORT): what other services call."""
        return self.first_service_port + SERVICES.index(service)

    def instance_port(self, service: str, instance: int) -> int:
        """One instance's own port (instance SURGE: a rollout's extra process): what the gateway balances over.
        dev: auth 8101.., cotos 8111.., cotonomas 8121.., mailer 8131.., live 8141.., graph 8151.., archive 8161..;
        e2e the same from 18100."""
        return self.gateway_port + 100 + 10 * SERVICES.index(service) + instance

    @property
    def postgres_port(self) -> int:
        return self.own_postgres_port or POSTGRES_PORT

    def database_url(self, service: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.postgres_port}/{self.database_prefix}{service}"

    @property
    def redis_port(self) -> int:
        return self.own_redis_port or REDIS_PORT

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    @property
    def public_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"


def instance_name(service: str, instance: int) -> str:
    """The supervisord name of one of a service's processes: cotos-1, cotos-2, ..., cotos-surge."""
    return f"{service}-surge" if instance == SURGE else f"{service}-{instance}"


def e2e_profile(slot: int) -> Profile:
    """The stack the end-to-end tests start. Its own Redis and PostgreSQL,
    which tests restart and stop; a short gateway timeout, so tests see a 504
    without waiting long; avatars from the gateway itself (a 404 the web client
    falls back from), never an outside host; room for the many sign-ins tests
    make from one address; a crashed mailer's jobs retaken soon; cotos' fault
    hooks on, so tests can kill it between a commit and its answer. Two instances
    of each service, as in Kubernetes, so every end-to-end test runs against
    balanced replicas (8 gunicorns start in about 10 s on 2 cores).
    Slot N (COTOAMI_E2E_SLOT) moves every port up by N * 1000 and uses
    .run/e2e-N, so several test runs can share one machine."""
    shift = 1000 * slot
    gateway_port = 18000 + shift
    return Profile(
        name="e2e" if slot == 0 else f"e2e-{slot}",
        gateway_port=gateway_port,
        first_service_port=gateway_port + 1,
        smtp_port=11025 + shift,
        inbox_port=11080 + shift,
        database_prefix="cotoami_e2e_",
        own_redis_port=16379 + shift,
        own_postgres_port=15432 + shift,
        upstream_timeout="3s",
        avatar_url=f"http://127.0.0.1:{gateway_port}/avatars/",
        auth_limit_per_client=10_000,
        mail_reclaim_idle_ms=3_000,
        default_replicas=2,
        anonymous_writes_per_client=100_000,
        # A rollout's client threads ask some 200 a second; the limits' own test goes past these.
        gateway_requests_per_second=400,
        gateway_request_burst=800,
        fault_hooks=True,
    )


PROFILES = {
    "dev": Profile(
        name="dev",
        gateway_port=8000,
        first_service_port=8001,
        smtp_port=1025,
        inbox_port=1080,
        database_prefix="cotoami_",
        own_redis_port=None,
        own_postgres_port=None,
        upstream_timeout="30s",
        avatar_url="https://www.gravatar.com/avatar/",
        auth_limit_per_client=100,
        mail_reclaim_idle_ms=30_000,
        default_replicas=1,
    ),
    "e2e": e2e_profile(int(os.environ.get("COTOAMI_E2E_SLOT") or 0)),
    # What `make bench` starts, seeds and stops: dev's settings on ports and
    # databases of its own, so its million cotos never reach what you wrote;
    # its own Redis, so anonymous pads stay apart; avatars from its own gateway
    # and no sign-in limit that load from one address would hit.
    "bench": Profile(
        name="bench",
        gateway_port=28000,
        first_service_port=28001,
        smtp_port=21025,
        inbox_port=21080,
        database_prefix="cotoami_bench_",
        own_redis_port=26379,
        own_postgres_port=None,
        upstream_timeout="30s",
        avatar_url="http://127.0.0.1:28000/avatars/",
        auth_limit_per_client=1_000_000,
        mail_reclaim_idle_ms=30_000,
        default_replicas=1,
        anonymous_writes_per_client=1_000_000,
        # wrk asks thousands a second over 16 connections from one address.
        gateway_connections_per_client=64,
        gateway_requests_per_second=100_000,
        gateway_request_burst=100_000,
    ),
}
