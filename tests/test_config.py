"""The configuration read from the environment: every bad value names its variable."""
import pytest

from ivr.config import ConfigError, load_config


@pytest.mark.parametrize("key, value, needs", [
    ("IVR_LISTEN_SECONDS", "eight", "a whole number"), ("IVR_LISTEN_SECONDS", "8.5", "a whole number"),
    ("TRIAGE_EMERGENCY_THRESHOLD", "high", "a number"), ("SCREEN_FLOOD_SECONDS", "nan", "a number"),
    ("TWILIO_API_TIMEOUT", "inf", "a number"), ("PORT", "²", "a whole number"),
])
def test_a_bad_number_names_its_variable_in_one_line(key, value, needs):
    with pytest.raises(ConfigError) as raised:
        load_config({key: value})
    message = str(raised.value)
    assert message == f"{key} must be {needs}, not {value!r}" and "\n" not in message


def test_numbers_with_spaces_and_empty_values_use_the_value_or_the_default():
    config = load_config({"IVR_LISTEN_SECONDS": " 9 ", "IVR_KEYPAD_TIMEOUT": ""})
    assert (config["IVR_LISTEN_SECONDS"], config["IVR_KEYPAD_TIMEOUT"]) == (9, 6)


@pytest.mark.parametrize("value", ["Mars/Olympus", "../../etc/passwd", "IST+5"])
def test_a_bad_time_zone_names_its_variable_in_one_line(value):
    with pytest.raises(ConfigError) as raised:
        load_config({"WEB_TIME_ZONE": value})
    assert str(raised.value) == f"WEB_TIME_ZONE must be an IANA time zone such as Asia/Kolkata, not {value!r}"


def test_the_time_zone_defaults_to_kolkata():
    assert load_config({})["WEB_TIME_ZONE"] == "Asia/Kolkata"
    assert load_config({"WEB_TIME_ZONE": " Europe/London "})["WEB_TIME_ZONE"] == "Europe/London"
