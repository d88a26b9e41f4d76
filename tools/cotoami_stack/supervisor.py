"""supervisord: its configuration, and talking to it.

What supervisord does itself, so the configuration only says it: one program
section runs all of a service's instances (`numprocs`, each named
`%(program_name)s-%(process_num)d`, in the group the program's name makes),
and each instance's own port and log file are filled in from its number; it
restarts a process that dies, and `supervisorctl update` applies a changed
configuration, touching only the programs whose sections changed."""

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from cotoami_stack.profiles import ROOT, VENV_BIN, Profile

INSTANCE_NAME = "%(program_name)s-%(process_num)d"


def literal(value: str) -> str:
    """A value supervisord must take as it is: it expands %(...)s in commands and environments."""
    return value.replace("%", "%%")


@dataclass(frozen=True)
class Program:
    """One [program:NAME] section: `numprocs` processes numbered from
    `numprocs_start`, named `process_name`. The command is taken literally;
    environment values are supervisord expressions (pass others through literal())."""

    name: str
    command: list[str]
    stopwaitsecs: int
    directory: Path = ROOT
    environment: dict[str, str] = field(default_factory=dict)
    numprocs: int = 1
    numprocs_start: int = 0
    process_name: str = "%(program_name)s"

    def section(self) -> list[str]:
        # One variable a line (continuation lines), for the person reading the file.
        environment = ",".join(f'\n    {key}="{value}"' for key, value in self.environment.items())
        return [
            f"[program:{self.name}]",
            "command=" + " ".join(_quote(arg) for arg in self.command),
            f"process_name={self.process_name}",
            f"numprocs={self.numprocs}",
            f"numprocs_start={self.numprocs_start}",
            f"directory={literal(str(self.directory))}",
            *([f"environment={environment}"] if environment else []),
            "autorestart=true",
            "startretries=1000",
            "stopasgroup=true",
            f"stopwaitsecs={self.stopwaitsecs}",
            "redirect_stderr=true",
            f"stdout_logfile=%(here)s/logs/{self.process_name}.log",
            "stdout_logfile_maxbytes=10MB",
            "stdout_logfile_backups=2",
            "",
        ]


def _quote(arg: str) -> str:
    # supervisord splits commands with shlex after expanding them.
    return "'" + literal(arg).replace("'", "'\\''") + "'"


def config_path(profile: Profile) -> Path:
    return profile.run_dir / "supervisord.conf"


def write_config(profile: Profile, programs: list[Program]) -> Path:
    """supervisord.conf in the profile's run directory (%(here)s), where its
    socket, pid file and logs live too."""
    lines = [
        "[supervisord]",
        "logfile=%(here)s/logs/supervisord.log",
        "pidfile=%(here)s/supervisord.pid",
        f"directory={literal(str(ROOT))}",
        "",
        "[unix_http_server]",
        "file=%(here)s/supervisor.sock",
        "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        "",
        "[supervisorctl]",
        "serverurl=unix://%(here)s/supervisor.sock",
        "",
    ]
    for program in programs:
        lines += program.section()
    profile.logs_dir.mkdir(parents=True, exist_ok=True)
    conf = config_path(profile)
    conf.write_text("\n".join(lines))
    return conf


def start_supervisord(profile: Profile) -> None:
    subprocess.run([str(VENV_BIN / "supervisord"), "-c", str(config_path(profile))], check=True)


def supervisorctl(profile: Profile, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VENV_BIN / "supervisorctl"), "-c", str(config_path(profile)), *args],
        check=check,
        capture_output=True,
        text=True,
    )


def supervisord_pid(profile: Profile) -> int | None:
    """The running supervisord's pid, None if it is not running."""
    try:
        pid = int((profile.run_dir / "supervisord.pid").read_text())
        os.kill(pid, 0)
        return pid
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None
