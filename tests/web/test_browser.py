"""The control room in a real browser (Debian's headless Chromium driven by Playwright) against the running app:
sign in, watch a simulated call appear and its transcript fill in, open it, add the number to spam, and see the
number's next call rejected. Screenshots of the main pages go to test-artifacts/ (git-ignored)."""
import threading
from pathlib import Path

import pytest
from playwright.sync_api import expect

from ivr.tools import simulate
from ivr.store import calls, operators

from conftest import ACCOUNT, FIXTURES, TOKEN, listed

pytestmark = pytest.mark.e2e
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "correct horse battery"
CALLER = "+919812312345"


class Call(threading.Thread):
    """One simulated call placed in the background while the browser watches."""

    def __init__(self, live_server, stand_in, *args):
        super().__init__(daemon=True)
        self.argv = ["--url", live_server.url, "--auth-token", TOKEN, "--account-sid", ACCOUNT, "--speed", "2", *args]
        self.stand_in, self.outcome = stand_in, None

    def run(self):
        self.outcome = simulate.simulate(simulate.parse_args(self.argv), stand_in=self.stand_in)

    def result(self):
        self.join(timeout=90)
        assert self.outcome is not None and self.outcome["errors"] == [], self.outcome
        return self.outcome


@pytest.fixture
def browser_page(database_url, chromium):
    ARTIFACTS.mkdir(exist_ok=True)
    page = chromium.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(30_000)
    return page, database_url.split(":")[0].replace("+psycopg", "")


def shot(page, name, backend):
    page.screenshot(path=str(ARTIFACTS / f"{backend}-{name}.png"), full_page=True)


def test_operator_watches_a_call_live_and_blocks_the_number(live_server, stand_in, browser_page):
    page, backend = browser_page
    db = live_server.app.extensions["ivr.db"]
    operators.create(db, "asha", PASSWORD, "admin")
    calls.open_call(db, "CAxss", "+919800000001", "+15005550001", reasons=["robocall: <img src=x onerror=alert(2)>"])
    calls.add_final(db, "CAxss", "<script>window.pwned = 1</script>", 1.0)
    page.on("dialog", lambda dialog: dialog.accept())

    page.goto(live_server.url + "/")
    expect(page).to_have_url(f"{live_server.url}/login?next=/")
    shot(page, "login", backend)
    page.fill("input[name=name]", "asha")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("#live-state")).to_have_text("live")
    expect(page.locator("#call-CAxss .c-transcript")).to_contain_text("<script>window.pwned = 1</script>")
    assert page.evaluate("window.pwned") is None

    first = Call(live_server, stand_in, "--from", CALLER, "--wav", str(FIXTURES / "audio" / "inquiry_passport.wav"),
                 "--digit", "2")
    first.start()
    row = page.locator("tr.call", has_text=CALLER)
    expect(row).to_have_count(1, timeout=20_000)                       # appears while ringing, without a reload
    expect(row.locator(".c-transcript")).not_to_have_text("", timeout=30_000)   # words arrive as they are said
    shot(page, "calls-live", backend)
    outcome = first.result()
    assert outcome["result"] == "dialled"
    expect(row.locator(".c-route")).to_have_text("inquiry")
    expect(row.locator(".c-digit")).to_have_text("2")
    expect(row.locator(".c-class")).to_contain_text("inquiry")
    shot(page, "calls-decided", backend)

    row.locator(".c-from a").click()
    expect(page.locator("h1")).to_have_text(f"Call from {CALLER}")
    expect(page.locator("#transcript")).to_contain_text("verification")
    shot(page, "call-detail", backend)
    page.fill(".spam-form input[name=reason]", "prank caller, third time today")
    page.click(".spam-form button[type=submit]")
    expect(page.locator(".flash")).to_contain_text(f"{CALLER} is on the spam list")
    assert listed(db, CALLER).added_by == "op asha"

    page.goto(live_server.url + "/?flag=spam-list")              # a filtered page is live as well
    expect(page.locator("#live-state")).to_have_text("live")
    expect(page.locator("tr.call")).to_have_count(0)
    second = Call(live_server, stand_in, "--from", CALLER, "--wav", str(FIXTURES / "audio" / "emergency_fire.wav"))
    second.start()
    assert second.result()["result"] == "rejected"
    rejected = page.locator(f"#call-{second.outcome['call_sid']}")
    expect(rejected.locator(".c-route")).to_have_text("reject")
    expect(rejected.locator(".c-flags")).to_contain_text("spam-list: prank caller, third time today")
    expect(page.locator("tr.call")).to_have_count(1)              # only the call that matches came in
    shot(page, "calls-rejected", backend)

    page.goto(f"{live_server.url}/calls/CAxss")                  # a call's page follows the caller too
    expect(page.locator("#transcript")).to_contain_text("<script>window.pwned = 1</script>")
    calls.set_partial(db, "CAxss", "they are still <i>shouting</i>", 2.0)
    expect(page.locator("#transcript .partial")).to_have_text("they are still <i>shouting</i>")
    assert page.evaluate("window.pwned") is None

    for path, name in (("/spam", "spam-list"), ("/audit", "audit-log"), ("/stats", "stats")):
        page.goto(live_server.url + path)
        shot(page, name, backend)
    expect(page.locator("svg.chart")).to_have_count(2)
