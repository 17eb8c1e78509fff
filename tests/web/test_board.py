"""The live board, alerts and settings in Debian's headless Chromium: a pinned emergency that sounds and notifies,
claims seen by a second operator, the alerts badge coming in live, settings applied, local time, no horizontal
overflow at 1024 px, and an axe-core accessibility audit. Screenshots at 1440 and 1024 px go to tests/out/
(git-ignored)."""
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from ivr.screening import blank_policy
from ivr.store import calls, floods, operators, settings
from ivr.store.models import utcnow
from ivr.triage.classifier import Classification

from conftest import SCREENSHOTS
from helpers import accessibility_violations

pytestmark = pytest.mark.e2e
PASSWORD = "correct horse battery"
LINE = "+15005550001"
# Stand-ins for the browser's audio and notifications, recording what the page asked for (headless Chromium
# has no speakers and no notification centre): the page's own code runs unchanged against them.
OBSERVE = """
window.__sounds = []; window.__notes = [];
window.AudioContext = class {
  constructor() { this.currentTime = 0; this.destination = {}; }
  resume() { return Promise.resolve(); }
  createGain() { return { gain: {}, connect() {} }; }
  createOscillator() { return { frequency: {}, connect() {}, start(at) { window.__sounds.push(Date.now()); }, stop() {} }; }
};
window.Notification = class { constructor(title, options) { window.__notes.push({ title, body: options.body }); } };
window.Notification.permission = "granted";
window.Notification.requestPermission = () => Promise.resolve("granted");
"""


def operator_page(browser, server, name, role="operator", width=1440):
    """A signed-in page of a new operator, in a context of its own (its own cookies), sound observed."""
    operators.create(server.app.extensions["ivr.db"], name, PASSWORD, role)
    page = browser.new_context(viewport={"width": width, "height": 900}).new_page()
    page.set_default_timeout(20_000)
    page.on("pageerror", lambda error: print("PAGEERROR", error))
    page.add_init_script(OBSERVE)
    page.goto(server.url + "/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/$"))
    return page


def shot(page, name):
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{page.viewport_size['width']}.png"), full_page=True)


def emergency(db, sid, number, words="there is a fire in the building please send help", ago=75):
    """An answered call, still on the line, whose words read as an emergency."""
    calls.open_call(db, sid, number, LINE, created_at=utcnow() - timedelta(seconds=ago))
    calls.claim_stream(db, sid)
    calls.add_final(db, sid, words, 2.0, Classification("emergency", 0.97, {"emergency": 0.97}))


def no_overflow(page):
    """Nothing wider than the window, and the Action column's buttons inside it."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"page is {width} px wide at {page.viewport_size['width']} px"
    for box in page.locator("td.c-actions button:visible").evaluate_all(
            "els => els.map(e => e.getBoundingClientRect().right)"):
        assert box <= page.viewport_size["width"]


def test_an_emergency_is_pinned_announced_and_shown_in_local_time(live_server, chromium):
    db = live_server.app.extensions["ivr.db"]
    calls.open_call(db, "CAdone", "+919800000009", LINE, created_at=utcnow() - timedelta(minutes=20))
    calls.close_call(db, "CAdone", "completed", 83)
    page = operator_page(chromium, live_server, "asha")
    expect(page.locator("#live-state")).to_have_text("live")
    expect(page.locator("#calls thead")).to_contain_text("Time (IST)")
    expect(page.locator("#call-CAdone .c-elapsed")).to_have_text("01:23")           # duration as mm:ss

    emergency(db, "CAfire", "+919811111111")
    row = page.locator("#live-calls #call-CAfire")
    expect(row).to_have_class(re.compile(r"\bemergency\b"))
    expect(row.locator(".c-alarm")).to_be_visible()
    expect(row.locator(".c-alarm")).to_have_text("⚠ EMERGENCY")                      # words, not colour alone
    expect(row.locator(".c-status")).to_have_text("in-progress")
    expect(row.locator(".c-phase")).to_have_text("ivr")
    page.wait_for_function("window.__sounds.length >= 1 && window.__notes.length === 1")
    assert page.evaluate("window.__notes[0].title") == "EMERGENCY call from +919811111111"
    expect(page.locator("#announcer")).to_contain_text("EMERGENCY call from +919811111111")

    created = calls.get_call(db, "CAfire").created_at
    assert row.locator("time").inner_text() == created.astimezone(ZoneInfo("Asia/Kolkata")).strftime("%H:%M:%S")
    first = row.locator(".c-elapsed").inner_text()
    assert re.fullmatch(r"01:\d\d", first), first                                     # about 75 s on the line
    expect(row.locator(".c-elapsed")).not_to_have_text(first, timeout=5_000)                            # and ticking
    shot(page, "board")

    calls.open_call(db, "CAlater", "+919822222222", LINE)                            # a newer, ordinary call
    expect(page.locator("#live-calls tr.call").first).to_have_id("call-CAfire")      # the emergency stays on top
    calls.close_call(db, "CAfire", "completed", 95)
    expect(page.locator("#calls #call-CAfire")).to_have_count(1)                      # finished: moved below
    expect(page.locator("#live-calls #call-CAfire")).to_have_count(0)


def test_taking_a_call_is_seen_by_another_operator_and_refused_to_them(live_server, chromium):
    db = live_server.app.extensions["ivr.db"]
    emergency(db, "CAclaim", "+919833333333")
    asha, ravi = operator_page(chromium, live_server, "asha"), operator_page(chromium, live_server, "ravi")
    expect(ravi.locator("#live-state")).to_have_text("live")
    asha.locator("#call-CAclaim .claim-form button").click()
    expect(asha.locator(".flash")).to_have_text("You are taking the call from +919833333333.")
    expect(ravi.locator("#call-CAclaim .c-claimed")).to_have_text("Taken by op asha")    # live, no reload
    expect(ravi.locator("#call-CAclaim .claim-form")).to_be_hidden()
    expect(asha.locator("#call-CAclaim .release-form")).to_be_visible()

    with ravi.expect_navigation():                    # a page that had not heard yet sends it: the server refuses
        ravi.evaluate("document.querySelector('#call-CAclaim .claim-form').requestSubmit()")
    expect(ravi.locator(".flash.error")).to_have_text("Not taken: op asha is already taking this call.")
    assert calls.get_call(db, "CAclaim").claimed_by == "op asha"


def test_new_alerts_show_live_on_every_page_and_link_to_their_calls(live_server, chromium):
    db = live_server.app.extensions["ivr.db"]
    live_server.app.config["WEB_ALERTS_POLL_SECONDS"] = 0.5
    calls.open_call(db, "CAonline", "+919844444444", LINE)
    calls.close_call(db, "CAonline", "completed", 3)
    calls.open_call(db, "CAelsewhere", "+919855555555", "+15005550002")
    calls.close_call(db, "CAelsewhere", "completed", 3)
    page = operator_page(chromium, live_server, "asha")
    page.goto(live_server.url + "/queue")                      # any page
    expect(page.locator("#alert-badge")).to_have_text("")
    floods.raise_alert(db, LINE, 9, 5.0, utcnow(), 300)
    expect(page.locator("#alert-badge")).to_have_text("1 new")
    page.wait_for_function("window.__sounds.length >= 1")

    page.goto(live_server.url + "/alerts")
    expect(page.locator("#alerts-table tbody tr")).to_have_count(1)
    floods.raise_alert(db, "+15005550002", 6, 5.0, utcnow(), 300, detail="flood: a second line")
    expect(page.locator("#alerts-table tbody tr")).to_have_count(2)                 # the page itself is live
    expect(page.locator("#alert-badge")).to_have_text("2 new")
    for width in (1440, 1024):
        page.set_viewport_size({"width": width, "height": 900})
        no_overflow(page)
        shot(page, "alerts")
    assert accessibility_violations(page) == {}
    page.locator("#alerts-table a", has_text="+15005550002").click()
    expect(page.locator("tr.call")).to_have_count(1)
    expect(page.locator("#call-CAelsewhere")).to_have_count(1)


def test_an_admin_changes_a_threshold_and_it_is_applied(live_server, chromium):
    db, config = live_server.app.extensions["ivr.db"], live_server.app.config
    page = operator_page(chromium, live_server, "meena", role="admin")
    page.goto(live_server.url + "/settings")
    page.fill("#f-SCREEN_BLANK_WATCH", "0")
    page.locator("#settings-form button", has_text="Save changes").first.click()      # the browser refuses it
    assert page.eval_on_selector("#f-SCREEN_BLANK_WATCH", "e => e.validationMessage")    # (the server too: test_api)
    assert "SCREEN_BLANK_WATCH" not in settings.overrides(db, 0)
    page.fill("#f-SCREEN_BLANK_WATCH", "2")
    page.keyboard.press("Enter")                              # the keyboard saves too (not a Reset button)
    expect(page.locator(".flash")).to_contain_text("Saved: SCREEN_BLANK_WATCH")
    expect(page.locator("#setting-SCREEN_BLANK_WATCH .source")).to_contain_text("op meena")
    assert settings.overrides(db, 0)["SCREEN_BLANK_WATCH"] == 2
    number = "+919812399999"
    for sid in ("CAb1", "CAb2"):                              # the second blank call now puts it on the watch-list
        calls.open_call(db, sid, number, LINE)
        blank_policy.after_blank(db, sid, number, config)
    from ivr.store import holds
    assert holds.active(db, number, "watch", utcnow()) is not None
    for width in (1440, 1024):
        page.set_viewport_size({"width": width, "height": 900})
        no_overflow(page)
        shot(page, "settings")
    assert accessibility_violations(page) == {}


@pytest.mark.parametrize("width", [1440, 1024])
def test_the_board_fits_the_screen_works_by_keyboard_and_passes_the_audit(live_server, chromium, width):
    db = live_server.app.extensions["ivr.db"]
    long = "help " + "the building on the corner of the main road is on fire and people are trapped " * 4
    emergency(db, "CAlong", "+919866666666", long)
    calls.add_audio_finding(db, "CAlong", "robocall", "robocall: same recording as call CA" + "x" * 40)
    for i in range(3):
        calls.open_call(db, f"CAold{i}", f"+91987777777{i}", LINE, created_at=utcnow() - timedelta(minutes=30 + i))
        calls.close_call(db, f"CAold{i}", "completed", 40 + i)
    page = operator_page(chromium, live_server, "asha", width=width)
    expect(page.locator("#live-state")).to_have_text("live")
    no_overflow(page)
    shot(page, "board")
    assert accessibility_violations(page) == {}
    page.keyboard.press("Tab")                                 # the skip link first, then the page
    expect(page.locator("a.skip")).to_be_focused()
    for _ in range(60):                                        # "Taking it" is reachable with Tab alone
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "Taking it":
            break
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"    # focus visible
    page.keyboard.press("Enter")
    expect(page.locator(".flash")).to_contain_text("You are taking the call from")
    assert calls.get_call(db, "CAlong").claimed_by == "op asha"
