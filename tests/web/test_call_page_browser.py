"""A call's page in a real chromium (Debian's headless Chromium via Playwright): the brief reads right, notes and the
class are done from the keyboard, new words arrive live, it fits 1024 px, and the printable record drops the
controls. Screenshots at 1440 and 1024 px go to tests/out/ (git-ignored)."""
import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from ivr.store import calls, notes, operators
from ivr.store.models import utcnow

from conftest import SCREENSHOTS
from helpers import accessibility_violations

pytestmark = pytest.mark.e2e
PASSWORD = "correct horse battery"
GARBLED = "higher ed brown main 3"


def tab_to(page, selector, limit=80):
    """Press Tab until SELECTOR has the focus, as a keyboard user would."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} cannot be reached with Tab")


def test_an_operator_works_a_call_from_the_keyboard_and_the_page_stays_live(live_server, chromium):
    db = live_server.app.extensions["ivr.db"]
    operators.create(db, "asha", PASSWORD, "operator")
    calls.open_call(db, "CAb", "+919812345678", "+15005550001", created_at=utcnow() - timedelta(seconds=75))
    calls.add_final(db, "CAb", "there is a fight near " + GARBLED, 2.0)
    calls.add_final(db, "CAb", "he says he will kill me please help", 4.0)
    page = chromium.new_page(viewport={"width": 1440, "height": 900})
    page.set_default_timeout(20_000)
    page.goto(live_server.url + "/login?next=/calls/CAb")
    page.fill("input[name=name]", "asha")
    page.fill("input[name=password]", PASSWORD)
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("Call from +919812345678")
    expect(page.locator("#turns li")).to_have_count(2)
    expect(page.locator("#turns li .at").first).to_have_text(re.compile(r"1:1[5-9]"))   # 75 s after it arrived
    expect(page.locator("#entities .entity.uncertain .e-text")).to_have_text(GARBLED)
    expect(page.locator("#threat .t-level")).to_have_text("high")
    page.screenshot(path=str(SCREENSHOTS / "call-page-1440.png"), full_page=True)

    tab_to(page, "select[name=class]")
    assert page.evaluate("document.activeElement.value") == ""       # starts on "choose…", not on a class
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")                                      # an empty save: the chromium refuses it
    page.wait_for_timeout(300)
    assert page.url.endswith("/calls/CAb") and calls.get_call(db, "CAb").operator_label is None
    page.focus("select[name=class]")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.value") == "inquiry"
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator(".flash")).to_have_text("Class set to inquiry.")

    tab_to(page, "#note")
    page.keyboard.type("Brother called back: plot 7, PCR 12 sent.")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator(".notes li")).to_contain_text("Brother called back: plot 7, PCR 12 sent.")
    expect(page.locator(".notes li .n-head")).to_contain_text("op asha")
    expect(page.locator("#handled")).to_contain_text("op asha: corrected the class, wrote a note")
    assert [n.author for n in notes.notes_for(db, "CAb")] == ["op asha"]

    calls.add_final(db, "CAb", "we are now at sector fourteen", 6.0)     # the caller keeps talking
    expect(page.locator("#turns li")).to_have_count(3)
    expect(page.locator("#entities .entity:not(.uncertain) .e-text")).to_have_text("sector 14")

    page.set_viewport_size({"width": 1024, "height": 768})
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=str(SCREENSHOTS / "call-page-1024.png"), full_page=True)
    assert accessibility_violations(page) == {}

    page.click("text=Printable record")
    expect(page.locator("h1")).to_have_text("Call record: +919812345678")
    page.emulate_media(media="print")
    expect(page.locator("[data-print]")).to_be_hidden()
    expect(page.locator(".notes")).to_contain_text("PCR 12 sent")
    page.screenshot(path=str(SCREENSHOTS / "call-print-1024.png"), full_page=True)
