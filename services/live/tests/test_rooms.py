"""The live rooms through a real uvicorn, with real Redis and a cotonomas double."""

import json
import time

import pytest
import redis
from conftest import HOME, KEY, ROOM, coto

from cotoami_testing.fixtures import new_amishi


def append(client: redis.Redis, stream: str, event: str, data: object) -> str:
    return str(client.xadd(stream, {"event": event, "data": json.dumps(data), "origin": "test:1"}))


def home_stream(person) -> str:
    return f"events:amishi:{person.amishi.id}"


ROOM_STREAM = f"events:cotonoma:{KEY}"


def test_events_are_streamed_in_order_with_their_ids(live, person, streams, redis):
    ann = person("ann@example.com")
    stream = streams(live.get(HOME, ann.token))
    assert stream.response.headers["Cache-Control"] == "no-store"
    first, second = coto(content="one"), coto(content="two")
    ids = [
        append(redis, home_stream(ann), "coto", first),
        append(redis, home_stream(ann), "coto", second),
        append(redis, home_stream(ann), "coto-updated", {**first, "content": "one!"}),
        append(redis, home_stream(ann), "coto-deleted", {"id": second["id"]}),
    ]
    events = stream.events(4)
    assert [(e.event, e.id) for e in events] == list(
        zip(["coto", "coto", "coto-updated", "coto-deleted"], ids, strict=True)
    )
    assert [e.json for e in events] == [first, second, {**first, "content": "one!"}, {"id": second["id"]}]


def test_a_stream_joined_while_the_tail_waits_is_read_at_once(live, person, streams, redis, deps):
    # Far longer than the test waits: only re-reading at once with the new stream delivers in
    # time (the XREAD in flight would otherwise end only at the client's 5 s socket timeout).
    deps.hub.block_ms = 60_000
    ann, bob = person("ann@example.com"), person("bob@example.com")
    streams(live.get(HOME, ann.token))
    time.sleep(0.2)  # the tail is blocked on ann's stream alone
    bob_stream = streams(live.get(HOME, bob.token))
    posted = append(redis, home_stream(bob), "coto", coto())
    started = time.monotonic()
    assert [e.id for e in bob_stream.events(1)] == [posted]
    assert time.monotonic() - started < 3


def test_another_persons_home_is_not_sent(live, person, streams, redis):
    ann, bob = person("ann@example.com"), person("bob@example.com")
    stream = streams(live.get(HOME, ann.token))
    append(redis, home_stream(bob), "coto", coto(content="bob's"))
    mine = append(redis, home_stream(ann), "coto", coto(content="ann's"))
    assert [e.id for e in stream.events(1)] == [mine]


def test_last_event_id_replays_exactly_the_later_events_then_goes_on_live(live, person, streams, redis):
    ann = person("ann@example.com")
    ids = [append(redis, home_stream(ann), "coto", coto(content=str(n))) for n in range(4)]
    stream = streams(live.get(HOME, ann.token, {"Last-Event-ID": ids[1]}))
    later = append(redis, home_stream(ann), "coto", coto(content="later"))
    assert [e.id for e in stream.events(3)] == [ids[2], ids[3], later]
    # Nothing twice: the next one is the next appended.
    last = append(redis, home_stream(ann), "coto", coto(content="last"))
    assert [e.id for e in stream.events(1)] == [last]


def test_a_cotonomas_events_reach_its_readers(live, person, streams, redis, cotonomas):
    ann = person("ann@example.com")
    cotonomas.members.add((KEY, ann.amishi.id))
    stream = streams(live.get(ROOM, ann.token))
    renamed = {"key": KEY, "name": "Renamed"}
    ids = [append(redis, ROOM_STREAM, "coto", coto()), append(redis, ROOM_STREAM, "cotonoma-updated", renamed)]
    events = stream.events(2)
    assert [(e.event, e.id) for e in events] == [("coto", ids[0]), ("cotonoma-updated", ids[1])]
    assert events[1].json == renamed


def test_graphs_connection_and_pin_events_reach_a_cotonomas_readers(live, person, streams, redis, cotonomas):
    ann = person("ann@example.com")
    cotonomas.members.add((KEY, ann.amishi.id))
    stream = streams(live.get(ROOM, ann.token))
    sent = [
        ("connection", {"id": "c1", "start": "a", "end": "b"}),
        ("connection-updated", {"id": "c1", "linking_phrase": "so"}),
        ("connection-deleted", {"id": "c1"}),
        ("pin", {"coto_id": "a", "cotonoma_key": KEY}),
        ("pin-deleted", {"coto_id": "a", "cotonoma_key": KEY}),
    ]
    ids = [append(redis, ROOM_STREAM, name, data) for name, data in sent]
    events = stream.events(len(sent))
    assert [(e.event, e.id, e.json) for e in events] == [
        (name, entry_id, data) for (name, data), entry_id in zip(sent, ids, strict=True)
    ]


@pytest.mark.parametrize("event", ["member-added", "member-removed", "cotonoma-deleted", "something-new"])
def test_member_events_and_unknown_ones_are_never_sent_to_browsers(live, person, streams, redis, cotonomas, event):
    ann = person("ann@example.com")
    cotonomas.members.add((KEY, ann.amishi.id))
    stream = streams(live.get(ROOM, ann.token))
    append(redis, ROOM_STREAM, event, {"cotonoma_key": KEY, "email": "carol@example.com"})
    posted = append(redis, ROOM_STREAM, "coto", coto())
    assert [e.id for e in stream.events(1)] == [posted]


@pytest.mark.parametrize(
    "case",
    ["trimmed past it", "the stream is missing", "younger than the stream's end (Redis lost it)"],
)
def test_reset_when_the_last_event_id_is_older_than_the_stream_holds(live, person, streams, redis, case):
    ann = person("ann@example.com")
    ids = [append(redis, home_stream(ann), "coto", coto()) for _ in range(3)]
    if case == "trimmed past it":
        redis.xtrim(home_stream(ann), maxlen=1, approximate=False)
        given, head = ids[0], ids[2]
    elif case == "the stream is missing":
        redis.delete(home_stream(ann))
        given, head = ids[0], None
    else:
        ms, _ = ids[2].split("-")
        given, head = f"{int(ms) + 60_000}-0", ids[2]
    stream = streams(live.get(HOME, ann.token, {"Last-Event-ID": given}))
    reset = stream.events(1)[0]
    assert (reset.event, reset.id) == ("reset", head)
    later = append(redis, home_stream(ann), "coto", coto())
    assert [e.id for e in stream.events(1)] == [later]


@pytest.mark.parametrize("given", ["abc", "1-2-3", "-1-0", "12", "1-x", "1 -2", "\uff11-0"])
def test_a_malformed_last_event_id_is_400(live, person, given):
    ann = person("ann@example.com")
    answer = live.get(HOME, ann.token, {"Last-Event-ID": given.encode().decode("latin-1")})
    assert answer.status_code == 400 and answer.json()["title"] == "Invalid Last-Event-ID"


@pytest.mark.parametrize(
    "path,member,status,title",
    [
        (HOME, None, 401, "Sign in"),
        (ROOM, None, 401, "Sign in"),
    ],
)
def test_anonymous_is_401(live, path, member, status, title):
    answer = live.get(path)
    assert answer.status_code == status and answer.json()["title"] == title
    assert answer.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "key",
    ["unknown-or-private-01", "short", "not%20a%20key%20at%20all"],
)
def test_a_cotonoma_one_may_not_read_is_404_as_the_timeline(live, person, cotonomas, key):
    ann = person("ann@example.com")
    answer = live.get(f"/api/live/cotonomas/{key}", ann.token)
    assert answer.status_code == 404 and answer.json()["title"] == "No such cotonoma"


def test_an_expired_session_is_401_session_expired(live, token_keys):
    token = token_keys.access_token(new_amishi(), now=time.time() - 3600)
    answer = live.get(HOME, token)
    assert answer.status_code == 401 and answer.json()["title"] == "Session expired"


def test_cotonomas_not_answering_is_503(live, person, cotonomas):
    cotonomas.shutdown()
    cotonomas.server_close()
    answer = live.get(ROOM, person("ann@example.com").token)
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "5"


def test_a_removed_member_is_revoked_and_the_stream_ends(live, person, streams, redis, cotonomas):
    ann = person("ann@example.com")
    cotonomas.members.add((KEY, ann.amishi.id))
    stream = streams(live.get(ROOM, ann.token))
    cotonomas.members.discard((KEY, ann.amishi.id))
    append(redis, ROOM_STREAM, "member-removed", {"cotonoma_key": KEY, "email": ann.amishi.email})
    revoked = stream.until(lambda e: e.event == "revoked", seconds=5)
    assert revoked.id is None
    assert stream.next() is None and stream.ended


def test_the_streams_of_a_deleted_cotonoma_are_revoked_and_end(live, person, streams, redis, cotonomas):
    ann = person("ann@example.com")
    cotonomas.members.add((KEY, ann.amishi.id))
    stream = streams(live.get(ROOM, ann.token))
    cotonomas.members.clear()  # as cotonomas answers for a cotonoma deleted
    append(redis, ROOM_STREAM, "cotonoma-deleted", {"key": KEY})
    stream.until(lambda e: e.event == "revoked", seconds=5)
    assert stream.next() is None and stream.ended


@pytest.mark.parametrize("settings", [{"LIVE_ACCESS_TTL_MS": "500"}])
def test_access_is_decided_again_periodically(live, person, streams, cotonomas, settings):
    ann = person("ann@example.com")
    cotonomas.members.add((KEY, ann.amishi.id))
    stream = streams(live.get(ROOM, ann.token))
    cotonomas.members.clear()
    stream.until(lambda e: e.event == "revoked", seconds=5)


def presence_of(event) -> list[str]:
    return [amishi["display_name"] for amishi in event.json["amishis"]]


def test_presence_on_connect_and_on_each_join_and_leave(live, person, streams, cotonomas):
    ann, bob = person("ann@example.com"), person("bob@example.com")
    cotonomas.members |= {(KEY, ann.amishi.id), (KEY, bob.amishi.id)}
    ann_stream = streams(live.get(ROOM, ann.token))
    first = ann_stream.until(lambda e: e.event == "presence")
    assert first.id is None and first.json == {"amishis": [ann.amishi.public()]}
    bob_stream = streams(live.get(ROOM, bob.token))
    assert presence_of(bob_stream.until(lambda e: e.event == "presence")) == ["ann", "bob"]
    assert presence_of(ann_stream.until(lambda e: e.event == "presence", seconds=5)) == ["ann", "bob"]
    bob_stream.close()
    assert presence_of(ann_stream.until(lambda e: e.event == "presence", seconds=5)) == ["ann"]


def test_a_listener_whose_refresh_stops_leaves_presence(live, person, streams, cotonomas, redis):
    ann = person("ann@example.com")
    cotonomas.members.add((KEY, ann.amishi.id))
    # Another process's listener, as that process leaves it when killed: never refreshed again.
    ghost = {"id": "00000000-0000-4000-8000-000000000000", "display_name": "ghost", "avatar_url": "https://g.test/"}
    redis.zadd(f"live:presence:{KEY}", {f"{ghost['id']}:deadbeef": time.time() + 2})
    redis.set(f"live:amishi:{ghost['id']}", json.dumps(ghost), ex=10)
    stream = streams(live.get(ROOM, ann.token))
    assert presence_of(stream.until(lambda e: e.event == "presence")) == ["ann", "ghost"]
    assert presence_of(stream.until(lambda e: e.event == "presence", seconds=6)) == ["ann"]


@pytest.mark.parametrize("settings", [{"LIVE_KEEPALIVE_SECONDS": "1"}])
def test_a_comment_keeps_a_quiet_stream_alive(live, person, streams, settings):
    stream = streams(live.get(HOME, person("ann@example.com").token))
    comment = stream.until(lambda e: bool(e.comments), seconds=5)
    assert comment.event is None and comment.id is None


@pytest.mark.parametrize("settings", [{"LIVE_LISTENER_QUEUE_SIZE": "4"}])
def test_a_listener_too_slow_is_ended_to_resume_later(live, person, streams, redis, settings):
    ann = person("ann@example.com")
    stream = streams(live.get(HOME, ann.token))
    # The browser reads nothing while far more than the socket buffers hold is appended.
    big = coto(content="x" * 100_000)
    ids = [append(redis, home_stream(ann), "coto", big) for _ in range(300)]
    received = []
    while (event := stream.next()) is not None:
        if event.event == "coto":
            received.append(event.id)
        last = event
    assert last.retry == 1000
    assert 0 < len(received) < len(ids) and received == ids[: len(received)]


def test_on_shutdown_every_stream_ends_with_retry(live, person, streams, deps):
    stream = streams(live.get(HOME, person("ann@example.com").token))
    live.call_in_loop(deps.hub.close_streams)
    event = stream.until(lambda e: e.retry is not None, seconds=5)
    assert event.retry == 1000
    assert stream.next() is None
