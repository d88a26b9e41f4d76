from dataclasses import dataclass, field

from cotoami_common.config import Env, ServiceConfig, TokenConfig

MIB = 1024 * 1024


@dataclass(frozen=True)
class Config(ServiceConfig):
    tokens: TokenConfig
    # The service credential: presented on cotos', cotonomas' and graph's /internal/ paths.
    # Kept out of repr so it never reaches a log.
    internal_token: str = field(repr=False)
    cotos_internal_url: str
    cotonomas_internal_url: str
    graph_internal_url: str
    # How long POST /api/import waits for a small import to finish and answer 200 with its
    # result, before answering 202 with the job to follow; below the gateway's upstream timeout.
    import_wait_seconds: float
    # How long a job's worker holds it without a word before another may take it up.
    import_lease_seconds: int
    # How many times a job is taken up before it is given up on (failed).
    import_max_attempts: int

    @classmethod
    def from_env(cls, env: Env) -> "Config":
        settings = ServiceConfig.common_settings(env, "archive")
        # The body of POST /api/import is the file: up to 50 MiB (the gateway lets this route
        # alone carry that much); every other route takes what any service takes.
        settings["max_body_bytes"] = env.int("MAX_BODY_BYTES", 50 * MIB, minimum=MIB, maximum=64 * MIB)
        return cls(
            **settings,
            tokens=TokenConfig.from_env(env),
            internal_token=env.secret("INTERNAL_TOKEN"),
            cotos_internal_url=env.url("COTOS_INTERNAL_URL", "http://127.0.0.1:8002").rstrip("/"),
            cotonomas_internal_url=env.url("COTONOMAS_INTERNAL_URL", "http://127.0.0.1:8003").rstrip("/"),
            graph_internal_url=env.url("GRAPH_INTERNAL_URL", "http://127.0.0.1:8006").rstrip("/"),
            import_wait_seconds=env.int("IMPORT_WAIT_MS", 2000, minimum=0, maximum=120_000) / 1000,
            import_lease_seconds=env.int("IMPORT_LEASE_SECONDS", 30, minimum=2, maximum=3600),
            import_max_attempts=env.int("IMPORT_MAX_ATTEMPTS", 5, minimum=1, maximum=100),
        )
