"""The Nu HTML Checker (vnu.jar, from the browser tests' npm packages), run once over many pages."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from tests.conftest import unavailable

VNU_JAR = Path(__file__).parent / "browser" / "node_modules" / "vnu-jar" / "build" / "dist"
VNU_JAR = VNU_JAR / "vnu.jar"


def checker() -> Path:
    """Return the checker's jar, or skip (fail in CI) when it or a Java to run it is missing."""
    if not VNU_JAR.exists():
        unavailable(f"vnu-jar is not installed: run `npm ci` in {VNU_JAR.parents[4]}")
    if shutil.which("java") is None:
        unavailable("Java is not installed: the HTML checker needs it (default-jre-headless)")
    return VNU_JAR


def html_errors(jar: Path, files: list[Path]) -> dict[str, list[str]]:
    """Run the checker once over the files; return its errors by file name."""
    result = subprocess.run(
        ["java", "-jar", str(jar), "--errors-only", "--format", "json", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    # The checker writes its report to standard error; its exit status only says "errors".
    report = json.loads(result.stderr)
    found: dict[str, list[str]] = {}
    for message in report["messages"]:
        name = message.get("url", "?").rsplit("/", 1)[-1]
        where = f"line {message.get('lastLine', '?')}"
        extract = message.get("extract", "").strip()
        found.setdefault(name, []).append(f"{where}: {message['message']} {extract!r}")
    return found
