"""Check every pin of a requirements file against PyPI's vulnerability data (pip-audit -s pypi).

A pin the service reports vulnerable fails the audit (exit 1), naming the advisory and the fixed
versions. A pin the service could not answer for is not a pass: nothing is known about it, and
every such pin is named under NOT AUDITED. By default the audit still exits 0 for those, because
some package indexes answer only for a project's newest release and a machine that reaches one
could otherwise never run the tests; with --strict (`make audit-strict`) it exits 2 instead.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

PIP_AUDIT = Path(sys.executable).with_name("pip-audit")
VULNERABLE_EXIT = 1
UNANSWERED_EXIT = 2


def audit(requirements: str) -> dict:
    """Run pip-audit on the pins alone (no resolution) and return its JSON report."""
    command = [
        str(PIP_AUDIT),
        "--vulnerability-service",
        "pypi",
        "--requirement",
        requirements,
        "--no-deps",
        "--disable-pip",
        "--format",
        "json",
        "--progress-spinner",
        "off",
    ]
    # pip-audit from this virtualenv, with fixed arguments: nothing here comes from outside.
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError:
        sys.exit(f"pip-audit gave no report (exit {done.returncode}):\n{done.stderr.strip()}")


def _report_vulnerable(vulnerable: list[dict]) -> None:
    for dep in vulnerable:
        for vuln in dep["vulns"]:
            fixed = ", ".join(vuln.get("fix_versions") or []) or "no fixed version"
            print(f"VULNERABLE {dep['name']}=={dep['version']}: {vuln['id']} (fixed in {fixed})")


def _report_unanswered(unanswered: list[dict], total: int) -> None:
    print(
        f"NOT AUDITED: the vulnerability service did not answer for {len(unanswered)} of "
        f"{total} pin(s); nothing is known about these:"
    )
    for dep in unanswered:
        print(f"  NOT AUDITED {dep['name']}: {dep['skip_reason']}")


def main(requirements: str, strict: bool = False) -> int:
    """Print what was found and return the exit status."""
    report = audit(requirements)["dependencies"]
    vulnerable = [dep for dep in report if dep.get("vulns")]
    unanswered = [dep for dep in report if "skip_reason" in dep]
    _report_vulnerable(vulnerable)
    checked = len(report) - len(unanswered)
    print(
        f"{requirements}: {checked} of {len(report)} pin(s) checked, "
        f"{len(vulnerable)} vulnerable, {len(unanswered)} NOT AUDITED"
    )
    if unanswered:
        _report_unanswered(unanswered, len(report))
    if vulnerable:
        return VULNERABLE_EXIT
    if unanswered and strict:
        print("--strict: pins that could not be audited fail the audit")
        return UNANSWERED_EXIT
    if unanswered:
        print(
            f"{len(unanswered)} pin(s) NOT AUDITED: this is no pass for them; "
            "`make audit-strict` fails on them"
        )
    return 0


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("requirements", nargs="?", default="requirements.txt")
    parser.add_argument(
        "--strict",
        action="store_true",
        help="fail (exit 2) when the service cannot answer for a pin",
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = _arguments(sys.argv[1:])
    sys.exit(main(arguments.requirements, strict=arguments.strict))
