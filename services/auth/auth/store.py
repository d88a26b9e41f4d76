"""Storage of accounts, sign-in links and sessions (PostgreSQL). No Falcon here."""

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

import psycopg
import psycopg_pool
from psycopg.rows import dict_row

Row = TypeVar("Row")

# A rotated refresh token still works this long: two tabs refreshing at once
# must not look like a stolen token.
ROTATION_GRACE = timedelta(seconds=30)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def new_token() -> str:
    """256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


class LinkRefused(Exception):
    """A sign-in link that cannot sign anyone in; `reason` says why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason  # "unknown", "used" or "expired"


class SessionEnded(Exception):
    """A refresh token that no longer refreshes anything."""


@dataclass(frozen=True)
class AmishiRecord:
    id: str
    email: str
    display_name: str


@dataclass(frozen=True)
class Link:
    """Whom a sign-in link signs in, and the pad it would save (None if none)."""

    email: str
    anonymous_id: str | None


@dataclass(frozen=True)
class SignIn:
    amishi: AmishiRecord
    created: bool
    refresh_token: str


class AccountStore:
    """Amishis, their sign-in links and their sessions, in auth's own database."""

    def __init__(self, pool: psycopg_pool.ConnectionPool):
        self.pool = pool

    def issue_link(self, email: str, anonymous_id: str | None, save_anonymous: bool, lifetime: timedelta) -> str:
        token = new_token()
        with self.pool.connection() as conn:
            conn.execute(
                "INSERT INTO signin_tokens (token_hash, email, anonymous_id, save_anonymous, expires_at)"
                " VALUES (%s, %s, %s, %s, now() + %s)",
                (token_hash(token), email, anonymous_id, save_anonymous, lifetime),
            )
        return token

    def link(self, token: str) -> Link:
        """What a link would do, consuming nothing."""
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT email, CASE WHEN save_anonymous THEN anonymous_id END,"
                " used_at IS NOT NULL, expires_at <= now() FROM signin_tokens WHERE token_hash = %s",
                (token_hash(token),),
            ).fetchone()
        if row is None:
            raise LinkRefused("unknown")
        email, anonymous_id, used, expired = row
        if used or expired:
            raise LinkRefused("used" if used else "expired")
        return Link(str(email), anonymous_id)

    def redeem_link(self, token: str, refresh_lifetime: timedelta, save_anonymous: bool = True) -> SignIn:
        """Consume the link (once, atomically), make the amishi on first use, open a
        session and record the claim on the anonymous cotos, unless the person
        declines them (`save_anonymous` false): all or nothing."""
        with self.pool.connection() as conn, conn.transaction():
            cur = conn.cursor(row_factory=dict_row)
            link = cur.execute(
                "UPDATE signin_tokens SET used_at = now()"
                " WHERE token_hash = %s AND used_at IS NULL AND expires_at > now()"
                " RETURNING email, anonymous_id, save_anonymous",
                (token_hash(token),),
            ).fetchone()
            if link is None:
                state = cur.execute(
                    "SELECT used_at IS NOT NULL AS used FROM signin_tokens WHERE token_hash = %s", (token_hash(token),)
                ).fetchone()
                raise LinkRefused("unknown" if state is None else "used" if state["used"] else "expired")
            row = cur.execute(
                "INSERT INTO amishis (email, display_name) VALUES (%s, %s)"
                " ON CONFLICT (email) DO UPDATE SET email = EXCLUDED.email"
                " RETURNING id, email, display_name, xmax = 0 AS created",
                (link["email"], link["email"].split("@", 1)[0]),
            ).fetchone()
            if row is None:  # INSERT … ON CONFLICT DO UPDATE … RETURNING always returns the row
                raise RuntimeError("the amishi upsert returned no row")
            amishi = AmishiRecord(str(row["id"]), row["email"], row["display_name"])
            refresh_token = self._open_session(cur, amishi.id, uuid.uuid4(), refresh_lifetime)
            if save_anonymous and link["save_anonymous"] and link["anonymous_id"]:
                # The first sign-in to claim a pad takes it; the pad is empty for any later one.
                cur.execute(
                    "INSERT INTO anonymous_claims (anonymous_id, amishi_id) VALUES (%s, %s)"
                    " ON CONFLICT (anonymous_id) DO NOTHING",
                    (link["anonymous_id"], amishi.id),
                )
        return SignIn(amishi, row["created"], refresh_token)

    @staticmethod
    def _open_session(cur: psycopg.Cursor[Row], amishi_id: str, session_id: uuid.UUID, lifetime: timedelta) -> str:
        token = new_token()
        cur.execute(
            "INSERT INTO refresh_tokens (token_hash, amishi_id, session_id, expires_at)"
            " VALUES (%s, %s, %s, now() + %s)",
            (token_hash(token), amishi_id, session_id, lifetime),
        )
        return token

    def refresh(self, token: str, lifetime: timedelta) -> tuple[AmishiRecord, str | None]:
        """The amishi, and the session's next refresh token (None when a parallel
        refresh just rotated it and the browser already holds the new one)."""
        with self.pool.connection() as conn, conn.transaction():
            cur = conn.cursor(row_factory=dict_row)
            row = cur.execute(
                "SELECT r.session_id, r.revoked_at IS NOT NULL AS revoked, r.expires_at <= now() AS expired,"
                " r.rotated_at IS NOT NULL AS rotated, r.rotated_at > now() - %s AS in_grace,"
                " a.id, a.email, a.display_name"
                " FROM refresh_tokens r JOIN amishis a ON a.id = r.amishi_id"
                " WHERE r.token_hash = %s FOR UPDATE OF r",
                (ROTATION_GRACE, token_hash(token)),
            ).fetchone()
            if row is None or row["revoked"] or row["expired"]:
                raise SessionEnded()
            amishi = AmishiRecord(str(row["id"]), row["email"], row["display_name"])
            if row["rotated"] and row["in_grace"]:
                return amishi, None
            if not row["rotated"]:
                cur.execute("UPDATE refresh_tokens SET rotated_at = now() WHERE token_hash = %s", (token_hash(token),))
                return amishi, self._open_session(cur, amishi.id, row["session_id"], lifetime)
            # An old token came back after its grace: someone else has it. End the session.
            self._revoke_session(cur, row["session_id"])
        raise SessionEnded()

    def sign_out(self, token: str) -> None:
        with self.pool.connection() as conn, conn.transaction():
            cur = conn.cursor()
            row = cur.execute(
                "SELECT session_id FROM refresh_tokens WHERE token_hash = %s", (token_hash(token),)
            ).fetchone()
            if row:
                self._revoke_session(cur, row[0])

    @staticmethod
    def _revoke_session(cur: psycopg.Cursor[Row], session_id: uuid.UUID) -> None:
        cur.execute(
            "UPDATE refresh_tokens SET revoked_at = now() WHERE session_id = %s AND revoked_at IS NULL", (session_id,)
        )

    def rename(self, amishi_id: str, display_name: str) -> None:
        with self.pool.connection() as conn:
            conn.execute("UPDATE amishis SET display_name = %s WHERE id = %s", (display_name, amishi_id))

    def pending_claims(self, amishi_id: str) -> list[str]:
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT anonymous_id FROM anonymous_claims WHERE amishi_id = %s AND done_at IS NULL", (amishi_id,)
            ).fetchall()
        return [row[0] for row in rows]

    def claim_done(self, anonymous_id: str) -> None:
        with self.pool.connection() as conn:
            conn.execute("UPDATE anonymous_claims SET done_at = now() WHERE anonymous_id = %s", (anonymous_id,))
