"""Time and memory of `flask bundles unseal`: a sealed export of N signatures to a verified bundle.

    .venv/bin/python benchmarks/unseal.py [N] [--runs R] [--rows-out] [--workdir DIR]

N defaults to 1,000,000. The sealed export is made with the library, not through HTTP: the rows of
`benchmarks/export.py` (six in ten Kazakh names, three Russian, one Latin, ten cities), each with
an email and, one in five, a comment, sealed to a key pair whose key file uses the real Argon2id
limits, and written by `write_sealed_export` with a development signing key. It is kept in
`DIR/N/` (default under the system temporary directory) and reused by later runs.

Each run is the real command line in a child process, signing with that development key:
wall time from its start to its exit (the Flask start, the passphrase's Argon2id, checking the
export, opening the rows in worker processes and building the bundle), and memory sampled every
50 ms over the child and its descendants (the highest sum of RSS and of PSS), with ru_maxrss of
the largest of them. The bundle is then checked with `verify_bundle`, timed apart.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.export import Sampler, petition_data, synthetic_rows

ROOT = Path(__file__).resolve().parents[1]
#: The benchmark key file's passphrase, written beside it: nothing real is sealed to this key.
PASSPHRASE = "a benchmark passphrase, long enough"  # noqa: S105
DOMAINS = ("mail.kz", "gmail.com", "mail.ru", "yandex.kz", "inbox.kz")
COMMENTS = (
    "Ақынды босатыңыздар!",
    "Арон Атабек должен быть на свободе.",
    "Free him: he is a poet, not a criminal.",
    "Біз бәріміз бір адамбыз. Мы все вместе — за свободу слова, за справедливость.",
)


def sealed_rows(count: int, public_key, slug: str) -> Iterator:
    """Yield `count` sealed rows as the signing request stores them, in signing order.

    Each has a receipt leaf of its own, the leaf hash of its id: a real one needs the server's key.
    """
    from petitions.delivery.sealed import SealedRow
    from petitions.merkle import leaf_hash

    for number, name, city, country, signed_at in synthetic_rows(count):
        fields = {
            "name": name,
            "email": f"signer.{number}@{DOMAINS[number % len(DOMAINS)]}",
            "city": city,
            "comment": COMMENTS[number % len(COMMENTS)] if number % 5 == 0 else None,
        }
        signature_id = f"b{number:07d}x{number * 7919 % 100003:05d}"
        box = public_key.seal(fields, signature_id=signature_id, petition=slug)
        yield SealedRow(
            number, signature_id, country, signed_at, box, leaf_hash(signature_id.encode())
        )


def prepare(count: int, directory: Path) -> dict[str, Path]:
    """Make (once) the key pair, the signing key and the sealed export of `count` rows."""
    from petitions.delivery.keys import ensure_development_key, load_signing_key
    from petitions.delivery.sealed import write_sealed_export
    from petitions.sealing import write_key_pair

    files = {
        "export": directory / "bench.sealed.zip",
        "key": directory / "sealing.key",
        "passphrase": directory / "passphrase",
        "signing_key": ensure_development_key(directory.parent / "signing"),
    }
    if files["export"].exists() and _has_receipts(files["export"]):
        return files
    shutil.rmtree(directory, ignore_errors=True)
    public_key = write_key_pair(directory, PASSPHRASE)
    files["passphrase"].write_text(PASSPHRASE + "\n", encoding="utf-8")
    petition, export, summary = petition_data(count)
    key = load_signing_key(files["signing_key"], None)
    started = time.perf_counter()
    rows = sealed_rows(count, public_key, petition.slug)
    written = directory / "partial.sealed.zip"
    write_sealed_export(petition, export, summary, rows, key, public_key, written)
    written.rename(files["export"])
    seconds = time.perf_counter() - started
    size = files["export"].stat().st_size / 2**20
    print(f"sealed {count} rows in {seconds:.0f} s: {size:.0f} MB", file=sys.stderr)
    return files


def _has_receipts(path: Path) -> bool:
    """Whether a kept export is of the current format (made since sealed exports have receipts)."""
    with zipfile.ZipFile(path) as archive:
        return "receipts" in json.loads(archive.read("manifest.json"))


def unseal_command(files: dict[str, Path], output: Path, rows_out: bool) -> list[str]:
    """Return the command line an organiser runs, here signing with the development key."""
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "bundles", "unseal"]
    command += [str(files["export"]), "--key", str(files["key"])]
    command += ["--passphrase-file", str(files["passphrase"]), "--output", f"{output}/"]
    command += ["--signing-key", str(files["signing_key"])]
    return command + (["--rows-out", str(output / "rows.csv")] if rows_out else [])


def environment(workdir: Path) -> dict[str, str]:
    """Settings for a throwaway app: the command reads no database, but the app wants one."""
    from tests.conftest import TEST_DATA_KEY, TEST_HASH_KEY

    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", ""),
        "SECRET_KEY": "benchmark-secret-key-long-enough-0123456789",
        "HASH_KEY": TEST_HASH_KEY,
        "DATA_KEYS": TEST_DATA_KEY,
        "DATABASE_URL": f"sqlite:///{workdir}/unused.sqlite3",
        "FLASK_SKIP_DOTENV": "1",
    }


def run_once(files: dict[str, Path], rows_out: bool) -> dict:
    """Unseal in a child process, measure it, then verify the bundle it wrote."""
    from petitions.delivery.verify import verify_bundle

    with tempfile.TemporaryDirectory(prefix="petitions-unseal-") as name:
        output = Path(name) / "out"
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        child = subprocess.Popen(
            unseal_command(files, output, rows_out),
            cwd=ROOT,
            env=environment(Path(name)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        sampler = Sampler(child.pid)
        sampler.start()
        stdout, stderr = child.communicate()
        seconds = time.perf_counter() - started
        peaks = sampler.stop()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if child.returncode != 0:
            raise SystemExit(f"unseal failed ({child.returncode}): {stderr.strip()}")
        bundle = Path(stdout.split(":", 1)[0])
        result = {
            "rows": int(stdout.split(": ", 1)[1].split()[0]),
            "rows_out": rows_out,
            "seconds": round(seconds, 1),
            "cpu_seconds": round(
                after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 1
            ),
            "peak_rss_mb": peaks["peak_rss_mb"],
            "peak_pss_mb": peaks["peak_pss_mb"],
            "maxrss_largest_mb": after.ru_maxrss // 1024,
            "zip_mb": round(bundle.stat().st_size / 2**20, 1),
        }
        started = time.perf_counter()
        result["verify_valid"] = verify_bundle(bundle).valid
        result["verify_seconds"] = round(time.perf_counter() - started, 1)
    return result


def main() -> None:
    """Make the sealed export if needed, then unseal it `--runs` times, one JSON line each."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("count", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--rows-out", action="store_true", help="also write the opened rows")
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "petitions-bench-unseal"
    )
    arguments = parser.parse_args()
    files = prepare(arguments.count, arguments.workdir / str(arguments.count))
    for _ in range(arguments.runs):
        print(json.dumps(run_once(files, arguments.rows_out)), flush=True)


if __name__ == "__main__":
    main()
