from ivr.store import audit, spam

from conftest import listed


def test_spam_add_list_remove(runner, db):
    result = runner.invoke(args=["spam", "add", "+1 (500) 555-0006", "--reason", "robocaller", "--by", "op 17"])
    assert result.exit_code == 0, result.output
    assert result.output == "added +15005550006: robocaller\n"
    assert listed(db, "+15005550006").added_by == "op 17"
    listing = runner.invoke(args=["spam", "list"])
    assert listing.output.startswith("+15005550006\t") and listing.output.rstrip().endswith("op 17\trobocaller")
    removed = runner.invoke(args=["spam", "remove", "+15005550006", "--by", "op 18"])
    assert removed.output == "removed +15005550006\n"
    assert listed(db, "+15005550006") is None
    # the command line is audited like the control room
    assert [(e.actor, e.action, (e.after or {}).get("source")) for e in reversed(audit.recent(db))] == [
        ("op 17", "spam.add", "cli"), ("op 18", "spam.remove", None)]


def test_spam_add_refuses_garbage_and_needs_a_reason(runner, db):
    result = runner.invoke(args=["spam", "add", "not-a-number", "--reason", "x"])
    assert result.exit_code == 2 and "is not a phone number" in result.output
    assert runner.invoke(args=["spam", "add", "+15005550006"]).exit_code == 2
    assert spam.all_entries(db) == []


def test_spam_remove_unknown_number_fails(runner):
    result = runner.invoke(args=["spam", "remove", "+15005550006"])
    assert result.exit_code == 1 and "not on the spam list" in result.output


def test_spam_add_accepts_a_prefix_range(runner, db):
    result = runner.invoke(args=["spam", "add", "+1 500 555*", "--reason", "robocall range"])
    assert result.output == "added +1500555*: robocall range\n"
    assert runner.invoke(args=["spam", "add", "+15x*", "--reason", "x"]).exit_code == 2
