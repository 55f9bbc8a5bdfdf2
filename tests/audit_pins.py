"""Check every pin of a requirements file against PyPI's vulnerability data (pip-audit -s pypi).

Exit 0 when every pin was checked and none is known to be vulnerable; 1 when one is (naming it,
the advisory and the fixed versions); 2 when the service could not answer for some pins, which
is not a pass: nothing is known about them. AUDIT_UNANSWERED=warn turns 2 into a loud warning.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PIP_AUDIT = Path(sys.executable).with_name("pip-audit")


def audit(requirements: str) -> dict:
    """Run pip-audit on the pins alone (no resolution) and return its JSON report."""
    command = [str(PIP_AUDIT), "--vulnerability-service", "pypi", "--requirement", requirements,
               "--no-deps", "--disable-pip", "--format", "json",
               "--progress-spinner", "off"]  # fmt: skip
    # pip-audit from this virtualenv, with fixed arguments: nothing here comes from outside.
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError:
        sys.exit(f"pip-audit gave no report (exit {done.returncode}):\n{done.stderr.strip()}")


def main(requirements: str) -> int:
    """Print what was found and return the exit status."""
    report = audit(requirements)["dependencies"]
    vulnerable = [dep for dep in report if dep.get("vulns")]
    unanswered = [dep for dep in report if "skip_reason" in dep]
    for dep in vulnerable:
        for vuln in dep["vulns"]:
            fixed = ", ".join(vuln.get("fix_versions") or []) or "no fixed version"
            print(f"VULNERABLE {dep['name']}=={dep['version']}: {vuln['id']} (fixed in {fixed})")
    checked = len(report) - len(unanswered)
    print(f"{requirements}: {checked} pin(s) checked, {len(vulnerable)} vulnerable")
    if vulnerable:
        return 1
    if unanswered:
        names = ", ".join(dep["name"] for dep in unanswered)
        print(f"NOT AUDITED: the vulnerability service did not answer for {len(unanswered)} "
              f"pin(s): {names}\n  first reason: {unanswered[0]['skip_reason']}")  # fmt: skip
        if os.environ.get("AUDIT_UNANSWERED") == "warn":
            print("AUDIT_UNANSWERED=warn: going on although these pins were not checked")
            return 0
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "requirements.txt"))
