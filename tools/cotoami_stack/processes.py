"""What a stack runs under supervisord (each service's instances, during a
rollout its extra process, the stack's own Redis, maildev, the gateway) and
where each answers once ready."""

import configparser
import dataclasses
from pathlib import Path

from cotoami_stack.backing import maildev_command, own_redis_command, own_redis_dir
from cotoami_stack.containers import images_mode, in_container
from cotoami_stack.gateway import nginx_command, render_gateway
from cotoami_stack.profiles import ROOT, SERVICES, SURGE, Profile, instance_name
from cotoami_stack.services import image_command, service_environment
from cotoami_stack.supervisor import INSTANCE_NAME, Program, config_path, literal, supervisord_pid, write_config

GRACEFUL_STOP_SECONDS = 25  # longer than gunicorn's graceful timeout (GRACEFUL_TIMEOUT, 20 s)


def own_port(profile: Profile, service: str) -> str:
    """Each instance's own port, as supervisord fills it in: it substitutes the
    instance's number but cannot add, and that number is the port's last digit."""
    return f"{profile.instance_port(service, 0) // 10}%(process_num)d"


def service_program(profile: Profile, service: str, replicas: int) -> Program:
    """The service's instances SVC-1..SVC-N, in the group SVC."""
    environment = {key: literal(value) for key, value in service_environment(profile, service).items()}
    # Overrides the configuration file's single bind (gunicorn reads this
    # variable after it): the port shared by all instances, and this one's own.
    environment["GUNICORN_CMD_ARGS"] = (
        f"--bind 127.0.0.1:{profile.service_port(service)} --bind 127.0.0.1:{own_port(profile, service)}"
    )
    program = Program(
        name=service,
        command=image_command(service),
        directory=ROOT / "services" / service,
        environment=environment,
        numprocs=replicas,
        numprocs_start=1,
        process_name=INSTANCE_NAME,
        stopwaitsecs=GRACEFUL_STOP_SECONDS,
    )
    return in_container(profile, program, service) if images_mode(profile) else program


def surge_program(profile: Profile, service: str) -> Program:
    """A rollout's extra process, SVC-surge: one more instance numbered SURGE, in no group of the service's."""
    return dataclasses.replace(
        service_program(profile, service, 1),
        name=instance_name(service, SURGE),
        numprocs_start=SURGE,
        process_name="%(program_name)s",
    )


def render_supervisor(profile: Profile, replicas: int, surge: str | None = None) -> Path:
    """supervisord's configuration: `replicas` instances of each service, and
    while `surge` names a service, the rollout's extra process of it."""
    programs = [service_program(profile, service, replicas) for service in SERVICES]
    if surge:
        programs.append(surge_program(profile, surge))
    if profile.own_redis_port:
        own_redis_dir(profile).mkdir(parents=True, exist_ok=True)
        programs.append(Program("redis", own_redis_command(profile, profile.own_redis_port), stopwaitsecs=10))
    programs.append(Program("maildev", maildev_command(profile), stopwaitsecs=5))
    gateway = Program("gateway", nginx_command(profile), stopwaitsecs=10)
    programs.append(in_container(profile, gateway, "gateway") if images_mode(profile) else gateway)
    return write_config(profile, programs)


def render_configs(profile: Profile, replicas: int) -> Path:
    render_gateway(profile, replicas)
    return render_supervisor(profile, replicas)


def running_replicas(profile: Profile) -> int | None:
    """How many instances of each service the running stack has (None: not
    running): as many as its supervisord was told to run."""
    if supervisord_pid(profile) is None:
        return None
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(config_path(profile))
    # A stack whose configuration an older version wrote (a program per instance) is replaced by `up`.
    return parser.getint(f"program:{SERVICES[0]}", "numprocs", fallback=profile.default_replicas)


def endpoints(profile: Profile, replicas: int) -> dict[str, str]:
    """What answers 200 once ready, by name: each service's shared port and
    each instance's own, maildev, the gateway."""
    found = {}
    for service in SERVICES:
        found[service] = f"http://127.0.0.1:{profile.service_port(service)}/readyz"
        for k in range(1, replicas + 1):
            found[instance_name(service, k)] = instance_ready_url(profile, service, k)
    found["maildev"] = f"http://127.0.0.1:{profile.inbox_port}/email"
    found["gateway"] = f"{profile.public_url}/"
    return found


def instance_ready_url(profile: Profile, service: str, instance: int) -> str:
    return f"http://127.0.0.1:{profile.instance_port(service, instance)}/readyz"
