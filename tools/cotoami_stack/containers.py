"""`up --images` (`make up IMAGES=1`): each service and the gateway run from its image
(`make images`) with podman, rather than from the venv and the host's nginx. Everything
else is shared with the venv stack: supervisord runs, heals and rolls out the programs,
with the same ports, environment and gateway configuration. The whole difference is here:
in_container() turns a program into a `podman run` of its image, with

- the host's network (the ports are the stack's, as in the venv), a read-only root (a
  tmpfs on /tmp, as the manifests' emptyDir), every capability dropped, no new privileges;
- the image's own user and command (CMD), never ours;
- the program's environment, but for the stack's secret files (NAME_FILE), which become
  podman secrets mounted read-only at /etc/cotoami/keys/, owned by the image's user, as
  Kubernetes mounts a Secret;
- a name per instance, cotoami-PROFILE-SVC-N (supervisord's SUPERVISOR_PROCESS_NAME),
  removed when it stops (`--rm`; `--replace` removes one a killed `podman run` left), and
  any left removed by `down`.

The gateway's image renders /etc/nginx/templates/cotoami.conf.template at start
(gateway/nginx/start.sh): the stack's rendered cotoami.conf (its upstreams, one server
per instance) is mounted there, so a reload renders and tests it again in the container."""

import hashlib
import shutil
import subprocess
from pathlib import Path

from cotoami_stack import StackError
from cotoami_stack.profiles import ROOT, Profile
from cotoami_stack.supervisor import Program

REGISTRY = "cotoami"  # the Makefile's REGISTRY and VERSION: what `make images` tags
TAG = "0.1.0"
SECRETS_MOUNT = "/etc/cotoami/keys"  # where the manifests mount the keys Secret
GATEWAY_WEB_ROOT = "/usr/share/nginx/html"  # the gateway image's web client (gateway/Dockerfile)
GATEWAY_TEMPLATE = "/etc/nginx/templates/cotoami.conf.template"
GATEWAY_NOFILE = 8192  # gateway/nginx/nginx.conf's worker_rlimit_nofile
GRACEFUL_STOP_SECONDS = 25  # `podman stop`'s wait before SIGKILL, as supervisord's for a service


def image_name(image: str) -> str:
    return f"{REGISTRY}/{image}:{TAG}"


def images_mode(profile: Profile) -> bool:
    """Whether the stack runs from images: `up --images` says so, a plain `up` unsays it."""
    return (profile.run_dir / "images").exists()


def set_images_mode(profile: Profile, on: bool) -> None:
    marker = profile.run_dir / "images"
    if on:
        profile.run_dir.mkdir(parents=True, exist_ok=True)
        marker.touch()
    else:
        marker.unlink(missing_ok=True)


def podman(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=120)
    except FileNotFoundError:
        raise StackError("podman is missing: run 'tools/install.sh --images'") from None
    if check and done.returncode != 0:
        raise StackError(f"podman {' '.join(args)} failed: {done.stderr.strip()}")
    return done


def build_images(images: tuple[str, ...]) -> None:
    """`make images` for these (their layers cached: only what changed is built again)."""
    if subprocess.run([str(ROOT / "tools" / "images.sh"), *images]).returncode != 0:
        raise StackError("building the images failed (see above)")


def check_images(images: tuple[str, ...]) -> None:
    missing = [
        image_name(image) for image in images if podman("image", "exists", image_name(image), check=False).returncode
    ]
    if missing:
        raise StackError(f"no image {', '.join(missing)}: run 'make images'")


def container_name(profile: Profile, process: str) -> str:
    return f"cotoami-{profile.name}-{process}"


def image_user(image: str) -> tuple[str, str]:
    """The image's USER as uid and gid (a gid not given is the uid's)."""
    user = podman("image", "inspect", "--format", "{{.Config.User}}", image_name(image)).stdout.strip()
    if not user:
        raise StackError(f"{image_name(image)} runs as root: its Dockerfile must set USER")
    uid, _, gid = user.partition(":")
    return uid, gid or uid


def secret_prefix(profile: Profile) -> str:
    # Two dashes: profile e2e's never matches e2e-1's.
    return f"cotoami-{profile.name}--"


def podman_secret(profile: Profile, path: Path) -> str:
    """The file as a podman secret named after the stack, the file and its content (a new
    content is a new secret, hence a new command: supervisord restarts what uses it)."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    name = f"{secret_prefix(profile)}{path.name}-{digest}"
    if podman("secret", "inspect", name, check=False).returncode != 0:
        podman("secret", "create", name, str(path))
    return name


def in_container(profile: Profile, program: Program, image: str) -> Program:
    """The program run from its image: `podman run` of the image's own command."""
    uid, gid = image_user(image)
    environment = dict(program.environment)
    options = [
        "--rm",
        "--replace",
        "--network=host",
        "--read-only",
        "--cap-drop=all",
        "--security-opt=no-new-privileges",
        f"--label=cotoami.stack={profile.name}",
        f"--stop-timeout={GRACEFUL_STOP_SECONDS}",
    ]
    for key, value in program.environment.items():
        path = Path(value)
        if key.endswith("_FILE") and path.parent == profile.secrets_dir:
            target = f"{SECRETS_MOUNT}/{path.name}"
            secret = podman_secret(profile, path)
            options.append(f"--secret={secret},type=mount,target={target},uid={uid},gid={gid},mode=0400")
            environment[key] = target
    if image == "gateway":
        # start.sh writes the rendered configuration into conf.d (an emptyDir in the manifest),
        # a tmpfs the image's user owns (U: podman takes no mode for it here).
        options += [
            f"--volume={profile.run_dir / 'nginx' / 'cotoami.conf'}:{GATEWAY_TEMPLATE}:ro",
            "--tmpfs=/etc/nginx/conf.d:rw,size=1m,U",
            # A --ulimit replaces containers.conf's default_ulimits: nproc within reach again.
            f"--ulimit=nofile={GATEWAY_NOFILE}:{GATEWAY_NOFILE}",
            "--ulimit=nproc=1024:1024",
        ]
    # Values stay in supervisord's environment of `podman run`: `--env NAME` passes each on.
    options += [f"--env={key}" for key in environment]
    # The name from supervisord's process name: one per instance (cotos-1, cotos-surge, gateway).
    run = f'exec podman run --name "cotoami-{profile.name}-$SUPERVISOR_PROCESS_NAME" "$@"'
    return Program(
        name=program.name,
        command=["/bin/sh", "-c", run, "podman-run", *options, image_name(image)],
        stopwaitsecs=program.stopwaitsecs,
        directory=program.directory,
        environment=environment,
        numprocs=program.numprocs,
        numprocs_start=program.numprocs_start,
        process_name=program.process_name,
    )


def gateway_master(profile: Profile) -> int:
    """The gateway container's nginx master, as the host sees it (0: not running)."""
    found = podman("inspect", "--format", "{{.State.Pid}}", container_name(profile, "gateway"), check=False)
    return int(found.stdout.strip()) if found.returncode == 0 and found.stdout.strip().isdigit() else 0


def gateway_test_command(profile: Profile) -> list[str]:
    """nginx -t in the gateway's container, after its start.sh renders the stack's new configuration."""
    return ["podman", "exec", container_name(profile, "gateway"), "cotoami-gateway", "-t", "-q"]


def remove_containers(profile: Profile) -> None:
    """Containers and secrets of the stack left behind (a `podman run` killed before its container ended)."""
    if not shutil.which("podman"):  # nothing was ever run from images
        return
    listed = podman("ps", "-a", "-q", f"--filter=label=cotoami.stack={profile.name}", check=False)
    if ids := listed.stdout.split():
        podman("rm", "-f", "-t", "5", *ids, check=False)
    secrets = podman("secret", "ls", "--format", "{{.Name}}", check=False).stdout.split()
    if mine := [name for name in secrets if name.startswith(secret_prefix(profile))]:
        podman("secret", "rm", *mine, check=False)
