"""The local stack: every service, the gateway and maildev on this machine,
under supervisord, as Kubernetes would run them: each service with exactly its
image's command, its own database, N instances behind the gateway, healed when
a process dies, and rolled out one instance at a time.

    python -m cotoami_stack up|down|restart|status|logs|backing [--profile dev|e2e|bench] [--fresh] [--replicas N]
    python -m cotoami_stack rollout SERVICE [--profile dev|e2e|bench]

The modules, by concern: profiles (which stack: ports, databases, settings),
backing (PostgreSQL, Redis, maildev), services (each service's command,
environment, secrets and databases), gateway (nginx's configuration and
reload), supervisor (supervisord's configuration and control), processes (what
the stack runs and where each answers), rollout, and commands (the CLI).
"""


class StackError(Exception):
    """Something the person must fix; the message says what and how."""
