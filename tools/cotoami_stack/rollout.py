"""`rollout SERVICE`: replace one service's processes with new ones (new code)
while the gateway keeps serving, as `make deploy-SVC` does in Kubernetes."""

import time

from cotoami_stack import StackError
from cotoami_stack.containers import build_images, images_mode
from cotoami_stack.gateway import ROUTED, reload_gateway, render_gateway, start_gateway_reload
from cotoami_stack.probes import wait_ready
from cotoami_stack.processes import instance_ready_url, render_supervisor, running_replicas
from cotoami_stack.profiles import ROOT, SURGE, Profile, instance_name
from cotoami_stack.services import migrate
from cotoami_stack.supervisor import supervisorctl

STREAMING = ("live",)  # services whose answers are open-ended event streams


def rollout(profile: Profile, service: str) -> None:
    """Replace every process of one service with a new one (new code), one
    instance at a time, with no request lost: Kubernetes' RollingUpdate with
    maxSurge 1 and maxUnavailable 0.

    1. Migrate the service's database (as `make deploy-SVC` runs its Job).
    2. Start an extra process, SVC-surge, with the new code; wait for its /readyz.
    3. For each instance: the gateway puts the extra process in its place and
       reloads; once no gateway worker with the old configuration is left, no
       request can reach the instance (it is what Kubernetes' endpoint removal
       plus the preStop pause achieve). Then restart it (SIGTERM: gunicorn
       finishes what it is doing within GRACEFUL_TIMEOUT; a new process with
       the new code starts) and wait for its /readyz.
    4. The gateway takes the instances back; the extra process is stopped.

    live (event streams, GETs only) is restarted before the old gateway workers
    are waited for: they hold its streams open until the instance ends them,
    which its graceful stop does with `retry:` (the browser comes back through
    a new worker, to another instance, with Last-Event-ID); a GET an old worker
    still sends it meanwhile is refused and retried on another instance.

    Why not gunicorn's own upgrade (USR2, then WINCH and QUIT to the old
    master)? The new master is the old one's child: once the old one exits,
    supervisord sees its program end and starts yet another gunicorn, while the
    orphaned new one keeps running unsupervised. And why not only SO_REUSEPORT
    on the same port (start the new process beside the old one, then SIGTERM
    the old)? Linux keeps handing new connections to a draining process's
    listening socket until it closes, then resets those still queued: a POST
    on one fails, and nginx must not retry a POST. So the gateway is told
    first, and the shared port serves only service-to-service calls (which
    reach the extra process or another instance while one restarts)."""
    replicas = running_replicas(profile)
    if replicas is None:
        raise StackError("the stack is not running: run 'make up'")
    started = time.monotonic()
    if images_mode(profile):  # the new code in a new image, which the new processes run
        build_images((service,))
    migrate(profile, (service,))
    surge = instance_name(service, SURGE)

    render_supervisor(profile, replicas, surge=service)
    supervisorctl(profile, "update")  # adds and starts the extra process, touching nothing else
    wait_ready({surge: instance_ready_url(profile, service, SURGE)}, profile.logs_dir)
    for k in range(1, replicas + 1):
        name = instance_name(service, k)
        if service in ROUTED:
            render_gateway(profile, replicas, standing_in={service: k})
            old_workers_gone = start_gateway_reload(profile)
            if service not in STREAMING:
                old_workers_gone()
        restarted = supervisorctl(profile, "restart", f"{service}:{name}", check=False)
        if restarted.returncode != 0 or "ERROR" in restarted.stdout:
            raise StackError(
                f"{name} did not restart ({restarted.stdout.strip()}); {surge} stands in for it: "
                f"see {profile.logs_dir.relative_to(ROOT)}/{name}.log, then 'make up'"
            )
        if service in STREAMING:
            old_workers_gone()
        wait_ready({name: instance_ready_url(profile, service, k)}, profile.logs_dir)
        print(f"  {name} replaced")
    if service in STREAMING:
        render_gateway(profile, replicas)
        old_workers_gone = start_gateway_reload(profile)
        render_supervisor(profile, replicas)
        supervisorctl(profile, "update")  # stops the extra process gracefully (retry:) and removes it
        old_workers_gone()
    else:
        if service in ROUTED:
            render_gateway(profile, replicas)
            reload_gateway(profile)
        render_supervisor(profile, replicas)
        supervisorctl(profile, "update")  # stops (gracefully) and removes the extra process
    print(f"Rolled out {service} ({profile.name}, {replicas} instance(s)) in {time.monotonic() - started:.0f}s.")
