"""The pin audit fails on a known vulnerability and never passes pins it could not check."""

import pytest

from tests import audit_pins

VULNERABLE = {"name": "jinja2", "version": "2.10", "vulns": [
    {"id": "PYSEC-2019-217", "fix_versions": ["2.10.1"], "aliases": ["CVE-2019-10906"]},
]}  # fmt: skip
CLEAN = {"name": "flask", "version": "3.1.3", "vulns": []}
UNANSWERED = {"name": "babel", "skip_reason": "Dependency not found on PyPI"}


@pytest.fixture
def report(monkeypatch):
    def use(*dependencies):
        monkeypatch.setattr(audit_pins, "audit", lambda _file: {"dependencies": list(dependencies)})

    return use


def test_a_vulnerable_pin_fails_with_its_advisory_and_fix(report, capsys):
    report(VULNERABLE, CLEAN)
    assert audit_pins.main("requirements.txt") == 1
    out = capsys.readouterr().out
    assert "VULNERABLE jinja2==2.10: PYSEC-2019-217 (fixed in 2.10.1)" in out


def test_clean_pins_pass(report):
    report(CLEAN)
    assert audit_pins.main("requirements.txt") == 0


def test_pins_the_service_did_not_answer_for_are_not_a_pass(report, capsys, monkeypatch):
    report(CLEAN, UNANSWERED)
    monkeypatch.delenv("AUDIT_UNANSWERED", raising=False)
    assert audit_pins.main("requirements.txt") == 2
    assert "NOT AUDITED" in capsys.readouterr().out
    monkeypatch.setenv("AUDIT_UNANSWERED", "warn")
    assert audit_pins.main("requirements.txt") == 0
