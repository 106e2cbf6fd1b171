"""The plan page's Before and After trees in a real browser: what they show is what the apply does."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import Sidecar, sign_in

MOVES = "matters/e2e-trees-move"
DELETES = "matters/e2e-trees-delete"

PAGE_PATIENCE = 60_000  # ms: a bound on a hung apply worker (the page reloads every 5 s)


def _row(tree: Locator, path: str) -> Locator:
    """The row of ``path`` in a tree (its name carries the full path as its title)."""
    return tree.locator("li", has=tree.page.locator(f'span.name[title="{path}"]'))


def test_a_move_into_an_existing_folder_shows_in_that_folder_after(page: Page, sidecar: Sidecar) -> None:
    """A file moved into a folder the plan did not create shows there in After, and among what changes."""
    sidecar.put(f"{MOVES}/inbox/a.pdf", "alpha")
    sidecar.put(f"{MOVES}/done/z.pdf", "zulu")
    plan_id = sidecar.submit(
        {
            "pva": "plan/v1",
            "title": "File a.pdf as done",
            "scope": [MOVES],
            "ops": [{"op": "move", "src": f"{MOVES}/inbox/a.pdf", "dst": f"{MOVES}/done/a.pdf"}],
        }
    )
    sign_in(page, sidecar, "alice")
    page.goto(f"/plans/{plan_id}")
    before = page.get_by_role("region", name="Before")
    after = page.get_by_role("region", name="After")
    expect(_row(before, f"{MOVES}/inbox/a.pdf")).to_contain_text("MOVES")
    expect(_row(after, f"{MOVES}/done/a.pdf")).to_contain_text("MOVED")
    expect(_row(after, f"{MOVES}/done/z.pdf")).to_be_visible()
    expect(_row(after, f"{MOVES}/inbox/a.pdf")).to_have_count(0)

    page.get_by_role("link", name="Show only what changes").click()
    after = page.get_by_role("region", name="After")
    expect(_row(after, f"{MOVES}/done/a.pdf")).to_contain_text("MOVED")
    expect(after).not_to_contain_text("Nothing here")


def test_a_folder_delete_and_its_revert_show_the_folder_going_and_coming_back(
    page: Page, sidecar: Sidecar
) -> None:
    """A deleted folder is gone from After; its revert plan's After shows it back with its files."""
    sidecar.put(f"{DELETES}/old/n1.txt", "note one")
    sidecar.put(f"{DELETES}/old/sub/n2.txt", "note two")
    sidecar.put(f"{DELETES}/keep.txt", "keep")
    plan_id = sidecar.submit(
        {
            "pva": "plan/v1",
            "title": "Remove the old notes",
            "scope": [DELETES],
            "ops": [{"op": "delete", "path": f"{DELETES}/old"}],
        }
    )
    sign_in(page, sidecar, "alice")
    page.goto(f"/plans/{plan_id}")
    before = page.get_by_role("region", name="Before")
    after = page.get_by_role("region", name="After")
    expect(_row(before, f"{DELETES}/old")).to_contain_text("TO TRASH")
    expect(_row(before, f"{DELETES}/old/sub/n2.txt")).to_contain_text("goes to trash with its folder")
    expect(_row(after, f"{DELETES}/old")).to_have_count(0)
    expect(_row(after, f"{DELETES}/keep.txt")).to_be_visible()
    page.get_by_label("Comment").fill("Old notes are superseded.")
    page.get_by_role("button", name="Approve and apply").click()
    # A worker applies it after the page answered: the page shows 'applying' and reloads itself.
    expect(page.locator(".state").first).to_have_text("applied", timeout=PAGE_PATIENCE)
    assert not (sidecar.store / DELETES / "old").exists()

    page.get_by_role("button", name="Revert: submit the plan that undoes this one").click()
    expect(page.get_by_role("status")).to_contain_text("undoes the one you reverted")
    after = page.get_by_role("region", name="After")
    expect(_row(after, f"{DELETES}/old")).to_contain_text("NEW")
    expect(_row(after, f"{DELETES}/old/n1.txt")).to_be_visible()
    expect(_row(after, f"{DELETES}/old/sub/n2.txt")).to_be_visible()
    expect(_row(after, f"{DELETES}/keep.txt")).to_be_visible()
