"""The client of the cotos service's internal paths, against a real local HTTP server."""

import time

import pytest
from conftest import COTOS_TIMEOUT_SECONDS, Call

from cotoami_common.internal import ServiceUnavailable
from cotoami_testing.fixtures import INTERNAL_TOKEN
from cotonomas.cotos_client import CotosClient

OWNER = {"id": "00000000-0000-4000-8000-000000000001", "display_name": "ann", "avatar_url": "https://a.test/ann"}


def test_put_and_delete_carry_the_body_and_the_service_credential(cotos_client, cotos_double):
    cotos_client.put_cotonoma_coto("key-00001", "Ideas", "parent-01", OWNER)
    assert cotos_double.cotos == {"key-00001": {"name": "Ideas", "parent_key": "parent-01", "owner": OWNER}}
    cotos_client.delete_cotonoma_coto("key-00001")
    cotos_client.delete_cotonoma_coto("key-00001")  # done as well when absent
    assert cotos_double.cotos == {}
    assert [(c.method, c.key, c.authorization) for c in cotos_double.calls] == [
        ("PUT", "key-00001", f"Bearer {INTERNAL_TOKEN}"),
        ("DELETE", "key-00001", f"Bearer {INTERNAL_TOKEN}"),
        ("DELETE", "key-00001", f"Bearer {INTERNAL_TOKEN}"),
    ]


def test_a_top_level_cotonoma_has_a_null_parent(cotos_client, cotos_double):
    cotos_client.put_cotonoma_coto("key-00001", "Ideas", None, OWNER)
    assert cotos_double.calls == [
        Call("PUT", "key-00001", {"name": "Ideas", "parent_key": None, "owner": OWNER}, f"Bearer {INTERNAL_TOKEN}")
    ]


def test_an_error_answer_may_have_done_something(cotos_client, cotos_double):
    cotos_double.mode = "fail"
    with pytest.raises(ServiceUnavailable, match="500") as raised:
        cotos_client.put_cotonoma_coto("key-00001", "Ideas", None, OWNER)
    assert raised.value.maybe_done


def test_a_refused_credential_is_a_failure(cotos_double):
    with pytest.raises(ServiceUnavailable, match="401"):
        CotosClient(cotos_double.url, "wrong", COTOS_TIMEOUT_SECONDS).delete_cotonoma_coto("key-00001")


def test_a_closed_port_certainly_did_nothing(cotos_client, cotos_double):
    cotos_double.stop()
    with pytest.raises(ServiceUnavailable) as raised:
        cotos_client.put_cotonoma_coto("key-00001", "Ideas", None, OWNER)
    assert not raised.value.maybe_done


def test_a_slow_answer_times_out_and_may_have_done_something(cotos_client, cotos_double):
    cotos_double.mode = "slow"
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable) as raised:
        cotos_client.put_cotonoma_coto("key-00001", "Ideas", None, OWNER)
    assert time.monotonic() - started < COTOS_TIMEOUT_SECONDS + 0.5
    assert raised.value.maybe_done and "key-00001" in cotos_double.cotos
