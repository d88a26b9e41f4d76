"""Storage of cotonomas, their members and the amishis seen (PostgreSQL). No Falcon here.

Who may reach a cotonoma: its owner, the owner of any of its ancestors, and
the members of it or of any of its ancestors, matched by the (lower-cased)
address of their access token. Everyone else must not learn that it exists.
A row still 'creating' exists for nobody.
"""

import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypedDict, TypeVar

import psycopg
import psycopg_pool
from psycopg.rows import DictRow, dict_row

from cotoami_common.backing import autocommitting
from cotoami_common.outbox import write_event
from cotoami_common.tokens import Amishi

KEY = re.compile(r"[A-Za-z0-9_-]{8,64}")
_CURSOR = re.compile(r"(\d{1,18})\.([A-Za-z0-9_-]{8,64})")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

T = TypeVar("T")


class Owner(TypedDict):
    id: str
    display_name: str
    avatar_url: str


class Cotonoma(TypedDict):
    """A cotonoma as the API shows it."""

    key: str
    name: str
    owner: Owner
    parent_key: str | None
    shared: bool
    created_at: str


class Ancestor(TypedDict):
    key: str
    name: str


class Member(TypedDict):
    email: str
    added_at: str


def new_key() -> str:
    """96 random bits, URL-safe, 16 characters."""
    return secrets.token_urlsafe(12)


def iso_utc(moment: datetime) -> str:
    """The one time format of the contract: ISO 8601 in UTC, milliseconds, Z."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class NoSuchCotonoma(Exception):
    """Not a cotonoma this amishi may reach (whether or not it exists)."""


class MadeAlready(Exception):
    """The coto was made a cotonoma already (`key`), or is being made one now (not `ready`)."""

    def __init__(self, key: str, ready: bool):
        super().__init__(key)
        self.key = key
        self.ready = ready


class NameTaken(Exception):
    """The owner already has a cotonoma of this name in this parent.

    `pending` when that one is still being created (or undone), so the name
    may well be free again shortly."""

    def __init__(self, pending: bool):
        super().__init__("pending" if pending else "taken")
        self.pending = pending


class CotonomaNotEmpty(Exception):
    """A cotonoma to be deleted still holds cotonomas (as this service knows
    them) or cotos (as the cotos service counts them)."""

    def __init__(self, cotos: int = 0, cotonomas: int = 0):
        super().__init__(f"{cotos} cotos, {cotonomas} cotonomas")
        self.cotos = cotos
        self.cotonomas = cotonomas


class AlreadyMember(Exception):
    """The address is already a member of the cotonoma."""

    def __init__(self, email: str):
        super().__init__(email)
        self.email = email


@dataclass(frozen=True)
class Viewer:
    """Whom an access decision is for: an amishi id and their lower-cased address."""

    id: str
    email: str

    @classmethod
    def of(cls, amishi: Amishi) -> "Viewer":
        return cls(amishi.id, amishi.email.strip().lower())


@dataclass(frozen=True)
class Place:
    """A cotonoma as a viewer may reach it, with the ancestors they may see, root first."""

    key: str
    name: str
    parent_key: str | None
    owner_id: str
    ancestors: list[Ancestor]

    def owned_by(self, viewer: Viewer) -> bool:
        return self.owner_id == viewer.id


@dataclass(frozen=True)
class Addition:
    """A member being added to cotonoma `key` at `at`, and whether an invitation
    mail is due: none went to the address for this cotonoma within the quiet period."""

    key: str
    member: Member
    at: datetime
    mail_due: bool


# The cotonoma and its ancestors, each saying whether it grants the viewer
# access. Parents are set once, at creation, to a cotonoma that already
# exists, so the walk up always ends at a root.
_CHAIN = """
WITH RECURSIVE chain AS (
    SELECT key, name, parent_key, owner_id, 0 AS depth FROM cotonomas WHERE key = %(key)s AND state = 'ready'
    UNION ALL
    SELECT c.key, c.name, c.parent_key, c.owner_id, chain.depth + 1
      FROM cotonomas c JOIN chain ON c.key = chain.parent_key
)
SELECT key, name, parent_key, owner_id::text, depth,
       owner_id = %(amishi_id)s
       OR EXISTS (SELECT 1 FROM members m WHERE m.cotonoma_key = chain.key AND m.email = %(email)s) AS grants
  FROM chain ORDER BY depth DESC
"""


def _with_owners_and_sharing(listed: str) -> str:
    """The cotonomas the `listed` query selects (key, name, parent_key, owner_id,
    created_at), newest first, each with its owner and whether it is shared:
    whether anyone besides its owner may reach it (a member of it or of an
    ancestor, or an ancestor's other owner).

    Ancestors, members and owners are looked up by key, row by row: as plain
    joins (or EXISTS) the planner would rather hash the whole cotonomas,
    members and amishis tables for a page of fifty, a cost that grows with
    everyone's cotonomas (LIMIT 1 keeps each LATERAL lookup from being turned
    back into such a join; tests/test_query_plans.py, BENCHMARKS.md)."""
    return f"""
WITH RECURSIVE listed AS ({listed}),
lineage AS (
    SELECT l.key AS listed_key, l.owner_id AS listed_owner, l.key, l.parent_key, l.owner_id FROM listed l
    UNION ALL
    SELECT up.listed_key, up.listed_owner, c.key, c.parent_key, c.owner_id
      FROM lineage up
     CROSS JOIN LATERAL (SELECT key, parent_key, owner_id FROM cotonomas WHERE key = up.parent_key LIMIT 1) c
),
sharing AS (
    SELECT listed_key, bool_or(owner_id <> listed_owner OR m.cotonoma_key IS NOT NULL) AS shared
      FROM lineage
      LEFT JOIN LATERAL (SELECT cotonoma_key FROM members WHERE cotonoma_key = lineage.key LIMIT 1) m ON true
     GROUP BY listed_key
)
SELECT l.key, l.name, l.parent_key, l.created_at, a.id::text AS owner_id, a.display_name, a.avatar_url, s.shared
  FROM listed l
 CROSS JOIN LATERAL (SELECT id, display_name, avatar_url FROM amishis WHERE id = l.owner_id LIMIT 1) a
  JOIN sharing s ON s.listed_key = l.key
 ORDER BY l.created_at DESC, l.key DESC
"""


# One cotonoma (%(key)s).
_ONE = _with_owners_and_sharing("SELECT key, name, parent_key, owner_id, created_at FROM cotonomas WHERE key = %(key)s")
# One cotonoma (%(key)s) and its children.
_WITH_CHILDREN = _with_owners_and_sharing(
    "SELECT key, name, parent_key, owner_id, created_at FROM cotonomas"
    " WHERE state = 'ready' AND (key = %(key)s OR parent_key = %(key)s)"
)

# A page of the cotonomas a viewer owns or is a member of, along an index for
# each half: (owner_id, created_at, key), and members by email with each of
# their cotonomas looked up by key (LATERAL, as in _with_owners_and_sharing).
_PAGE = _with_owners_and_sharing("""
SELECT * FROM (
    (SELECT key, name, parent_key, owner_id, created_at FROM cotonomas
      WHERE owner_id = %(amishi_id)s AND state = 'ready'
        AND (created_at, key) < (%(before_at)s::timestamptz, %(before_key)s)
      ORDER BY created_at DESC, key DESC LIMIT %(limit)s)
    UNION
    (SELECT c.key, c.name, c.parent_key, c.owner_id, c.created_at
       FROM members m
      CROSS JOIN LATERAL (SELECT key, name, parent_key, owner_id, created_at FROM cotonomas
                           WHERE key = m.cotonoma_key AND state = 'ready'
                             AND (created_at, key) < (%(before_at)s::timestamptz, %(before_key)s) LIMIT 1) c
      WHERE m.email = %(email)s
      ORDER BY c.created_at DESC, c.key DESC LIMIT %(limit)s)
) AS mine ORDER BY created_at DESC, key DESC LIMIT %(limit)s
""")

# Records an amishi as their latest token describes them, writing only when
# something changed.
_RECORD_AMISHI = """
INSERT INTO amishis (id, email, display_name, avatar_url) VALUES (%(id)s, %(email)s, %(display_name)s, %(avatar_url)s)
ON CONFLICT (id) DO UPDATE
   SET email = EXCLUDED.email, display_name = EXCLUDED.display_name, avatar_url = EXCLUDED.avatar_url,
       updated_at = now()
 WHERE (amishis.email, amishis.display_name, amishis.avatar_url)
       IS DISTINCT FROM (EXCLUDED.email, EXCLUDED.display_name, EXCLUDED.avatar_url)
"""


# A parent still there for a child to be made in, locked against its deletion
# until the child is committed (FOR KEY SHARE: renames and other children go on).
_STILL_READY = "SELECT 1 FROM cotonomas WHERE key = %s AND state = 'ready' FOR KEY SHARE"


# The cotonoma and every cotonoma below it: whose access follows its members.
_WITH_DESCENDANTS = """
WITH RECURSIVE below AS (
    SELECT key FROM cotonomas WHERE key = %s
    UNION ALL
    SELECT c.key FROM cotonomas c JOIN below ON c.parent_key = below.key
)
SELECT key FROM below
"""


# Every cotonoma a viewer may reach: those they own or are a member of, and
# everything below them (access follows the ancestors' members and owners).
# Each step goes along an index (owner, member's email, key, parent), looked
# up row by row (LATERAL; LIMIT 1 and OFFSET 0 keep the planner from turning
# the lookups into a hash of the whole table, as in _with_owners_and_sharing).
_REACHABLE = """
WITH RECURSIVE reachable AS (
    SELECT key FROM cotonomas WHERE owner_id = %(amishi_id)s AND state = 'ready'
    UNION
    SELECT c.key FROM members m
     CROSS JOIN LATERAL (SELECT key FROM cotonomas WHERE key = m.cotonoma_key AND state = 'ready' LIMIT 1) c
     WHERE m.email = %(email)s
    UNION
    SELECT c.key FROM reachable r
     CROSS JOIN LATERAL (SELECT key FROM cotonomas WHERE parent_key = r.key AND state = 'ready' OFFSET 0) c
)
SELECT key FROM reachable ORDER BY key
"""


def stream_of(key: str) -> str:
    """The event stream of a cotonoma."""
    return f"events:cotonoma:{key}"


def _tell_members_changed(conn: psycopg.Connection, event: str, key: str, email: str) -> None:
    """member-added or member-removed, in the stream of the cotonoma and of each
    cotonoma below it, whose listeners' access it may change."""
    keys = [row[0] for row in conn.execute(_WITH_DESCENDANTS, (key,)).fetchall()]
    write_event(conn, [stream_of(k) for k in keys], event, {"cotonoma_key": key, "email": email})


def _cotonoma(row: DictRow) -> Cotonoma:
    return {
        "key": row["key"],
        "name": row["name"],
        "owner": {"id": row["owner_id"], "display_name": row["display_name"], "avatar_url": row["avatar_url"]},
        "parent_key": row["parent_key"],
        "shared": row["shared"],
        "created_at": iso_utc(row["created_at"]),
    }


def _cursor(row: DictRow) -> str:
    return f"{(row['created_at'] - _EPOCH) // timedelta(microseconds=1)}.{row['key']}"


def _returned(row: T | None) -> T:
    """The row a statement always returns (one it inserted, or one held locked)."""
    if row is None:
        raise RuntimeError("the statement returned no row")
    return row


def parse_cursor(cursor: str) -> tuple[datetime, str] | None:
    """The (created_at, key) a cursor from a previous page stands for, or None if it is not one."""
    match = _CURSOR.fullmatch(cursor)
    if match is None:
        return None
    try:
        return _EPOCH + timedelta(microseconds=int(match[1])), match[2]
    except OverflowError:
        return None


def _record_amishi(conn: psycopg.Connection, amishi: Amishi) -> None:
    conn.execute(_RECORD_AMISHI, {**amishi.public(), "email": amishi.email})


def _name_taken(conn: psycopg.Connection, owner_id: str, parent_key: str | None, name: str) -> NameTaken:
    row = conn.execute(
        "SELECT state FROM cotonomas WHERE owner_id = %s AND coalesce(parent_key, '') = coalesce(%s, '') AND name = %s",
        (owner_id, parent_key, name),
    ).fetchone()
    # Gone already: it was being undone, so the name is free again.
    return NameTaken(pending=row is None or row[0] != "ready")


class PendingCreation:
    """A cotonoma row in 'creating', locked in an open transaction: finish it or discard it."""

    def __init__(self, conn: psycopg.Connection, key: str, from_coto: str | None = None):
        self.conn = conn
        self.key = key
        # The coto it is made from (cotonomatize), which an undo gives back rather than deletes.
        self.from_coto = from_coto

    def ready(self) -> Cotonoma:
        """Make it visible; the cotonoma as everyone will see it once committed."""
        self.conn.execute("UPDATE cotonomas SET state = 'ready' WHERE key = %s", (self.key,))
        with self.conn.cursor(row_factory=dict_row) as cur:
            return _cotonoma(_returned(cur.execute(_ONE, {"key": self.key}).fetchone()))

    def discard(self) -> None:
        self.conn.execute("DELETE FROM cotonomas WHERE key = %s", (self.key,))


class PendingDeletion:
    """A cotonoma row in 'deleting', locked in an open transaction: once the
    cotos service has answered, finish it or put it back."""

    def __init__(self, conn: psycopg.Connection, key: str):
        self.conn = conn
        self.key = key

    def finish(self) -> None:
        """Delete the row (its members and invitations with it) and say so on its stream."""
        self.conn.execute("DELETE FROM cotonomas WHERE key = %s", (self.key,))
        write_event(self.conn, [stream_of(self.key)], "cotonoma-deleted", {"key": self.key})

    def keep(self) -> None:
        """It holds cotos after all: it is back, as it was."""
        self.conn.execute("UPDATE cotonomas SET state = 'ready' WHERE key = %s", (self.key,))


class CotonomaStore:
    def __init__(self, pool: psycopg_pool.ConnectionPool):
        self.pool = pool

    @contextmanager
    def _writing(self, amishi: Amishi) -> Iterator[psycopg.Connection]:
        """A transaction for a write by this amishi, who is recorded first in a
        transaction of their own: a write may wait on another service, and the
        amishi's row must not stay locked meanwhile."""
        with self.pool.connection() as conn:
            with conn.transaction():
                _record_amishi(conn, amishi)
            with conn.transaction():
                yield conn

    @staticmethod
    def _reach(conn: psycopg.Connection, key: str, viewer: Viewer) -> Place | None:
        if not KEY.fullmatch(key):
            return None
        with conn.cursor(row_factory=dict_row) as cur:
            chain = cur.execute(_CHAIN, {"key": key, "amishi_id": viewer.id, "email": viewer.email}).fetchall()
        # Root first: everything from the first cotonoma that grants access down to this one may be seen.
        granting = next((n for n, link in enumerate(chain) if link["grants"]), None)
        if granting is None:
            return None
        this = chain[-1]
        ancestors: list[Ancestor] = [{"key": link["key"], "name": link["name"]} for link in chain[granting:-1]]
        return Place(this["key"], this["name"], this["parent_key"], this["owner_id"], ancestors)

    def reach(self, key: str, viewer: Viewer) -> Place | None:
        """The cotonoma if the viewer may reach it, else None (unknown and forbidden alike)."""
        with autocommitting(self.pool) as conn:
            return self._reach(conn, key, viewer)

    def reachable(self, viewer: Viewer) -> list[str]:
        """The keys of every cotonoma the viewer may reach (as reach() decides for each)."""
        with autocommitting(self.pool) as conn:
            rows = conn.execute(_REACHABLE, {"amishi_id": viewer.id, "email": viewer.email}).fetchall()
        return [key for (key,) in rows]

    def with_children(self, key: str) -> tuple[Cotonoma, list[Cotonoma]]:
        """A cotonoma and its children, newest first (whoever may reach it may reach them)."""
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            rows = [_cotonoma(row) for row in cur.execute(_WITH_CHILDREN, {"key": key}).fetchall()]
        [cotonoma] = [c for c in rows if c["key"] == key]
        return cotonoma, [c for c in rows if c["key"] != key]

    def page(
        self, viewer: Viewer, before: tuple[datetime, str] | None, limit: int
    ) -> tuple[list[Cotonoma], str | None]:
        """The cotonomas the viewer owns or is a member of, newest first, and the cursor of the next page."""
        before_at, before_key = before if before else ("infinity", "")
        params = {
            "amishi_id": viewer.id,
            "email": viewer.email,
            "before_at": before_at,
            "before_key": before_key,
            "limit": limit + 1,
        }
        with autocommitting(self.pool) as conn, conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(_PAGE, params).fetchall()
        return [_cotonoma(row) for row in rows[:limit]], (_cursor(rows[limit - 1]) if len(rows) > limit else None)

    def begin_creation(self, owner: Amishi, name: str, parent_key: str | None, from_coto: str | None = None) -> str:
        """Commit a new cotonoma in 'creating' and return its key; from_coto: the
        coto it is made from (MadeAlready if a cotonoma was, or is being, made from it)."""
        key = new_key()
        with self._writing(owner) as conn:
            if parent_key is not None and self._reach(conn, parent_key, Viewer.of(owner)) is None:
                raise NoSuchCotonoma()
            # Held to the commit: a deletion of the parent (which locks it FOR
            # UPDATE, then counts its children) waits for this child or is seen
            # to have begun, so no child is made under a parent on its way out.
            if parent_key is not None and not conn.execute(_STILL_READY, (parent_key,)).fetchone():
                raise NoSuchCotonoma()
            try:
                with conn.transaction():
                    conn.execute(
                        "INSERT INTO cotonomas (key, name, owner_id, parent_key, state, from_coto)"
                        " VALUES (%s, %s, %s, %s, 'creating', %s)",
                        (key, name, owner.id, parent_key, from_coto),
                    )
            except psycopg.errors.UniqueViolation:
                # Either index may refuse a second cotonomatize of the same coto first (the
                # name is the same too): the coto's own cotonoma is what it asked for.
                made = self.made_from(from_coto) if from_coto is not None else None
                if made is not None:
                    raise MadeAlready(*made) from None
                raise _name_taken(conn, owner.id, parent_key, name) from None
        return key

    def made_from(self, coto_id: str) -> tuple[str, bool] | None:
        """The key of the cotonoma made from this coto, and whether it is ready; None if none is."""
        with autocommitting(self.pool) as conn:
            row = conn.execute("SELECT key, state = 'ready' FROM cotonomas WHERE from_coto = %s", (coto_id,)).fetchone()
        return (row[0], bool(row[1])) if row else None

    def one(self, key: str) -> Cotonoma:
        """A cotonoma as the contract shows it, whatever its state (the caller knows it exists)."""
        with autocommitting(self.pool) as conn, conn.cursor(row_factory=dict_row) as cur:
            return _cotonoma(_returned(cur.execute(_ONE, {"key": key}).fetchone()))

    @contextmanager
    def finishing_creation(self, key: str) -> Iterator[PendingCreation | None]:
        """The creation of `key`, locked so the reconciler leaves it alone; None if
        the reconciler has undone it already."""
        with self.pool.connection() as conn, conn.transaction():
            row = conn.execute(
                "SELECT key, from_coto::text FROM cotonomas WHERE key = %s AND state = 'creating' FOR UPDATE", (key,)
            ).fetchone()
            yield PendingCreation(conn, key, row[1]) if row else None

    @contextmanager
    def oldest_stuck_creation(self, older_than: timedelta) -> Iterator[PendingCreation | None]:
        """The oldest creation left unfinished for longer than `older_than`, locked;
        one that another process holds (finishing or undoing it) is skipped."""
        with self.pool.connection() as conn, conn.transaction():
            row = conn.execute(
                "SELECT key, from_coto::text FROM cotonomas WHERE state = 'creating' AND created_at < now() - %s"
                " ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED",
                (older_than,),
            ).fetchone()
            yield PendingCreation(conn, row[0], row[1]) if row else None

    def begin_deletion(self, key: str, owner: Amishi) -> None:
        """Commit the owner's cotonoma as 'deleting' (gone for everyone), unless
        cotonomas are made in it (CotonomaNotEmpty; any state, as one being
        created will hold a coto there). NoSuchCotonoma if it is not theirs."""
        with self._writing(owner) as conn:
            row = conn.execute(
                "SELECT key FROM cotonomas WHERE key = %s AND owner_id = %s AND state = 'ready' FOR UPDATE",
                (key, owner.id),
            ).fetchone()
            if row is None:
                raise NoSuchCotonoma()
            (children,) = _returned(
                conn.execute("SELECT count(*) FROM cotonomas WHERE parent_key = %s", (key,)).fetchone()
            )
            if children:
                raise CotonomaNotEmpty(cotonomas=children)
            conn.execute("UPDATE cotonomas SET state = 'deleting', updated_at = now() WHERE key = %s", (key,))

    @contextmanager
    def finishing_deletion(self, key: str) -> Iterator[PendingDeletion | None]:
        """The deletion of `key`, locked so the reconciler leaves it alone; None
        if the reconciler has settled it already."""
        with self.pool.connection() as conn, conn.transaction():
            row = conn.execute(
                "SELECT key FROM cotonomas WHERE key = %s AND state = 'deleting' FOR UPDATE", (key,)
            ).fetchone()
            yield PendingDeletion(conn, key) if row else None

    @contextmanager
    def oldest_stuck_deletion(self, older_than: timedelta) -> Iterator[PendingDeletion | None]:
        """The oldest deletion left unsettled for longer than `older_than`, locked;
        one that another process holds is skipped."""
        with self.pool.connection() as conn, conn.transaction():
            row = conn.execute(
                "SELECT key FROM cotonomas WHERE state = 'deleting' AND updated_at < now() - %s"
                " ORDER BY updated_at LIMIT 1 FOR UPDATE SKIP LOCKED",
                (older_than,),
            ).fetchone()
            yield PendingDeletion(conn, row[0]) if row else None

    @contextmanager
    def renaming(self, key: str, owner: Amishi, name: str) -> Iterator[Cotonoma]:
        """Rename the owner's cotonoma; committed when the block ends, undone if
        it raises. Yields the cotonoma as it will be once committed."""
        with self._writing(owner) as conn:
            row = conn.execute(
                "SELECT parent_key FROM cotonomas WHERE key = %s AND owner_id = %s AND state = 'ready' FOR UPDATE",
                (key, owner.id),
            ).fetchone()
            if row is None:
                raise NoSuchCotonoma()
            try:
                with conn.transaction():
                    conn.execute("UPDATE cotonomas SET name = %s, updated_at = now() WHERE key = %s", (name, key))
            except psycopg.errors.UniqueViolation:
                raise _name_taken(conn, owner.id, row[0], name) from None
            with conn.cursor(row_factory=dict_row) as cur:
                cotonoma = _cotonoma(_returned(cur.execute(_ONE, {"key": key}).fetchone()))
            yield cotonoma
            # Once the block is done (the cotos call with it), so the stream is locked only until the commit.
            write_event(conn, [stream_of(key)], "cotonoma-updated", cotonoma)

    def name_and_parent(self, key: str) -> tuple[str, str | None] | None:
        with self.pool.connection() as conn:
            return conn.execute(
                "SELECT name, parent_key FROM cotonomas WHERE key = %s AND state = 'ready'", (key,)
            ).fetchone()

    def members(self, key: str) -> list[Member]:
        """The members of a cotonoma, the most recently added first."""
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT email, added_at FROM members WHERE cotonoma_key = %s ORDER BY added_at DESC, email", (key,)
            ).fetchall()
        return [{"email": email, "added_at": iso_utc(added_at)} for email, added_at in rows]

    @contextmanager
    def adding_member(self, key: str, owner: Amishi, email: str, quiet: timedelta) -> Iterator[Addition]:
        """Add a member and, unless one was mailed to the address for this cotonoma
        within `quiet`, record its invitation as mailed now; committed when the
        block ends, undone if it raises. AlreadyMember before anything is yielded."""
        with self._writing(owner) as conn:
            try:
                with conn.transaction():
                    email, added_at = _returned(
                        conn.execute(
                            "INSERT INTO members (cotonoma_key, email, added_by) VALUES (%s, %s, %s)"
                            " RETURNING email, added_at",
                            (key, email, owner.id),
                        ).fetchone()
                    )
            except psycopg.errors.UniqueViolation:
                raise AlreadyMember(email) from None
            mailed = conn.execute(
                "INSERT INTO invitations (cotonoma_key, email, mailed_at) VALUES (%s, %s, now())"
                " ON CONFLICT (cotonoma_key, email) DO UPDATE SET mailed_at = now()"
                " WHERE invitations.mailed_at <= now() - %s RETURNING mailed_at",
                (key, email, quiet),
            ).fetchone()
            yield Addition(key, {"email": email, "added_at": iso_utc(added_at)}, added_at, mail_due=mailed is not None)
            _tell_members_changed(conn, "member-added", key, email)

    def undo_addition(self, addition: Addition) -> None:
        """Remove the member just added and forget its invitation, unless either
        has been changed since (both were written at the same `now()`)."""
        key, email, at = addition.key, addition.member["email"], addition.at
        with self.pool.connection() as conn, conn.transaction():
            removed = conn.execute(
                "DELETE FROM members WHERE cotonoma_key = %s AND email = %s AND added_at = %s", (key, email, at)
            ).rowcount
            if removed:
                _tell_members_changed(conn, "member-removed", key, email)
            conn.execute(
                "DELETE FROM invitations WHERE cotonoma_key = %s AND email = %s AND mailed_at = %s", (key, email, at)
            )

    def remove_member(self, key: str, owner: Amishi, email: str) -> bool:
        """Whether the address was a member (and is no longer)."""
        with self._writing(owner) as conn:
            removed = conn.execute("DELETE FROM members WHERE cotonoma_key = %s AND email = %s", (key, email)).rowcount
            if removed:
                _tell_members_changed(conn, "member-removed", key, email)
            return removed == 1
