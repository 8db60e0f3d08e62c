"""Messaging settings are read from the environment and refused when they make no sense."""

import pytest


def test_settings_come_from_the_environment(run_python):
    result = run_python(
        "-c",
        "import django; django.setup(); from django.conf import settings as s;"
        "print(s.MESSAGE_MAX_SEGMENTS, s.CONTENT_FILTER_HOLD_SCORE, s.CONTENT_FILTER_REJECT_SCORE,"
        " s.CONTENT_FILTER_RELOAD_SECONDS)",
        env={
            "MESSAGE_MAX_SEGMENTS": "4",
            "CONTENT_FILTER_HOLD_SCORE": "30",
            "CONTENT_FILTER_REJECT_SCORE": "90",
            "CONTENT_FILTER_RELOAD_SECONDS": "2.5",
        },
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["4", "30", "90", "2.5"]


@pytest.mark.parametrize(
    "env",
    [
        {"MESSAGE_MAX_SEGMENTS": "0"},
        {"CONTENT_FILTER_HOLD_SCORE": "0"},
        {"CONTENT_FILTER_HOLD_SCORE": "120", "CONTENT_FILTER_REJECT_SCORE": "100"},
    ],
)
def test_nonsense_settings_stop_start_up(run_python, env):
    result = run_python("manage.py", "check", env=env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
