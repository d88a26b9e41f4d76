"""`make backup` and `make restore` on a running stack: the restore drill
(write, back up, wipe, restore, read back the same) and a damaged backup that
changes nothing."""

import json
import subprocess

import yaml
from conftest import PROFILE, ROOT, Person

from cotoami_stack.profiles import DATABASE_SERVICES
from cotoami_stack.services import migrate, reset_databases


def what_owner_sees(person: Person, key: str) -> dict[str, object]:
    return {
        "session": person.call("GET", "/api/auth/session").json(),
        "home": person.timeline(),
        "room": person.timeline(key),
        "cotonomas": person.call("GET", "/api/cotonomas").json(),
        "members": person.call("GET", f"/api/cotonomas/{key}/members").json(),
    }


def test_the_restore_drill_brings_back_what_was_written(stack, owner, member, tmp_path):
    room = owner.create("Kept room")
    owner.post("kept at home")
    owner.post("kept in the room", room["key"])
    assert owner.call("POST", f"/api/cotonomas/{room['key']}/members", json={"email": member.address}).ok
    member.post("a member's coto", room["key"])
    before = what_owner_sees(owner, room["key"])

    backed_up = stack.stack_command("backup", "--into", str(tmp_path))
    assert backed_up.returncode == 0, backed_up.stderr
    (folder,) = (path for path in tmp_path.iterdir() if (path / "manifest.json").exists())
    manifest = json.loads((folder / "manifest.json").read_text())
    assert set(manifest["databases"]) == set(DATABASE_SERVICES)

    # Wiped: every database dropped and made again, empty.
    reset_databases(PROFILE)
    migrate(PROFILE)
    assert owner.timeline() == []
    assert owner.call("GET", f"/api/cotos?cotonoma={room['key']}").status_code == 404

    restored = stack.stack_command("restore", "--from", str(folder), "--into", str(tmp_path))
    assert restored.returncode == 0, restored.stderr
    stack.wait_until(lambda: owner.call("GET", "/api/cotos").ok, 10, "the services answering again")
    assert what_owner_sees(owner, room["key"]) == before
    assert member.timeline(room["key"]) == before["room"]
    # The refresh token, kept in auth's database, works again.
    assert owner.call("POST", "/api/auth/refresh").status_code in (200, 204)
    # Writing goes on where it left off.
    later = owner.post("written after the restore")
    assert owner.timeline()[0]["id"] == later["id"]
    # What was there before the restore (the wiped databases) was itself backed up first.
    assert any(path.name.endswith("-before-restore") for path in tmp_path.iterdir())


def test_a_damaged_backup_changes_nothing(stack, owner, tmp_path):
    owner.post("still here")
    assert stack.stack_command("backup", "--into", str(tmp_path)).returncode == 0
    (folder,) = tmp_path.iterdir()
    dump = folder / "cotos.dump"
    damaged = bytearray(dump.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    dump.write_bytes(bytes(damaged))
    owner.post("written after the backup")

    refused = stack.stack_command("restore", "--from", str(folder), "--into", str(tmp_path))
    assert refused.returncode != 0
    assert "cotos.dump is missing or damaged" in refused.stderr
    assert [coto["content"] for coto in owner.timeline()[:2]] == ["written after the backup", "still here"]
    assert list(tmp_path.iterdir()) == [folder]  # not even a backup of the present was taken


def test_restore_without_a_backup_says_so(stack, tmp_path):
    refused = stack.stack_command("restore", "--into", str(tmp_path))
    assert refused.returncode != 0
    assert "no backup in" in refused.stderr


def production_backup_script() -> str:
    rendered = subprocess.run(
        ["kubectl", "kustomize", str(ROOT / "k8s" / "overlays" / "production")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    (cronjob,) = (doc for doc in yaml.safe_load_all(rendered) if doc and doc["kind"] == "CronJob")
    (container,) = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    script: str = container["args"][0]
    return script


def test_the_production_cronjobs_backups_are_what_make_restore_reads(stack, owner, tmp_path):
    """The CronJob's own script, run here with its mounts as folders, writes a backup that
    `make restore` checks and restores; it keeps the newest BACKUPS_KEPT."""
    coto = owner.post("backed up by the CronJob")
    backups, secrets = tmp_path / "backups", tmp_path / "databases"
    backups.mkdir()
    (backups / "2020-01-01T000000Z").mkdir()  # an old one, pruned
    for service in DATABASE_SERVICES:
        (secrets / service).mkdir(parents=True)
        (secrets / service / "url").write_text(PROFILE.database_url(service))
    script = production_backup_script().replace("/etc/cotoami/databases", str(secrets))
    script = script.replace("/backups", str(backups))
    ran = subprocess.run(["sh", "-c", script], env={"PATH": "/usr/bin:/bin", "BACKUPS_KEPT": "1"}, text=True)
    assert ran.returncode == 0
    (folder,) = backups.iterdir()
    owner.call("DELETE", f"/api/cotos/{coto['id']}")
    restored = stack.stack_command("restore", "--from", str(folder), "--into", str(tmp_path / "kept"))
    assert restored.returncode == 0, restored.stderr
    stack.wait_until(lambda: owner.call("GET", f"/api/cotos/{coto['id']}").ok, 10, "the coto back")
