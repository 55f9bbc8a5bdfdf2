"""The pin audit fails on a known vulnerability and never passes an unchecked pin off as checked."""

import pytest

from tests import audit_pins

VULNERABLE = {
    "name": "jinja2",
    "version": "2.10",
    "vulns": [
        {"id": "PYSEC-2019-217", "fix_versions": ["2.10.1"], "aliases": ["CVE-2019-10906"]},
    ],
}
CLEAN = {"name": "flask", "version": "3.1.3", "vulns": []}
UNANSWERED = {
    "name": "babel",
    "skip_reason": "Dependency not found on PyPI and could not be audited: babel (2.18.0)",
}
ALSO_UNANSWERED = {"name": "nh3", "skip_reason": "Dependency not found on PyPI: nh3 (0.3.8)"}


@pytest.fixture
def report(monkeypatch):
    def use(*dependencies):
        monkeypatch.setattr(audit_pins, "audit", lambda _file: {"dependencies": list(dependencies)})

    return use


@pytest.mark.parametrize("strict", [False, True])
def test_a_vulnerable_pin_fails_with_its_advisory_and_fix(report, capsys, strict):
    report(VULNERABLE, CLEAN, UNANSWERED)
    assert audit_pins.main("requirements.txt", strict=strict) == 1
    out = capsys.readouterr().out
    assert "VULNERABLE jinja2==2.10: PYSEC-2019-217 (fixed in 2.10.1)" in out
    assert "NOT AUDITED babel: " in out


@pytest.mark.parametrize("strict", [False, True])
def test_clean_pins_pass(report, capsys, strict):
    report(CLEAN)
    assert audit_pins.main("requirements.txt", strict=strict) == 0
    out = capsys.readouterr().out
    assert out == "requirements.txt: 1 of 1 pin(s) checked, 0 vulnerable, 0 NOT AUDITED\n"


def test_unanswered_pins_are_named_and_the_default_audit_goes_on(report, capsys):
    report(CLEAN, UNANSWERED, ALSO_UNANSWERED)
    assert audit_pins.main("requirements.txt") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "requirements.txt: 1 of 3 pin(s) checked, 0 vulnerable, 2 NOT AUDITED"
    assert f"  NOT AUDITED babel: {UNANSWERED['skip_reason']}" in lines
    assert f"  NOT AUDITED nh3: {ALSO_UNANSWERED['skip_reason']}" in lines
    assert (
        lines[-1]
        == "2 pin(s) NOT AUDITED: this is no pass for them; `make audit-strict` fails on them"
    )
    assert not any("flask" in line for line in lines)


def test_unanswered_pins_fail_the_strict_audit(report, capsys):
    report(CLEAN, UNANSWERED)
    assert audit_pins.main("requirements.txt", strict=True) == 2
    out = capsys.readouterr().out
    assert f"  NOT AUDITED babel: {UNANSWERED['skip_reason']}" in out


def test_the_command_line_is_lenient_unless_told_to_be_strict():
    assert audit_pins._arguments([]).strict is False
    assert audit_pins._arguments(["requirements.txt"]).requirements == "requirements.txt"
    assert audit_pins._arguments(["--strict", "other.txt"]).strict is True
