from dataclasses import dataclass, field

from cryptography.exceptions import UnsupportedAlgorithm

from cotoami_common.config import ConfigError, Env, ServiceConfig, TokenConfig
from cotoami_common.tokens import AccessTokenSigner


@dataclass(frozen=True)
class Config(ServiceConfig):
    tokens: TokenConfig
    signer: AccessTokenSigner
    internal_token: str = field(repr=False)  # never in a log
    public_url: str
    cotos_internal_url: str
    refresh_token_days: int
    signin_link_minutes: int
    signin_limit_per_address: int
    signin_limit_per_client: int
    session_limit_per_client: int
    rate_limit_window_seconds: int
    gravatar_url: str
    gravatar_profile_url: str | None
    gravatar_timeout_seconds: float

    @property
    def refresh_token_seconds(self) -> int:
        return self.refresh_token_days * 86400

    @classmethod
    def from_env(cls, env: Env) -> "Config":
        tokens = TokenConfig.from_env(env)
        try:
            signer = AccessTokenSigner(
                env.secret("JWT_SIGNING_KEY").encode(),
                tokens.issuer,
                tokens.audience,
                lifetime_seconds=60 * env.int("ACCESS_TOKEN_MINUTES", 10, minimum=1, maximum=60),
            )
        except (ValueError, TypeError, UnsupportedAlgorithm) as error:
            raise ConfigError(f"JWT_SIGNING_KEY is not a usable EC P-256 private key (PEM): {error}") from None
        # TokenConfig.from_env has checked the key set: "keys" is a list of JWK objects.
        keys = tokens.jwks.get("keys", [])
        key_ids = {key.get("kid") for key in keys if isinstance(key, dict)} if isinstance(keys, list) else set()
        if signer.key_id not in key_ids:
            raise ConfigError("JWT_PUBLIC_KEYS_FILE lacks the public half of JWT_SIGNING_KEY")
        profile_url = env.str("GRAVATAR_PROFILE_URL", "off")
        return cls(
            **ServiceConfig.common_settings(env, "auth"),
            tokens=tokens,
            signer=signer,
            internal_token=env.secret("INTERNAL_TOKEN"),
            public_url=env.url("PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/"),
            cotos_internal_url=env.url("COTOS_INTERNAL_URL", "http://127.0.0.1:8002").rstrip("/"),
            refresh_token_days=env.int("REFRESH_TOKEN_DAYS", 30, minimum=1, maximum=365),
            signin_link_minutes=env.int("SIGNIN_LINK_MINUTES", 10, minimum=1, maximum=60),
            signin_limit_per_address=env.int("SIGNIN_LIMIT_PER_ADDRESS", 5, minimum=1, maximum=1000),
            signin_limit_per_client=env.int("SIGNIN_LIMIT_PER_CLIENT", 100, minimum=1, maximum=1_000_000),
            session_limit_per_client=env.int("SESSION_LIMIT_PER_CLIENT", 100, minimum=1, maximum=1_000_000),
            rate_limit_window_seconds=env.int("RATE_LIMIT_WINDOW_SECONDS", 900, minimum=1, maximum=86400),
            gravatar_url=env.url("GRAVATAR_URL", "https://www.gravatar.com/avatar/"),
            # Off unless set: looking up a name means a call to an outside host.
            gravatar_profile_url=None if profile_url == "off" else env.url("GRAVATAR_PROFILE_URL"),
            gravatar_timeout_seconds=env.int("GRAVATAR_TIMEOUT_MS", 1500, minimum=100, maximum=10_000) / 1000,
        )
