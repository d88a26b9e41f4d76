"""Storage of cotos. No Falcon here."""

import hashlib
import json
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypedDict, cast

import orjson
import psycopg
import psycopg_pool
import redis

from cotoami_common.backing import array_literal, autocommitting
from cotoami_common.outbox import recording_events, write_event
from cotoami_common.tokens import Amishi

# Deletes or updates a coto only if it is still there, atomically with the index.
_UPDATE = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""

# Posts to a pad atomically with its checks. KEYS: timeline, cotos, the pad's
# "issued" mark, the idempotency key's record (or the empty string when the
# request has none). ARGV: coto id, coto JSON, pad TTL, most cotos a pad holds,
# "id hash" to record, its TTL, "new" to issue the pad with this post (else it
# must have been issued before). Returns "unknown" for a pad never issued (or
# expired), the recorded "id hash" of an earlier request with the same key,
# "full" when the pad holds its most, else "posted".
_POST_TO_PAD = """
if ARGV[7] == 'new' then
  redis.call('SET', KEYS[3], '1', 'EX', ARGV[3])
elseif redis.call('EXPIRE', KEYS[3], ARGV[3]) == 0 then
  return 'unknown'
end
if KEYS[4] ~= '' then
  local earlier = redis.call('GET', KEYS[4])
  if earlier then return earlier end
end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 'full' end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[1], 0, ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[3])
if KEYS[4] ~= '' then redis.call('SET', KEYS[4], ARGV[5], 'EX', ARGV[6]) end
return 'posted'
"""

# Renews a pad that was issued: KEYS: its "issued" mark, timeline, cotos;
# ARGV: the TTL. Returns 0 (and touches nothing) for a pad never issued.
_RENEW_PAD = """
if redis.call('EXPIRE', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('EXPIRE', KEYS[2], ARGV[1])
redis.call('EXPIRE', KEYS[3], ARGV[1])
return 1
"""

# Renews a pad that was issued and reads a page of it, in one round trip.
# KEYS: its "issued" mark, timeline, cotos. ARGV: the TTL, where the page
# starts ("+" for the newest, "(ID" for those older than ID), the page's size.
# Returns false (and touches nothing) for a pad never issued, else the next
# page's cursor ("" on the last page) followed by the page's cotos, as JSON.
_READ_PAD = """
if redis.call('EXPIRE', KEYS[1], ARGV[1]) == 0 then return false end
redis.call('EXPIRE', KEYS[2], ARGV[1])
redis.call('EXPIRE', KEYS[3], ARGV[1])
local size = tonumber(ARGV[3])
local ids = redis.call('ZRANGE', KEYS[2], ARGV[2], '-', 'BYLEX', 'REV', 'LIMIT', 0, size + 1)
local next = ''
if #ids > size then
  next = ids[size]
  table.remove(ids)
end
if #ids == 0 then return {next} end
local page = redis.call('HMGET', KEYS[3], unpack(ids))
table.insert(page, 1, next)
return page
"""

# How long a retried request with the same Idempotency-Key finds its coto
# instead of making another (clients retry within minutes, not days).
IDEMPOTENCY_TTL_SECONDS = 86400


def request_fingerprint(content: str, cotonoma_key: str | None) -> str:
    """What a retry must repeat to count as the same request."""
    return hashlib.sha256(json.dumps([content, cotonoma_key], ensure_ascii=False).encode()).hexdigest()


class Author(TypedDict):
    """An amishi as a coto shows them (and as other services describe them)."""

    id: str
    display_name: str
    avatar_url: str


class PostedIn(TypedDict):
    """The cotonoma a coto was posted in: its key, and its current name (None if
    that cotonoma has no coto)."""

    key: str
    name: str | None


class Coto(TypedDict):
    """A signed-in amishi's coto, as the contract shows it."""

    id: str
    content: str
    amishi: Author
    posted_in: PostedIn | None
    as_cotonoma: bool
    cotonoma_key: str | None
    created_at: str
    updated_at: str


class AnonymousCoto(TypedDict):
    """A coto of an anonymous memo pad: nobody's, posted nowhere, never a cotonoma."""

    id: str
    content: str
    amishi: None
    posted_in: None
    as_cotonoma: bool
    cotonoma_key: None
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class Posted:
    """A POST's coto: new, or the one an earlier request with the same key made
    (None if deleted since)."""

    coto: Coto | AnonymousCoto | None
    replayed: bool


class IdempotencyKeyReused(Exception):
    """The Idempotency-Key was used before, for a different request."""


class PadFull(Exception):
    """The anonymous pad holds as many cotos as it may."""

    def __init__(self, max_cotos: int):
        super().__init__(f"the pad holds {max_cotos} cotos")
        self.max_cotos = max_cotos


class TimeOrderedIds:
    """UUIDv7s (RFC 9562) with a counter: ids made by one process sort in the
    order they were made, even within a millisecond, so id order is posting
    order and an id serves as a pagination cursor."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ms = 0
        self._counter = 0

    def __call__(self) -> str:
        with self._lock:
            ms = time.time_ns() // 1_000_000
            if ms > self._ms:
                # Start low in the 12-bit counter to leave room to count up.
                self._ms, self._counter = ms, secrets.randbelow(1 << 11)
            else:
                self._counter += 1
                if self._counter >= 1 << 12:
                    self._ms, self._counter = self._ms + 1, 0
            ms, counter = self._ms, self._counter
        value = ms << 80 | 0x7 << 76 | counter << 64 | 0x2 << 62 | secrets.randbits(62)
        return str(uuid.UUID(int=value))


new_coto_id = TimeOrderedIds()


def iso_utc(moment: datetime) -> str:
    """The one time format of the contract: ISO 8601 in UTC, milliseconds, Z."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utc_now() -> str:
    return iso_utc(datetime.now(UTC))


class AnonymousCotoStore:
    """The memo pad of one browser, in Redis, kept for `ttl_seconds` after its last use.

    Per anonymous id: a mark that this store issued it (set with the pad's
    first coto, so an id a client made up names no pad), a sorted set of coto
    ids (all score 0, so ordered by the time-ordered id), a hash of id -> coto
    JSON, and per Idempotency-Key the "id fingerprint" of the request that used
    it. A pad holds at most `max_cotos`: nobody is accountable for it, so it
    must not fill Redis.

    Reads take an id the caller has `renew`ed: they do not check it again.
    """

    def __init__(self, client: redis.Redis, ttl_seconds: int, max_cotos: int = 1000):
        self.client = client
        self.ttl_seconds = ttl_seconds
        self.max_cotos = max_cotos
        self._update = client.register_script(_UPDATE)
        self._post = client.register_script(_POST_TO_PAD)
        self._renew = client.register_script(_RENEW_PAD)
        self._read = client.register_script(_READ_PAD)

    @staticmethod
    def _keys(anonymous_id: str) -> tuple[str, str]:
        return f"anon:{anonymous_id}:timeline", f"anon:{anonymous_id}:cotos"

    @staticmethod
    def _issued(anonymous_id: str) -> str:
        return f"anon:{anonymous_id}:issued"

    def renew(self, anonymous_id: str) -> bool:
        """Whether this store issued the pad (and it has not expired); if so, it
        lives `ttl_seconds` from now. A pad never issued is left uncreated."""
        keys = [self._issued(anonymous_id), *self._keys(anonymous_id)]
        return bool(self._renew(keys=keys, args=[self.ttl_seconds]))

    def size(self, anonymous_id: str) -> int | None:
        """How many cotos the pad holds, None if it was never issued; renews nothing."""
        with self.client.pipeline(transaction=True) as pipe:
            pipe.exists(self._issued(anonymous_id))
            pipe.zcard(self._keys(anonymous_id)[0])
            issued, size = pipe.execute()
        return int(size) if issued else None

    def post(self, anonymous_id: str | None, content: str, idempotency_key: str | None = None) -> tuple[str, Posted]:
        """Posts on the pad `anonymous_id` if this store issued it, else on a new
        pad; returns the pad's id and the post.
        Raises PadFull, or IdempotencyKeyReused for a key used for other content."""
        if anonymous_id is not None:
            outcome = self._post_to(anonymous_id, content, idempotency_key, new=False)
            if outcome is not None:
                return anonymous_id, outcome
        # A fresh 128-bit id names no pad yet, so it is issued with this coto.
        anonymous_id = secrets.token_hex(16)
        outcome = self._post_to(anonymous_id, content, idempotency_key, new=True)
        assert outcome is not None, "a new pad is issued by its first post"
        return anonymous_id, outcome

    def _post_to(self, anonymous_id: str, content: str, idempotency_key: str | None, new: bool) -> Posted | None:
        """The post, or None when the pad was never issued (and `new` is false)."""
        now = utc_now()
        coto: AnonymousCoto = {
            "id": new_coto_id(),
            "content": content,
            "amishi": None,
            "posted_in": None,
            "as_cotonoma": False,
            "cotonoma_key": None,
            "created_at": now,
            "updated_at": now,
        }
        fingerprint = request_fingerprint(content, None)
        key_record = f"anon:{anonymous_id}:idempotency:{idempotency_key}" if idempotency_key else ""
        outcome = self._post(
            keys=[*self._keys(anonymous_id), self._issued(anonymous_id), key_record],
            args=[
                coto["id"],
                json.dumps(coto, ensure_ascii=False),
                self.ttl_seconds,
                self.max_cotos,
                f"{coto['id']} {fingerprint}",
                IDEMPOTENCY_TTL_SECONDS,
                "new" if new else "issued",
            ],
        )
        if outcome == "unknown":
            return None
        if outcome == "posted":
            return Posted(coto, replayed=False)
        if outcome == "full":
            raise PadFull(self.max_cotos)
        earlier_id, earlier_fingerprint = outcome.split(" ")
        if earlier_fingerprint != fingerprint:
            raise IdempotencyKeyReused(idempotency_key)
        return Posted(self.get(anonymous_id, earlier_id), replayed=True)

    def timeline(
        self, anonymous_id: str, before: str | None, limit: int
    ) -> tuple[list[orjson.Fragment], str | None] | None:
        """A page of the pad, renewed as `renew` does, with the next page's
        cursor; None for a pad never issued. The cotos are passed on as the
        JSON they are kept as (orjson.Fragment), never decoded."""
        start = f"({before}" if before else "+"
        keys = [self._issued(anonymous_id), *self._keys(anonymous_id)]
        found = self._read(keys=keys, args=[self.ttl_seconds, start, limit])
        if found is None:
            return None
        next_cursor, *cotos = cast(list[str | None], found)
        return [orjson.Fragment(coto) for coto in cotos if coto], next_cursor or None

    def search(
        self, anonymous_id: str, text: str, before: str | None, limit: int
    ) -> tuple[list[AnonymousCoto], str | None]:
        """The newest cotos of the pad (whose id the caller has `renew`ed)
        containing `text`, case-insensitively, older than `before` if given,
        and the next page's cursor. A pad is small (max_cotos), so it is read
        whole."""
        found = [
            coto
            for coto in reversed(self.all(anonymous_id))
            if (before is None or coto["id"] < before) and contains(coto["content"], text)
        ]
        return found[:limit], (found[limit - 1]["id"] if len(found) > limit else None)

    def get(self, anonymous_id: str, coto_id: str) -> AnonymousCoto | None:
        raw = self.client.hget(self._keys(anonymous_id)[1], coto_id)
        return cast(AnonymousCoto, json.loads(raw)) if raw else None

    def update(self, anonymous_id: str, coto_id: str, content: str) -> AnonymousCoto | None:
        coto = self.get(anonymous_id, coto_id)
        if coto is None:
            return None
        coto["content"], coto["updated_at"] = content, utc_now()
        if not self._update(keys=[self._keys(anonymous_id)[1]], args=[coto_id, json.dumps(coto, ensure_ascii=False)]):
            return None  # deleted meanwhile
        return coto

    def delete(self, anonymous_id: str, coto_id: str) -> bool:
        timeline, cotos = self._keys(anonymous_id)
        with self.client.pipeline(transaction=True) as pipe:
            pipe.hdel(cotos, coto_id)
            pipe.zrem(timeline, coto_id)
            removed = pipe.execute()[0]
        return bool(removed)

    def all(self, anonymous_id: str) -> list[AnonymousCoto]:
        """Every coto of the pad, oldest first."""
        return sorted(
            (cast(AnonymousCoto, json.loads(raw)) for raw in self.client.hvals(self._keys(anonymous_id)[1])),
            key=lambda c: c["id"],
        )

    def forget(self, anonymous_id: str, coto_ids: list[str]) -> None:
        """Removes these cotos from the pad; its cotos' keys vanish with its last
        coto, while its id stays issued until it expires.

        Only the given ids, so a coto posted while the pad was being saved stays."""
        if not coto_ids:
            return
        timeline, cotos = self._keys(anonymous_id)
        with self.client.pipeline(transaction=True) as pipe:
            pipe.hdel(cotos, *coto_ids)
            pipe.zrem(timeline, *coto_ids)
            pipe.execute()


# A time as the contract writes it (iso_utc), in SQL.
def _iso_utc(column: str) -> str:
    return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')"""


def _coto_json(amishi: str) -> str:
    """A coto as the contract shows it (_coto), as JSON made by PostgreSQL from
    `c` (the coto), `amishi` (the JSON of its author) and `p` (the coto standing
    for the cotonoma it was posted in): for the event a post records in its own
    statement."""
    return f"""json_build_object(
    'id', c.id, 'content', c.content, 'amishi', {amishi},
    'posted_in', CASE WHEN c.posted_in_key IS NOT NULL
                      THEN json_build_object('key', c.posted_in_key, 'name', p.content) END,
    'as_cotonoma', c.cotonoma_key IS NOT NULL, 'cotonoma_key', c.cotonoma_key,
    'created_at', {_iso_utc("c.created_at")}, 'updated_at', {_iso_utc("c.updated_at")})::text"""


# A coto as _coto() reads it, with its author as recorded (`a`, _JOINS): text
# only, ids and times written by PostgreSQL as the contract writes them. Python
# then only arranges the values and orjson encodes them: reading UUIDs and
# datetimes into Python objects and formatting them again cost a page most of
# a millisecond, and making the page's JSON in PostgreSQL (json_build_object)
# twice the time of reading the rows (BENCHMARKS.md).
_COTO_COLUMNS = f"""c.id::text, c.content, a.amishi_id::text, a.display_name, a.avatar_url,
    c.posted_in_key, p.content, c.cotonoma_key, {_iso_utc("c.created_at")}, {_iso_utc("c.updated_at")}"""
# A row of _COTO_COLUMNS.
CotoRow = tuple[str, str, str, str, str, str | None, str | None, str | None, str, str]


# The coto standing for the cotonoma `c` was posted in (one row at most:
# cotonoma_key is unique; LEFT, so a coto whose cotonoma has no coto still
# shows, labelled with no name), looked up by key (LIMIT 1: see _JOINS).
_POSTED_IN = """LEFT JOIN LATERAL (SELECT p.content FROM cotos p
                                WHERE p.cotonoma_key = c.posted_in_key LIMIT 1) p ON true"""
# Joins every read below makes to `c`: its author, and where it was posted.
# Both looked up by key for each coto: as plain joins, the planner would rather
# hash the whole authors table for a page of fifty (LIMIT 1 keeps each LATERAL
# lookup from being turned back into such a join; tests/test_query_plans.py).
_JOINS = f"""CROSS JOIN LATERAL (SELECT a.amishi_id, a.display_name, a.avatar_url FROM authors a
                                 WHERE a.amishi_id = c.amishi_id LIMIT 1) a
            {_POSTED_IN}"""

# Records an author as their latest token describes them, writing only when
# something changed, so that posting does not rewrite the row every time. An
# author already recorded as they are is not even locked (ON CONFLICT DO UPDATE
# locks the row it finds even when its WHERE is false, which made one person's
# concurrent posts wait on each other: BENCHMARKS.md).
_RECORD_AUTHOR = """
INSERT INTO authors (amishi_id, display_name, avatar_url)
SELECT %(id)s::uuid, %(display_name)s, %(avatar_url)s
 WHERE NOT EXISTS (SELECT FROM authors WHERE amishi_id = %(id)s::uuid
                      AND display_name = %(display_name)s AND avatar_url = %(avatar_url)s)
ON CONFLICT (amishi_id) DO UPDATE
   SET display_name = EXCLUDED.display_name, avatar_url = EXCLUDED.avatar_url, updated_at = now()
 WHERE (authors.display_name, authors.avatar_url) IS DISTINCT FROM (EXCLUDED.display_name, EXCLUDED.avatar_url)
"""

# The author of `c` as their access token describes them (the post's parameters).
_AUTHOR_AS_TOKEN_SAYS = (
    "json_build_object('id', c.amishi_id, 'display_name', %(display_name)s::text, 'avatar_url', %(avatar_url)s::text)"
)

# A post is one statement, so one round trip and one transaction in autocommit:
# it records the author, claims the Idempotency-Key if there is one (a
# concurrent request with the same key waits here for the first to commit,
# then claims nothing), forgets this amishi's other keys older than a day,
# inserts the coto if the key was claimed (or there is none) and records its
# `coto` event. It returns the coto, or no row when the key was taken already.
# The author is shown as the token describes them, which is what was recorded.
_POST = f"""
WITH author AS ({_RECORD_AUTHOR}),
claimed AS (
    INSERT INTO idempotency_keys (amishi_id, key, fingerprint, coto_id)
    SELECT %(id)s::uuid, %(key)s::text, %(fingerprint)s, %(coto_id)s WHERE %(key)s::text IS NOT NULL
    ON CONFLICT (amishi_id, key) DO NOTHING RETURNING 1),
forgotten AS (
    DELETE FROM idempotency_keys WHERE %(key)s::text IS NOT NULL AND amishi_id = %(id)s::uuid
       AND key <> %(key)s::text AND created_at < now() - interval '{IDEMPOTENCY_TTL_SECONDS} seconds'),
c AS (
    INSERT INTO cotos (id, amishi_id, content, posted_in_key)
    SELECT %(coto_id)s, %(id)s::uuid, %(content)s, %(cotonoma_key)s
     WHERE %(key)s::text IS NULL OR EXISTS (SELECT FROM claimed)
    RETURNING *),
shown AS (SELECT {_coto_json(_AUTHOR_AS_TOKEN_SAYS)} AS coto FROM c {_POSTED_IN}),
event AS (SELECT %(streams)s::text[] AS streams, 'coto'::text AS event, coto::jsonb AS data FROM shown),
{recording_events("event")}
SELECT coto FROM shown
"""

# The coto standing for a cotonoma changes only through the cotonomas service.
_UPDATE_CONTENT = f"""
WITH c AS (
    UPDATE cotos SET content = %s, updated_at = now()
     WHERE id = %s AND amishi_id = %s AND cotonoma_key IS NULL RETURNING *
)
SELECT {_COTO_COLUMNS} FROM c {_JOINS}
"""

_EARLIER_REQUEST = "SELECT fingerprint, coto_id FROM idempotency_keys WHERE amishi_id = %s AND key = %s"
_FORGET_OLD_KEYS = f"""
DELETE FROM idempotency_keys WHERE amishi_id = %s AND created_at < now() - interval '{IDEMPOTENCY_TTL_SECONDS} seconds'
"""

_STANDS_FOR_COTONOMA = "SELECT 1 FROM cotos WHERE id = %s AND amishi_id = %s AND cotonoma_key IS NOT NULL"

_GET = f"SELECT {_COTO_COLUMNS} FROM cotos c {_JOINS} WHERE c.id = %s"
_LOOKUP = f"SELECT {_COTO_COLUMNS} FROM cotos c {_JOINS} WHERE c.id = ANY(%s::uuid[]) ORDER BY c.id"


def _timeline_page(column: str, param: str, where: str) -> str:
    """A timeline page: the newest cotos whose `column` is %(param)s, along the
    (column, id DESC) index.

    Why `column >= v AND column <= v` rather than `column = v`: given an
    equality, the planner may instead walk the primary key backwards and filter
    (it prefers that when one amishi or cotonoma holds a large share of the
    table), which reads everything written since their newest coto (see
    BENCHMARKS.md). A range leaves the (column, id DESC) index the only one that
    yields the order, so a page costs the same at any size and depth
    (tests/test_query_plans.py)."""
    return f"""
SELECT {_COTO_COLUMNS}
  FROM (SELECT * FROM cotos AS found WHERE {column} >= %({param})s AND {column} <= %({param})s {where}
         ORDER BY {column}, id DESC LIMIT %(limit)s) AS c {_JOINS}
 ORDER BY c.id DESC
"""


# A home timeline page, and a cotonoma's (everyone's cotos posted in it, the
# cotos of its sub-cotonomas among them). Two statements each rather than one
# with "before IS NULL OR ...", which the planner cannot turn into an index condition.
TIMELINE_FIRST_PAGE = _timeline_page("amishi_id", "amishi_id", "")
TIMELINE_PAGE_BEFORE = _timeline_page("amishi_id", "amishi_id", "AND id < %(before)s")
COTONOMA_TIMELINE_FIRST_PAGE = _timeline_page("posted_in_key", "cotonoma_key", "")
COTONOMA_TIMELINE_PAGE_BEFORE = _timeline_page("posted_in_key", "cotonoma_key", "AND id < %(before)s")


def _search_page(own: str, shared: str, where: str) -> str:
    """A page of search results: the newest cotos containing %(pattern)s (an
    ILIKE pattern) among the reader's own (`own`) and those others posted in
    the cotonomas %(keys)s (`shared`), each half a query of its own stopping at
    a full page, `{matching}` in it standing for the text's condition and the
    cursor's (`where`)."""
    matching = f"AND content ILIKE %(pattern)s {where}"
    return f"""
SELECT {_COTO_COLUMNS} FROM (
    ({own.format(matching=matching)})
    UNION ALL
    ({shared.format(matching=matching)})
) AS c {_JOINS}
 ORDER BY c.id DESC LIMIT %(limit)s
"""


# A text with a trigram: the own half reads the reader's matches along
# cotos_search (trigrams beside the author, so never everyone's matches), or,
# for a common text, walks their timeline index until the page is full; the
# cotonomas' half reads, in one pass, the text's matches or the cotos posted
# in them, whichever is fewer (btree_gin does not narrow a scan by an array
# of keys, and a scan per cotonoma cost 1 ms each). Which is cheaper depends on
# the text, so these are planned for their values every time
# (CotoStore.search), never generically.
_OWN = "SELECT * FROM cotos WHERE amishi_id = %(amishi_id)s {matching} ORDER BY id DESC LIMIT %(limit)s"
_SHARED = """SELECT * FROM (SELECT * FROM cotos
                       WHERE posted_in_key = ANY(%(keys)s::text[]) AND amishi_id <> %(amishi_id)s {matching}
                      OFFSET 0) AS shared
      ORDER BY id DESC LIMIT %(limit)s"""
SEARCH_FIRST_PAGE = _search_page(_OWN, _SHARED, "")
SEARCH_PAGE_BEFORE = _search_page(_OWN, _SHARED, "AND id < %(before)s")
# A text without one: the walk is the one good plan (_WALK_ONLY), along the
# timeline indexes, one cotonoma after another, as the timelines' ranges make
# sure (given an equality, the planner may walk the primary key and filter:
# _timeline_page).
_OWN_WALKED = """SELECT * FROM cotos WHERE amishi_id >= %(amishi_id)s AND amishi_id <= %(amishi_id)s {matching}
      ORDER BY amishi_id, id DESC LIMIT %(limit)s"""
_SHARED_WALKED = """SELECT shared.* FROM unnest(%(keys)s::text[]) AS k(key)
      CROSS JOIN LATERAL (SELECT * FROM cotos WHERE posted_in_key >= k.key AND posted_in_key <= k.key
                             AND amishi_id <> %(amishi_id)s {matching}
                           ORDER BY posted_in_key, id DESC LIMIT %(limit)s) AS shared"""
SEARCH_WALK_FIRST_PAGE = _search_page(_OWN_WALKED, _SHARED_WALKED, "")
SEARCH_WALK_PAGE_BEFORE = _search_page(_OWN_WALKED, _SHARED_WALKED, "AND id < %(before)s")
# For one transaction: reading a row through any index costs about the same
# (the data is in memory or on SSD). With the default (4 for a row out of
# order, 1 in order), the planner would rather walk the primary key, whose
# order is the table's, and filter out everyone else's cotos, than walk the
# reader's own index: a walk that goes on for as long as others have posted
# since the reader's newest match (BENCHMARKS.md).
_INDEXES_COST_ALIKE = "SELECT set_config('random_page_cost', '1.1', true)"
# For one transaction: a walk along the timeline indexes, which yield the
# order, and stops at a full page. Expecting a rare text, the planner would
# rather read everything the reader may read (a bitmap or sequential scan, or
# the primary key from the cursor back) and sort it; it may do none of that.
_WALK_ONLY = (
    "SELECT set_config('enable_bitmapscan', 'off', true), set_config('enable_seqscan', 'off', true),"
    " set_config('enable_sort', 'off', true)"
)


def contains_pattern(text: str) -> str:
    """An ILIKE pattern matching any text that contains `text` as it is
    (its own %, _ and backslash taken literally)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# Three letters or digits in a row: what pg_trgm can make a trigram of in an
# ILIKE pattern (words are runs of letters and digits; none is padded there).
_TRIGRAM = re.compile(r"[^\W_]{3}")


def has_trigram(text: str) -> bool:
    return _TRIGRAM.search(text) is not None


def search_statement(text: str, before: str | None) -> tuple[str, str]:
    """The settings a search for `text` runs under and its statement."""
    if has_trigram(text):
        return _INDEXES_COST_ALIKE, SEARCH_FIRST_PAGE if before is None else SEARCH_PAGE_BEFORE
    return _WALK_ONLY, SEARCH_WALK_FIRST_PAGE if before is None else SEARCH_WALK_PAGE_BEFORE


def contains(content: str, text: str) -> bool:
    """What contains_pattern matches, for cotos held outside PostgreSQL."""
    return text.casefold() in content.casefold()


# Creates the coto standing for a cotonoma, or renames it. A repeated PUT with
# the same name writes nothing, so updated_at tells when it was last renamed.
# Parent and owner are set at creation only, as cotonomas sets them.
# Returns whether it inserted (xmax is 0 only in a row version this statement
# inserted), and no row when it wrote nothing.
_PUT_COTONOMA_COTO = """
INSERT INTO cotos (id, amishi_id, content, posted_in_key, cotonoma_key)
VALUES (%(id)s, %(owner_id)s, %(name)s, %(parent_key)s, %(cotonoma_key)s)
ON CONFLICT (cotonoma_key) DO UPDATE SET content = EXCLUDED.content, updated_at = now()
 WHERE cotos.content IS DISTINCT FROM EXCLUDED.content
RETURNING xmax = 0 AS inserted
"""

_GET_COTONOMA_COTO = f"SELECT {_COTO_COLUMNS} FROM cotos c {_JOINS} WHERE c.cotonoma_key = %s"

# Cotonomatize: the owner's coto, where it was posted, comes to stand for the
# cotonoma (its id kept, so what refers to it stays); its content becomes the
# name (the same, trimmed). Again for the same cotonoma, it is renamed at most.
_MARK_COTONOMA_COTO = r"""
UPDATE cotos SET cotonoma_key = %(cotonoma_key)s, content = %(name)s, updated_at = now()
 WHERE id = %(coto_id)s AND amishi_id = %(owner_id)s AND posted_in_key IS NOT DISTINCT FROM %(parent_key)s
   AND (cotonoma_key IS NULL OR cotonoma_key = %(cotonoma_key)s)
   AND (cotonoma_key IS NULL OR content IS DISTINCT FROM %(name)s)
   -- Not one edited since its content was read as the name.
   AND (cotonoma_key IS NOT NULL OR regexp_replace(content, '^\s+|\s+$', '', 'g') = %(name)s)
RETURNING id
"""
_MARKED = "SELECT 1 FROM cotos WHERE id = %(coto_id)s AND cotonoma_key = %(cotonoma_key)s"
# A cotonomatize undone: the coto is a plain coto again, unless cotos are posted in its cotonoma.
_UNMARK_COTONOMA_COTO = """
UPDATE cotos SET cotonoma_key = NULL, updated_at = now() WHERE cotonoma_key = %s RETURNING id
"""

# Ids are kept, so a retried save finds the cotos it already inserted and skips them.
_SAVE_ANONYMOUS = """
INSERT INTO cotos (id, amishi_id, content, created_at, updated_at)
SELECT id, %s, content, created_at, updated_at
  FROM unnest(%s::uuid[], %s::text[], %s::timestamptz[], %s::timestamptz[]) AS t(id, content, created_at, updated_at)
 -- Nor one saved before and put in the trash since, which a retried save must not bring back.
 WHERE NOT EXISTS (SELECT FROM trashed_cotos tc WHERE tc.id = t.id)
ON CONFLICT (id) DO NOTHING
RETURNING id
"""

_SAVED = f"SELECT {_COTO_COLUMNS} FROM cotos c {_JOINS} WHERE c.id = ANY(%s) ORDER BY c.id"

# How long a deleted coto stays in the trash, restorable by its author, before it is purged.
TRASH_DAYS = 30
_IN_TRASH_TIME = f"deleted_at > now() - interval '{TRASH_DAYS} days'"


def _to_trash(which: str) -> str:
    """Moves the coto `which` selects (never one standing for a cotonoma) into
    the trash whole, in one statement; returns its id, author and cotonoma."""
    return f"""
WITH gone AS (DELETE FROM cotos WHERE {which} AND cotonoma_key IS NULL RETURNING *)
INSERT INTO trashed_cotos AS t (id, amishi_id, content, posted_in_key, created_at, updated_at, moderated)
SELECT id, amishi_id, content, posted_in_key, created_at, updated_at, %(moderated)s FROM gone
ON CONFLICT (id) DO UPDATE SET content = EXCLUDED.content, posted_in_key = EXCLUDED.posted_in_key,
       updated_at = EXCLUDED.updated_at, deleted_at = now(), moderated = EXCLUDED.moderated
RETURNING id, amishi_id, posted_in_key
"""


# By its author; by the owner of the cotonoma it was posted in (moderated).
_TRASH_OWN = _to_trash("id = %(id)s AND amishi_id = %(amishi_id)s")
_TRASH_MODERATED = _to_trash("id = %(id)s AND posted_in_key = %(cotonoma_key)s")

# A coto of this author in the trash, young enough to be restored.
_TRASHED = f"""
SELECT posted_in_key, moderated FROM trashed_cotos WHERE id = %s AND amishi_id = %s AND {_IN_TRASH_TIME}
"""

# Moves the author's coto back from the trash as it was (its id, so its
# place). In a cotonoma whose coto is gone, the foreign key refuses it.
_RESTORE = f"""
WITH back AS (
    DELETE FROM trashed_cotos WHERE id = %s AND amishi_id = %s AND NOT moderated AND {_IN_TRASH_TIME} RETURNING *),
c AS (
    INSERT INTO cotos (id, amishi_id, content, posted_in_key, created_at, updated_at)
    SELECT id, amishi_id, content, posted_in_key, created_at, updated_at FROM back RETURNING *)
SELECT {_COTO_COLUMNS} FROM c {_JOINS}
"""

# A batch of what the trash has held for longer than it keeps anything; rows
# another purge holds are left to it.
_PURGE = f"""
DELETE FROM trashed_cotos WHERE id IN (
    SELECT id FROM trashed_cotos WHERE deleted_at <= now() - interval '{TRASH_DAYS} days'
     ORDER BY deleted_at LIMIT %s FOR UPDATE SKIP LOCKED)
"""


def _coto(row: CotoRow) -> Coto:
    (
        coto_id,
        content,
        amishi_id,
        display_name,
        avatar_url,
        posted_in_key,
        posted_in_name,
        cotonoma_key,
        created,
        updated,
    ) = row
    return {
        "id": coto_id,
        "content": content,
        "amishi": {"id": amishi_id, "display_name": display_name, "avatar_url": avatar_url},
        "posted_in": {"key": posted_in_key, "name": posted_in_name} if posted_in_key is not None else None,
        "as_cotonoma": cotonoma_key is not None,
        "cotonoma_key": cotonoma_key,
        "created_at": created,
        "updated_at": updated,
    }


def streams_of(amishi_id: str, posted_in_key: str | None) -> list[str]:
    """The event streams a coto's changes go to: its author's home, and the
    cotonoma it was posted in."""
    return [f"events:amishi:{amishi_id}", *([f"events:cotonoma:{posted_in_key}"] if posted_in_key else [])]


def _tell(conn: psycopg.Connection, event: str, coto: Coto) -> None:
    write_event(conn, streams_of(coto["amishi"]["id"], coto["posted_in"] and coto["posted_in"]["key"]), event, coto)


def _tell_deleted(conn: psycopg.Connection, deleted: tuple[uuid.UUID, uuid.UUID, str | None] | None) -> None:
    """coto-deleted for the row a DELETE ... RETURNING id, amishi_id, posted_in_key returned, if any."""
    if deleted is not None:
        coto_id, amishi_id, posted_in_key = deleted
        write_event(conn, streams_of(str(amishi_id), posted_in_key), "coto-deleted", {"id": str(coto_id)})


class StandsForCotonoma(Exception):
    """The coto stands for a cotonoma: it changes only through the cotonomas service."""


class CannotStandFor(Exception):
    """The coto cannot stand for the cotonoma: it is gone, someone else's,
    posted elsewhere, or stands for another cotonoma."""


class NoSuchCotonoma(Exception):
    """The cotonoma a coto would go into has no coto (it is gone, or being deleted)."""


class CotonomaNotEmpty(Exception):
    """Cotos (sub-cotonomas' among them) are posted in the cotonoma whose coto was to go."""

    def __init__(self, cotos: int):
        super().__init__(f"{cotos} cotos are posted in it")
        self.cotos = cotos


@dataclass(frozen=True)
class Trashed:
    """A coto in its author's trash, young enough to restore."""

    posted_in_key: str | None
    moderated: bool


def _posted_in(conn: psycopg.Connection, cotonoma_key: str) -> int:
    """How many cotos (cotonomas' among them) are posted in the cotonoma."""
    row = conn.execute("SELECT count(*) FROM cotos WHERE posted_in_key = %s", (cotonoma_key,)).fetchone()
    return int(row[0]) if row else 0


class CotoStore:
    """Cotos of signed-in amishis, in PostgreSQL, each shown with its author.

    Authors are a read model of what access tokens said about them, recorded
    on every write, so a coto shows whose it is without asking auth.
    """

    def __init__(self, pool: psycopg_pool.ConnectionPool):
        self.pool = pool

    def post(
        self, amishi: Amishi, content: str, cotonoma_key: str | None = None, idempotency_key: str | None = None
    ) -> Posted:
        """Posts at home, or in the cotonoma given (whose access the caller checked).
        Raises IdempotencyKeyReused for a key this amishi used for another request."""
        fingerprint = request_fingerprint(content, cotonoma_key)
        posted = self._post(amishi, content, cotonoma_key, idempotency_key, fingerprint)
        if posted is not None or idempotency_key is None:
            return Posted(posted, replayed=False)
        # The key was claimed before: by an earlier request, or by one a day
        # old or more, which is forgotten, and then the key is free again.
        with autocommitting(self.pool) as conn:
            conn.execute(_FORGET_OLD_KEYS, (amishi.id,))
        posted = self._post(amishi, content, cotonoma_key, idempotency_key, fingerprint)
        if posted is not None:
            return Posted(posted, replayed=False)
        with autocommitting(self.pool) as conn:
            earlier = conn.execute(_EARLIER_REQUEST, (amishi.id, idempotency_key)).fetchone()
            assert earlier is not None, "the key's row conflicted and is younger than a day, so it is there"
            earlier_fingerprint, earlier_coto_id = earlier
            if earlier_fingerprint != fingerprint:
                raise IdempotencyKeyReused(idempotency_key)
            row = conn.execute(_GET, (earlier_coto_id,)).fetchone()
        return Posted(_coto(row) if row else None, replayed=True)

    def _post(
        self, amishi: Amishi, content: str, cotonoma_key: str | None, idempotency_key: str | None, fingerprint: str
    ) -> Coto | None:
        """The new coto, or None when the key was claimed already (_POST)."""
        params = {
            **amishi.public(),
            "coto_id": new_coto_id(),
            "content": content,
            "cotonoma_key": cotonoma_key,
            "key": idempotency_key,
            "fingerprint": fingerprint,
            "streams": streams_of(amishi.id, cotonoma_key),
        }
        try:
            with autocommitting(self.pool) as conn:
                row = conn.execute(_POST, params).fetchone()
        except psycopg.errors.ForeignKeyViolation:
            raise NoSuchCotonoma(cotonoma_key) from None  # deleted since its access was decided
        return cast(Coto, orjson.loads(row[0])) if row else None

    def timeline(self, amishi_id: str, before: str | None, limit: int) -> tuple[list[Coto], str | None]:
        """Home: every coto this amishi posted, wherever."""
        query = TIMELINE_FIRST_PAGE if before is None else TIMELINE_PAGE_BEFORE
        return self._page(query, {"amishi_id": amishi_id, "before": before, "limit": limit + 1}, limit)

    def cotonoma_timeline(self, cotonoma_key: str, before: str | None, limit: int) -> tuple[list[Coto], str | None]:
        """Every coto posted in this cotonoma, by whomever."""
        query = COTONOMA_TIMELINE_FIRST_PAGE if before is None else COTONOMA_TIMELINE_PAGE_BEFORE
        return self._page(query, {"cotonoma_key": cotonoma_key, "before": before, "limit": limit + 1}, limit)

    def _page(self, query: str, params: dict[str, object], limit: int) -> tuple[list[Coto], str | None]:
        with autocommitting(self.pool) as conn:
            rows = conn.execute(query, params).fetchall()
        page = [_coto(row) for row in rows[:limit]]
        return page, (page[-1]["id"] if len(rows) > limit else None)

    def search(
        self, amishi_id: str, cotonoma_keys: list[str], text: str, before: str | None, limit: int
    ) -> tuple[list[Coto], str | None]:
        """The newest cotos containing `text`, case-insensitively, among this
        amishi's own and those posted in the cotonomas given (the ones they may
        enter, as cotonomas says)."""
        params = {
            "amishi_id": amishi_id,
            "keys": cotonoma_keys,
            "pattern": contains_pattern(text),
            "before": before,
            "limit": limit + 1,
        }
        # The values are written into the statement (ClientCursor, the simple
        # protocol), so PostgreSQL plans it for this text: the pool makes every
        # other statement's plan generic (D84), which here could not tell a
        # rare text from a common one.
        settings, query = search_statement(text, before)
        with autocommitting(self.pool) as conn, conn.transaction():
            conn.execute(settings)
            rows = psycopg.ClientCursor(conn).execute(query, params).fetchall()
        page = [_coto(row) for row in rows[:limit]]
        return page, (page[-1]["id"] if len(rows) > limit else None)

    def get(self, coto_id: str) -> Coto | None:
        with autocommitting(self.pool) as conn:
            row = conn.execute(_GET, (coto_id,)).fetchone()
        return _coto(row) if row else None

    def lookup(self, coto_ids: list[str]) -> list[Coto]:
        """The cotos among these ids (not those in the trash), by id: for other
        services, which decide themselves who may read them."""
        with autocommitting(self.pool) as conn:  # the resource let through only UUIDs
            return [_coto(row) for row in conn.execute(_LOOKUP, (array_literal(coto_ids),)).fetchall()]

    def update(self, amishi: Amishi, coto_id: str, content: str) -> Coto | None:
        """The updated coto, or None unless this amishi wrote it.
        Raises StandsForCotonoma for the author's coto of a cotonoma."""
        with self.pool.connection() as conn:
            conn.execute(_RECORD_AUTHOR, amishi.public())
            row = conn.execute(_UPDATE_CONTENT, (content, coto_id, amishi.id)).fetchone()
            if row is None:
                if conn.execute(_STANDS_FOR_COTONOMA, (coto_id, amishi.id)).fetchone():
                    raise StandsForCotonoma(coto_id)
                return None
            coto = _coto(row)
            _tell(conn, "coto-updated", coto)
        return coto

    def delete(self, amishi_id: str, coto_id: str) -> bool:
        """Whether a coto of this amishi was deleted (into the trash).
        Raises StandsForCotonoma for the author's coto of a cotonoma."""
        with self.pool.connection() as conn:
            deleted = conn.execute(_TRASH_OWN, {"id": coto_id, "amishi_id": amishi_id, "moderated": False}).fetchone()
            if deleted is None and conn.execute(_STANDS_FOR_COTONOMA, (coto_id, amishi_id)).fetchone():
                raise StandsForCotonoma(coto_id)
            _tell_deleted(conn, deleted)
            return deleted is not None

    def moderate(self, coto_id: str, cotonoma_key: str) -> bool:
        """Whether the coto posted in this cotonoma (whose owner the caller
        checked) was removed: into its author's trash, marked so that it stays removed."""
        with self.pool.connection() as conn:
            params = {"id": coto_id, "cotonoma_key": cotonoma_key, "moderated": True}
            deleted = conn.execute(_TRASH_MODERATED, params).fetchone()
            _tell_deleted(conn, deleted)
            return deleted is not None

    def trashed(self, amishi_id: str, coto_id: str) -> Trashed | None:
        """This author's coto in the trash, if it is there and younger than TRASH_DAYS."""
        with autocommitting(self.pool) as conn:
            row = conn.execute(_TRASHED, (coto_id, amishi_id)).fetchone()
        return Trashed(*row) if row else None

    def restore(self, amishi_id: str, coto_id: str) -> Coto | None:
        """The coto moved back from this author's trash where it was, told as
        a `coto` event again; None if it is not there to restore (or moderated).
        Raises NoSuchCotonoma when the cotonoma it was posted in is gone."""
        try:
            with self.pool.connection() as conn:
                row = conn.execute(_RESTORE, (coto_id, amishi_id)).fetchone()
                if row is None:
                    return None
                coto = _coto(row)
                _tell(conn, "coto", coto)
                return coto
        except psycopg.errors.ForeignKeyViolation:
            raise NoSuchCotonoma(coto_id) from None

    def purge_trash(self, batch: int = 1000) -> int:
        """Forgets a batch of what has been in the trash for TRASH_DAYS; how many."""
        with self.pool.connection() as conn:
            return conn.execute(_PURGE, (batch,)).rowcount

    def put_cotonoma_coto(self, cotonoma_key: str, name: str, parent_key: str | None, owner: Author) -> Coto:
        """The coto standing for a cotonoma, created in its parent (or its
        owner's home) if absent, else renamed; the owner is recorded as its author."""
        with self.pool.connection() as conn:
            conn.execute(_RECORD_AUTHOR, owner)
            params = {
                "id": new_coto_id(),
                "owner_id": owner["id"],
                "name": name,
                "parent_key": parent_key,
                "cotonoma_key": cotonoma_key,
            }
            try:
                with conn.transaction():
                    written = conn.execute(_PUT_COTONOMA_COTO, params).fetchone()
            except psycopg.errors.ForeignKeyViolation:
                raise NoSuchCotonoma(parent_key) from None  # the parent's coto is gone
            row = conn.execute(_GET_COTONOMA_COTO, (cotonoma_key,)).fetchone()
            assert row is not None, "the coto was inserted, or was there already"
            coto = _coto(row)
            if written is not None:
                (inserted,) = written
                _tell(conn, "coto" if inserted else "coto-updated", coto)
            return coto

    def mark_cotonoma_coto(
        self, cotonoma_key: str, coto_id: str, name: str, parent_key: str | None, owner: Author
    ) -> Coto:
        """The owner's coto `coto_id`, posted in `parent_key` (None: at home),
        made to stand for the cotonoma (or already standing for it): safe to
        repeat. CannotStandFor if it is not there so (gone, someone else's,
        moved, or standing for another cotonoma)."""
        params = {
            "cotonoma_key": cotonoma_key,
            "coto_id": coto_id,
            "name": name,
            "parent_key": parent_key,
            "owner_id": owner["id"],
        }
        with self.pool.connection() as conn:
            conn.execute(_RECORD_AUTHOR, owner)
            try:
                with conn.transaction():
                    marked = conn.execute(_MARK_COTONOMA_COTO, params).fetchone()
            except psycopg.errors.UniqueViolation:
                raise CannotStandFor(coto_id) from None  # another coto stands for this cotonoma
            if marked is None and not conn.execute(_MARKED, params).fetchone():
                raise CannotStandFor(coto_id)
            row = conn.execute(_GET_COTONOMA_COTO, (cotonoma_key,)).fetchone()
            assert row is not None, "the coto stands for the cotonoma"
            coto = _coto(row)
            if marked is not None:
                _tell(conn, "coto-updated", coto)
            return coto

    def unmark_cotonoma_coto(self, cotonoma_key: str) -> None:
        """The coto standing for a cotonoma, if any, made a plain coto again
        (a cotonomatize undone), unless cotos are posted in it: CotonomaNotEmpty."""
        with self.pool.connection() as conn:
            held = _posted_in(conn, cotonoma_key)
            if held:
                raise CotonomaNotEmpty(held)
            try:
                with conn.transaction():
                    row = conn.execute(_UNMARK_COTONOMA_COTO, (cotonoma_key,)).fetchone()
            except psycopg.errors.ForeignKeyViolation:
                raise CotonomaNotEmpty(max(_posted_in(conn, cotonoma_key), 1)) from None
            if row is not None:
                back = conn.execute(_GET, (row[0],)).fetchone()
                if back is not None:
                    _tell(conn, "coto-updated", _coto(back))

    def delete_cotonoma_coto(self, cotonoma_key: str) -> None:
        """Removes the coto standing for a cotonoma, if there is one, with what
        its trash holds (it could not be restored there any more), unless
        cotos are posted in it: CotonomaNotEmpty, with how many. The foreign
        key makes the check hold against a post or a restore at the same moment."""
        with self.pool.connection() as conn:
            held = _posted_in(conn, cotonoma_key)
            if held:
                raise CotonomaNotEmpty(held)
            try:
                with conn.transaction():
                    deleted = conn.execute(
                        "DELETE FROM cotos WHERE cotonoma_key = %s RETURNING id, amishi_id, posted_in_key",
                        (cotonoma_key,),
                    ).fetchone()
            except psycopg.errors.ForeignKeyViolation:
                raise CotonomaNotEmpty(max(_posted_in(conn, cotonoma_key), 1)) from None  # posted meanwhile
            conn.execute("DELETE FROM trashed_cotos WHERE posted_in_key = %s", (cotonoma_key,))
            _tell_deleted(conn, deleted)

    def save_anonymous(self, author: Author, cotos: list[AnonymousCoto]) -> int:
        """Moves anonymous cotos into the author's account keeping their ids
        and times, in one transaction; returns how many were not there yet.
        Each of those is a `coto` event at the author's home, oldest first."""
        with self.pool.connection() as conn:
            conn.execute(_RECORD_AUTHOR, author)
            saved = conn.execute(
                _SAVE_ANONYMOUS,
                (
                    author["id"],
                    [c["id"] for c in cotos],
                    [c["content"] for c in cotos],
                    [datetime.fromisoformat(c["created_at"]) for c in cotos],
                    [datetime.fromisoformat(c["updated_at"]) for c in cotos],
                ),
            ).fetchall()
            if saved:
                for row in conn.execute(_SAVED, ([coto_id for (coto_id,) in saved],)).fetchall():
                    _tell(conn, "coto", _coto(row))
            return len(saved)
