"""Writing an export: `cotoami-export.json` in the original Cotoami's format,
made piece by piece as the owners' pages arrive, so that a person with
100,000 cotos never has them all in memory at once. No Falcon here.

The first page of each kind is read before anything is written, so a service
that is down is a 503 rather than half a file. One that fails later cuts the
download short: the file then is not JSON, and the browser says the download
failed (a 200 was sent already)."""

from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import chain
from typing import Any

import orjson

from archive.fileformat import ms_of_iso
from archive.owners import Owners
from cotoami_common.tokens import Amishi

FORMAT = "cotoami-export/2"


class Export:
    """One person's export, its first pages read: iterate for the file's bytes."""

    def __init__(self, owners: Owners, amishi: Amishi):
        self.amishi = amishi
        # Their own cotonomas: as many as they made (hundreds, not 100,000s), held for the cotos' embeds.
        self.cotonomas: dict[str, dict[str, Any]] = {
            c["key"]: c for page in owners.cotonoma_pages(amishi.id) for c in page
        }
        self.cotos = _primed(owners.coto_pages(amishi.id))
        self.connections = _primed(owners.connection_pages(amishi.id))
        self.pins = _primed(owners.pin_pages(amishi.id))
        # The coto standing for each of their cotonomas, met among their cotos (for pins).
        self.cotonoma_cotos: dict[str, str] = {}

    def __iter__(self) -> Iterator[bytes]:
        amishi = {**self.amishi.own(), "owner": False}
        yield b'{"amishi": ' + orjson.dumps(amishi) + b',\n"cotos": ['
        first = True
        for page in self.cotos:
            chunk = bytearray()
            for coto in page:
                chunk += (b"\n" if first else b",\n") + orjson.dumps(self._coto(coto))
                first = False
            yield bytes(chunk)
        yield b'\n],\n"connections": ['
        first = True
        pins = ([{"pin": pin} for pin in page] for page in self.pins)
        for page in chain(self.connections, pins):
            chunk = bytearray()
            for item in page:
                written = self._pin(item["pin"]) if "pin" in item else self._connection(item)
                chunk += (b"\n" if first else b",\n") + orjson.dumps(written)
                first = False
            yield bytes(chunk)
        exported = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        yield b'\n],\n"cotoami": ' + orjson.dumps({"format": FORMAT, "exported_at": exported}) + b"}\n"

    def _coto(self, coto: dict[str, Any]) -> dict[str, Any]:
        key = coto.get("cotonoma_key")
        written: dict[str, Any] = {
            "id": coto["id"],
            "content": coto["content"],
            "summary": None,
            "posted_in_id": coto.get("posted_in_key"),
            "as_cotonoma": key is not None,
            "cotonoma": None,
            "inserted_at": ms_of_iso(coto["created_at"]),
            "updated_at": ms_of_iso(coto["updated_at"]),
        }
        if key is not None:
            self.cotonoma_cotos[key] = coto["id"]
            cotonoma = self.cotonomas.get(key, {})
            members = cotonoma.get("members", [])
            written["cotonoma"] = {
                "id": key,
                "key": key,
                "name": cotonoma.get("name", coto["content"]),
                "shared": bool(members),
                "pinned": False,
                "timeline_revision": 0,
                "graph_revision": 0,
                "inserted_at": ms_of_iso(cotonoma.get("created_at", coto["created_at"])),
                "updated_at": ms_of_iso(cotonoma.get("updated_at", coto["updated_at"])),
                "last_post_timestamp": None,
                "members": members,
            }
        return written

    def _connection(self, connection: dict[str, Any]) -> dict[str, Any]:
        return {
            "start": connection["start"],
            "end": connection["end"],
            "created_by": connection.get("created_by", self.amishi.id),
            "created_at": ms_of_iso(connection["created_at"]),
            "linking_phrase": connection.get("linking_phrase"),
            "order": connection.get("order"),
            "created_in": connection.get("created_in"),
        }

    def _pin(self, pin: dict[str, Any]) -> dict[str, Any]:
        key = pin.get("cotonoma_key")
        written = {
            # The original's pin: from the amishi (home), or from the cotonoma's coto.
            "start": self.amishi.id if key is None else self.cotonoma_cotos.get(key, key),
            "end": pin["coto_id"],
            "created_by": pin.get("created_by", self.amishi.id),
            "created_at": ms_of_iso(pin["created_at"]),
            "linking_phrase": None,
            "order": pin.get("order"),
            "created_in": key,
        }
        if key is not None:
            written["pinned_in"] = key
        return written


def _primed(pages: Iterator[list[dict[str, Any]]]) -> Iterator[list[dict[str, Any]]]:
    """The pages, the first one read now (so a service that is down is known before a byte is sent)."""
    first = next(pages, [])
    return chain([first], pages)
