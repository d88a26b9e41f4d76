"""JSON log lines on stdout, each carrying the id of the request it belongs to."""

import contextvars
import json
import logging
import os
import sys
import threading
import time
from datetime import UTC, datetime
from typing import TextIO

import orjson

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = request_id.get()
        if rid:
            line["request_id"] = rid
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        try:
            # A line per request: orjson is several times faster than the json module.
            return orjson.dumps(line, default=str).decode()
        except orjson.JSONEncodeError:  # text orjson refuses (a lone surrogate) still makes its line
            return json.dumps(line, ensure_ascii=False, default=str)


class BatchedStreamHandler(logging.Handler):
    """Writes log lines to a stream in batches: when `capacity` lines wait,
    at least every `interval` seconds, and at once for a warning or worse
    (and before a fork, so that a child never writes its parent's lines).

    A line per request written (and flushed) alone cost a small request a
    third of its CPU, most of it in whatever reads the other end of stdout
    (BENCHMARKS.md). The price: a process killed outright loses the info lines
    of its last `interval`; its warnings and errors are already out."""

    def __init__(self, stream: TextIO | None = None, capacity: int = 256, interval: float = 0.2):
        super().__init__()
        self.stream = stream if stream is not None else sys.stdout
        self.capacity = capacity
        self.interval = interval
        self._lines: list[str] = []
        self._flusher_pid: int | None = None  # the process whose thread flushes every interval
        os.register_at_fork(before=self.flush)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        with self.lock:  # type: ignore[union-attr]  # logging.Handler always makes its lock
            self._lines.append(line)
            urgent = len(self._lines) >= self.capacity or record.levelno >= logging.WARNING
            if self._flusher_pid != os.getpid():  # threads do not survive a fork: one per process
                self._flusher_pid = os.getpid()
                threading.Thread(target=self._flush_every_interval, name="log-flusher", daemon=True).start()
        if urgent:
            self.flush()

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            if not self._lines:
                return
            text = "\n".join(self._lines) + "\n"
            self._lines.clear()
            try:
                self.stream.write(text)
                self.stream.flush()
            except (OSError, ValueError):  # a closed stdout: nothing left to tell it
                pass

    def _flush_every_interval(self) -> None:
        pid = os.getpid()
        while self._flusher_pid == pid:
            time.sleep(self.interval)
            self.flush()


def logging_config(level: str = "INFO") -> dict[str, object]:
    """A dictConfig for our code and gunicorn's own loggers alike."""
    # Nothing reads a record's thread, process or multiprocessing names: not looking them up
    # spares every log line (one per request) the work.
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"stdout": {"()": BatchedStreamHandler, "formatter": "json", "stream": sys.stdout}},
        "root": {"level": level, "handlers": ["stdout"]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": ["stdout"], "propagate": False},
            "gunicorn.access": {"level": "WARNING", "handlers": ["stdout"], "propagate": False},
        },
    }
