import json
import logging
import os
import time
from typing import Any

from cotoami_common.logs import BatchedStreamHandler, JsonFormatter, request_id


def logger_writing_to(stream, **options) -> tuple[logging.Logger, BatchedStreamHandler]:
    handler = BatchedStreamHandler(stream, **options)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(f"test-logs-{id(handler)}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    return logger, handler


def lines_of(path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_lines_are_json_with_the_request_id_and_the_fields_given(tmp_path):
    path = tmp_path / "log"
    with path.open("a") as stream:
        logger, handler = logger_writing_to(stream)
        token = request_id.set("trace-me")
        logger.info("GET /x 200", extra={"fields": {"status": 200, "path": "/x"}})
        request_id.reset(token)
        handler.flush()
    [line] = lines_of(path)
    assert line["msg"] == "GET /x 200" and line["request_id"] == "trace-me" and line["status"] == 200
    assert line["level"] == "info" and line["ts"].endswith("Z")


def test_info_lines_wait_for_the_interval_and_a_warning_takes_them_out_at_once_in_order(tmp_path):
    path = tmp_path / "log"
    with path.open("a") as stream:
        logger, _ = logger_writing_to(stream, interval=30)
        logger.info("first")
        logger.info("second")
        assert path.read_text() == "", "info lines wait"
        logger.warning("third")
        assert [line["msg"] for line in lines_of(path)] == ["first", "second", "third"]


def test_waiting_lines_are_written_within_the_interval(tmp_path):
    path = tmp_path / "log"
    with path.open("a") as stream:
        logger, _ = logger_writing_to(stream, interval=0.05)
        logger.info("soon")
        deadline = time.monotonic() + 5
        while not path.read_text() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [line["msg"] for line in lines_of(path)] == ["soon"]


def test_a_full_batch_is_written_at_once(tmp_path):
    path = tmp_path / "log"
    with path.open("a") as stream:
        logger, _ = logger_writing_to(stream, capacity=3, interval=30)
        for n in range(7):
            logger.info(str(n))
        assert [line["msg"] for line in lines_of(path)] == ["0", "1", "2", "3", "4", "5"]


def test_a_forked_child_never_writes_its_parents_waiting_lines(tmp_path):
    path = tmp_path / "log"
    with path.open("a") as stream:
        logger, handler = logger_writing_to(stream, interval=30)
        logger.info("parent's, before the fork")
        pid = os.fork()
        if pid == 0:  # the child
            logger.info("child's")
            handler.flush()
            os._exit(0)
        os.waitpid(pid, 0)
        handler.flush()
    messages = [line["msg"] for line in lines_of(path)]
    assert sorted(messages) == ["child's", "parent's, before the fork"]
