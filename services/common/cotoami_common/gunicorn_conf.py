"""The one gunicorn configuration of every service, read from the environment.

Every Dockerfile's CMD and `make up` run `gunicorn -c python:cotoami_common.gunicorn_conf APP`.
"""

import os

from cotoami_common.config import ConfigError, Env
from cotoami_common.logs import logging_config

_env = Env(os.environ)
try:
    bind = f"{_env.str('BIND_HOST', '0.0.0.0')}:{_env.int('PORT', 8000, minimum=1, maximum=65535)}"
    workers = _env.int("WEB_CONCURRENCY", 2, minimum=1, maximum=64)
    threads = _env.int("WEB_THREADS", 4, minimum=1, maximum=64)
    # Kubernetes' grace period is set longer than this, so in-flight requests finish.
    graceful_timeout = _env.int("GRACEFUL_TIMEOUT", 20, minimum=1, maximum=300)
    logconfig_dict = logging_config(_env.str("LOG_LEVEL", "INFO", pattern="DEBUG|INFO|WARNING|ERROR"))
except ConfigError as error:
    raise SystemExit(f"configuration error: {error}") from None

worker_class = "gthread"
# A master that died leaves its workers draining on the port for a while; the
# master restarted in its place must be able to bind it at once.
reuse_port = True
timeout = 30
# The gateway's own limits are lower, so it answers over-long requests first.
limit_request_line = 8190
keepalive = 5
# Its default path is shared by every gunicorn of the user and needs a writable home.
control_socket_disable = True
accesslog = None  # each service logs its requests itself, with the request id
proc_name = os.environ.get("SERVICE_NAME", "cotoami")
