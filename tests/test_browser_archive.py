"""Export and import in a real browser: "Your data" beside Sign out, "Export my data"
downloads cotoami-export.json, and "Import…" sends a file, shows its progress, then
the counts and every rejected item with its reason; what was imported shows on the
timeline at once."""

import json
import uuid

from conftest import unique_address
from playwright.sync_api import expect
from test_browser import chromium, page_of, post  # noqa: F401  (fixtures, shared)
from test_browser_cotonomas import signed_in_page
from test_browser_pages import assert_accessible


def open_menu(page) -> None:
    page.get_by_role("button", name="Your data").click()
    expect(page.locator("#archive-menu")).to_be_visible()


def import_file(page, tmp_path, data: object, name: str = "cotoami-export.json") -> None:
    """Chooses the file in the Import dialog (opened from the menu unless it is open) and imports it."""
    path = tmp_path / name
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    dialog = page.get_by_role("dialog", name="Import")
    if not dialog.is_visible():
        open_menu(page)
        page.get_by_role("button", name="Import…").click()
    expect(dialog).to_be_visible()
    dialog.get_by_label("Export file").set_input_files(str(path))
    dialog.get_by_role("button", name="Import", exact=True).click()


def test_export_then_import_into_another_account_shows_the_counts_and_reasons(stack, mailbox, page_of, tmp_path):  # noqa: F811
    page = signed_in_page(stack, mailbox, page_of, unique_address("exporter"))
    for text in ("first note", "second note"):
        post(page, text)
    open_menu(page)
    with page.expect_download() as download:
        page.get_by_role("button", name="Export my data").click()
    assert download.value.suggested_filename == "cotoami-export.json"
    exported = json.loads(download.value.path().read_text())
    assert [c["content"] for c in exported["cotos"]] == ["first note", "second note"]
    expect(page.locator("#archive-menu")).to_be_hidden()

    # Another person imports it: every coto is someone else's, and says so.
    other = signed_in_page(stack, mailbox, page_of, unique_address("importer"))
    mine = {"id": str(uuid.uuid4()), "content": "brought along", "inserted_at": 1_537_943_597_410}
    exported["cotos"].append(mine)
    import_file(other, tmp_path, exported)
    dialog = other.get_by_role("dialog", name="Import")
    expect(dialog.get_by_role("status")).to_have_text("Imported, with 2 items not imported.")
    counts = dialog.locator("#import-counts")
    expect(counts.locator("dt")).to_have_text(
        ["Cotos added", "Cotos updated", "Cotonomas added or updated", "Connections and pins", "Rejected"]
    )
    expect(counts.locator("dd")).to_have_text(["1", "0", "0", "0", "2"])
    expect(dialog.locator("#import-rejected li")).to_have_text(
        [
            "Coto “first note”: the id belongs to someone else",
            "Coto “second note”: the id belongs to someone else",
        ]
    )
    assert_accessible(other, "the import's report")
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()
    expect(other.get_by_role("button", name="Your data")).to_be_focused()
    # On the timeline at once, in its place by date (2018, below today's).
    post(other, "written today")
    expect(other.locator("#timeline .coto-content")).to_have_text(["written today", "brought along"])


def test_a_file_that_is_not_an_export_says_why(stack, mailbox, page_of, tmp_path):  # noqa: F811
    page = signed_in_page(stack, mailbox, page_of, unique_address("hostile"))
    import_file(page, tmp_path, "{ not json", name="broken.json")
    error = page.locator("#import-error")
    expect(error).to_contain_text("Invalid JSON")
    expect(error).to_contain_text("The file is not JSON")
    import_file(page, tmp_path, {"cotos": 5, "connections": [], "amishi": {"id": "x"}}, name="wrong.json")
    expect(error).to_contain_text("cotos must be a list of cotos.")
    expect(page.locator("#timeline .coto")).to_have_count(0)


def test_a_large_import_shows_its_progress_and_then_the_result(stack, mailbox, page_of, tmp_path):  # noqa: F811
    page = signed_in_page(stack, mailbox, page_of, unique_address("large"))
    cotos = [
        {"id": str(uuid.uuid4()), "content": f"note {i}", "inserted_at": 1_500_000_000_000 + i} for i in range(3000)
    ]
    import_file(page, tmp_path, {"amishi": {"id": "someone"}, "cotos": cotos, "connections": []})
    dialog = page.get_by_role("dialog", name="Import")
    expect(dialog.get_by_role("status")).to_contain_text("of 3,000 items", timeout=15_000)
    expect(dialog.locator("#import-progress")).to_be_visible()
    expect(dialog.get_by_role("status")).to_have_text("Imported.", timeout=60_000)
    expect(dialog.locator("#import-counts dd").first).to_have_text("3,000")
    expect(dialog.locator("#import-progress")).to_be_hidden()
    page.keyboard.press("Escape")
    expect(page.locator("#timeline .coto-content").first).to_have_text("note 2999")
