"""Time and memory of the signed bundle for 10,000, 100,000 and 1,000,000 signatures.

    .venv/bin/python benchmarks/export.py [--naive] [--workers N] [--verify] [--scripts]
        [--no-receipts] [SIZE ...]

Each size runs in a fresh process, so its peak memory is its own. Rows are synthetic (mixed
Kazakh, Russian and Latin names, ten cities; with `--scripts`, names and cities in twelve scripts
in turn, Arabic, Hebrew, Chinese and emoji among them) and produced by a generator, as a database
cursor would produce them, each with a receipt leaf (a SHA-256) unless `--no-receipts`; the
summary is counted in a first pass that is not timed. The signing
key is a development key, made once under the system temporary directory.

Memory is reported three ways: the highest sum of RSS over this process and its workers, the
highest sum of PSS (shared pages divided among the processes that share them: the physical
memory the export really holds), both sampled every 50 ms, and ru_maxrss of this process and of
its largest worker.

`--naive` is the baseline from FINDINGS: one ReportLab canvas for the whole list, one
`drawString` per cell (no cover letter, no volumes), then the same signing, CSV and ZIP.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import resource
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# The library is imported inside the functions that use it: worker processes start by importing
# this script again (multiprocessing's spawn), and should cost no more than under `flask`.

SIZES = (10_000, 100_000, 1_000_000)
#: Set by `--scripts`: rows in twelve scripts instead of Kazakh, Russian and Latin.
SCRIPT_ROWS = "--scripts" in sys.argv
#: Unset by `--no-receipts`: rows without leaves, the bundle without its receipts' tree.
RECEIPTS = "--no-receipts" not in sys.argv
OPENS_AT = datetime(2021, 9, 14, 4, 0, tzinfo=UTC)
WINDOW = timedelta(days=5)
KAZAKH = [
    f"{first} {last}"
    for first in ("Әлия", "Нұрлан", "Қанат", "Гүлнар", "Айгерім", "Ерлан", "Жанар", "Дәурен")
    for last in ("Қасымқызы Үмбетова", "Сейітқалиев", "Жұмабаева", "Оспанов", "Нұрпейісова")
]
RUSSIAN = [
    f"{first} {last}"
    for first in ("Иван", "Мария", "Ольга", "Алексей", "Наталья", "Сергей")
    for last in ("Петров", "Иванова", "Смирнов", "Кузнецова", "Попов-Вознесенский")
]
LATIN = [
    f"{first} {last}"
    for first in ("John", "Ayşe", "Peter", "María José", "Jürgen", "Chloé")
    for last in ("Smith", "Müller", "García Márquez", "Dupont", "Nowak")
]
CITIES = [
    ("Алматы", "KZ"),
    ("Астана", "KZ"),
    ("Шымкент", "KZ"),
    ("Қарағанды", "KZ"),
    ("Өскемен", "KZ"),
    ("Москва", "RU"),
    ("Новосибирск", "RU"),
    ("London", "GB"),
    ("Berlin", "DE"),
    ("Bishkek", "KG"),
]
#: (name, city) in twelve scripts, for `--scripts`.
SCRIPTS = [
    ("Zoë Łukasiewicz", "Kraków"),
    ("Әлия Ғалымқызы", "Өскемен"),
    ("محمد بن عبد الله", "القاهرة"),
    ("پرویز گلچین", "تهران"),
    ("דוד בן גוריון", "תל אביב"),
    ("ნინო ბერიძე", "თბილისი"),
    ("Արամ Խաչատրյան", "Երևան"),
    ("अमित कुमार", "दिल्ली"),
    ("王小明", "北京"),
    ("やまだ 김민준", "東京"),
    ("Emoji 🎉👍", "Almaty"),
    ("Ali علي 123 בן", "Almaty"),
]


def script_rows(count: int) -> Iterator[tuple[int, str, str, str, datetime]]:
    """Yield `count` rows in signing order whose names and cities take twelve scripts in turn."""
    step = WINDOW / max(count, 1)
    for index in range(count):
        name, city = SCRIPTS[index % len(SCRIPTS)]
        if index % 3 == 0:
            name = f"{name} {index}"
        yield index + 1, name, city, CITIES[(index * 3) % len(CITIES)][1], OPENS_AT + step * index


def synthetic_rows(count: int) -> Iterator[tuple]:
    """Yield `count` rows in signing order, each with its receipt leaf unless `--no-receipts`."""
    rows = script_rows(count) if SCRIPT_ROWS else plain_rows(count)
    if not RECEIPTS:
        yield from rows
        return
    sha256 = hashlib.sha256
    for row in rows:
        yield *row, sha256(b"\x00receipt %d" % row[0]).digest()


def plain_rows(count: int) -> Iterator[tuple[int, str, str, str, datetime]]:
    """Yield `count` rows in signing order, six in ten Kazakh names, three Russian, one Latin."""
    step = WINDOW / max(count, 1)
    for index in range(count):
        kind = index % 10
        names = KAZAKH if kind < 6 else RUSSIAN if kind < 9 else LATIN
        name = names[(index * 7) % len(names)]
        if index % 3 == 0:
            name = f"{name} {index}"  # some longer and unique names
        city, country = CITIES[(index * 3) % len(CITIES)]
        yield index + 1, name, city, country, OPENS_AT + step * index


def petition_data(count: int) -> tuple:
    """Return the demo-like petition, this export and the summary counted from the rows."""
    from petitions.delivery.model import ApplicantInfo, ExportInfo, PetitionInfo, Summary

    petition = PetitionInfo(
        slug="pardon-aron-atabek",
        title="Арон Атабекті кешіріңіз · Pardon the poet Aron Atabek",
        body="Біз, төменде қол қойғандар, ақын **Арон Атабекті** кешіруді сұраймыз.\n\n"
        "We, the undersigned, ask you to pardon the poet Aron Atabek.",
        recipient="Қазақстан Республикасының Президенті",
        language="kk",
        timezone="Asia/Almaty",
        opens_at=OPENS_AT,
        closes_at=OPENS_AT + WINDOW,
        organiser="Әлия Қасымқызы Үмбетова",
        recipient_kind="president",
        # A final bundle's letter names its applicant, as the export service requires.
        applicant=ApplicantInfo(
            kind="person",
            surname="Үмбетова",
            name="Әлия",
            patronymic="Қасымқызы",
            address="100000, Қарағанды қ., Бұқар жырау даңғылы, 10",
            email="aliya@example.org",
        ),
    )
    export = ExportInfo(
        identifier=f"pardon-aron-atabek-20210919-bench{count}",
        generated_at=OPENS_AT + WINDOW + timedelta(hours=1),
        final=True,
        generator_version="benchmark",
    )
    by_country: Counter[str] = Counter()
    by_day: Counter = Counter()
    for _, _, _, country, signed_at, *_ in synthetic_rows(count):
        by_country[country] += 1
        by_day[signed_at.astimezone(petition.zone).date()] += 1
    return petition, export, Summary(count, by_country, by_day)


# Memory of the whole process tree, sampled.


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(child) for child in task.read_text().split()]
        except OSError:
            continue
    return found + [grandchild for child in found for grandchild in _children(child)]


def _rss_pss(pid: int) -> tuple[int, int]:
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0, 0
    values = {line.split(":")[0]: int(line.split()[1]) for line in text.splitlines()[1:]}
    return values.get("Rss", 0), values.get("Pss", 0)


class Sampler(threading.Thread):
    """Record the highest sum of RSS and of PSS over a process (this one) and its descendants."""

    def __init__(self, pid: int | None = None) -> None:
        super().__init__(daemon=True)
        self.peak_rss = self.peak_pss = 0
        self.running = True
        self.pid = pid

    def run(self) -> None:
        """Sample until stopped."""
        pid = self.pid or int(Path("/proc/self/stat").read_text().split()[0])
        while self.running:
            pairs = [_rss_pss(each) for each in [pid, *_children(pid)]]
            self.peak_rss = max(self.peak_rss, sum(rss for rss, _ in pairs))
            self.peak_pss = max(self.peak_pss, sum(pss for _, pss in pairs))
            time.sleep(0.05)

    def stop(self) -> dict[str, int]:
        """Stop sampling and return the peaks, with ru_maxrss of this process and its workers."""
        self.running = False
        self.join()
        return {
            "peak_rss_mb": self.peak_rss // 1024,
            "peak_pss_mb": self.peak_pss // 1024,
            "maxrss_self_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
            "maxrss_worker_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024,
        }


# The naive baseline: what FINDINGS measured, plus the same signing and ZIP.


def naive_bundle(count: int, key, directory: Path) -> Path:
    """Build a bundle the obvious way: one canvas, one drawString per cell."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen.canvas import Canvas

    from petitions.delivery.fonts import REGULAR, register_fonts
    from petitions.delivery.signature import sign_pdf_file

    petition = petition_data(count)[0]
    register_fonts()
    unsigned, pdf, table = directory / "unsigned.pdf", directory / "p.pdf", directory / "s.csv"
    canvas = Canvas(str(unsigned), pagesize=A4, initialFontName=REGULAR, initialFontSize=8)
    rows = script_rows(count) if SCRIPT_ROWS else plain_rows(count)
    with table.open("w", encoding="utf-8-sig", newline="") as file:
        writer = csv.writer(file)
        for number, page in enumerate(iter(lambda: list(islice(rows, 50)), []), start=1):
            _naive_page(canvas, writer, petition, page, number)
    canvas.save()
    sign_pdf_file(unsigned, pdf, key)
    return _naive_zip(count, key, {"signatures.csv": table, "petition.pdf": pdf}, directory)


def _naive_zip(count: int, key, files: dict[str, Path], directory: Path) -> Path:
    from petitions.delivery.bundle import manifest_bytes
    from petitions.delivery.document import plan_document
    from petitions.delivery.model import LABELS
    from petitions.delivery.signature import sign_detached

    plan = plan_document(*petition_data(count), LABELS["kk"], development=key.development)
    target = directory / "naive.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, path in files.items():
            archive.write(path, name)
        archive.writestr("signer.pem", key.certificate_pem)
        digests = {
            name: hashlib.sha256(path.read_bytes()).hexdigest() for name, path in files.items()
        }
        manifest = manifest_bytes(plan, key, digests)
        archive.writestr("manifest.json", manifest)
        archive.writestr("manifest.json.p7s", sign_detached(manifest, key))
    return target


def _naive_page(canvas, writer, petition, rows: list, number: int) -> None:
    from petitions.delivery.bundle import csv_cell
    from petitions.delivery.fonts import REGULAR

    canvas.setFont(REGULAR, 8)
    canvas.drawString(42, 810, petition.title)
    y = 780.0
    for row_number, name, city, country, signed_at in rows:
        local = signed_at.astimezone(petition.zone)
        writer.writerow((row_number, csv_cell(name), csv_cell(city), country, local.isoformat()))
        cells = (str(row_number), name, city, country, f"{local:%Y-%m-%d %H:%M}")
        for x, text in zip((42, 86, 266, 370, 458), cells, strict=True):
            canvas.drawString(x, y, text)
        y -= 14.4
    canvas.drawRightString(553, 28, str(number))
    canvas.showPage()


# One size, in its own process.


def run_one(count: int, naive: bool, workers: int | None, verify: bool) -> dict:
    """Build one bundle of `count` rows and return the measurements."""
    from petitions.delivery.bundle import build_bundle, default_workers
    from petitions.delivery.keys import ensure_development_key, load_signing_key
    from petitions.delivery.verify import verify_bundle

    key = load_signing_key(
        ensure_development_key(Path(tempfile.gettempdir()) / "petitions-bench"), None
    )
    petition, export, summary = petition_data(count)
    mode = "naive" if naive else f"workers={default_workers() if workers is None else workers}"
    sampler = Sampler()
    sampler.start()
    with tempfile.TemporaryDirectory(prefix="petitions-export-") as name:
        started = time.perf_counter()
        if naive:
            path = naive_bundle(count, key, Path(name))
        else:
            rows = synthetic_rows(count)
            path = build_bundle(
                petition, export, summary, rows, key, Path(name), workers=workers, receipts=RECEIPTS
            ).path
        result = {"rows": count, "mode": mode, "seconds": round(time.perf_counter() - started, 1)}
        result |= sampler.stop()
        result["zip_mb"] = round(path.stat().st_size / 2**20, 2)
        if verify and not naive:
            started = time.perf_counter()
            result["verify_valid"] = verify_bundle(path).valid
            result["verify_seconds"] = round(time.perf_counter() - started, 1)
    return result


def main() -> None:
    """Run each size in a process of its own and print one JSON line per size."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("sizes", nargs="*", type=int, default=list(SIZES))
    parser.add_argument("--naive", action="store_true", help="the one-canvas baseline")
    parser.add_argument("--workers", type=int, default=None, help="worker processes")
    parser.add_argument("--verify", action="store_true", help="also time verify_bundle")
    parser.add_argument("--scripts", action="store_true", help="names in twelve scripts")
    parser.add_argument("--no-receipts", action="store_true", help="rows without leaves")
    parser.add_argument("--single", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.single:
        result = run_one(arguments.sizes[0], arguments.naive, arguments.workers, arguments.verify)
        print(json.dumps(result))
        return
    for size in arguments.sizes:
        command = [sys.executable, __file__, "--single", str(size)]
        command += ["--naive"] if arguments.naive else []
        command += ["--verify"] if arguments.verify else []
        command += ["--scripts"] if arguments.scripts else []
        command += ["--no-receipts"] if arguments.no_receipts else []
        if arguments.workers is not None:
            command += ["--workers", str(arguments.workers)]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        print(json.dumps(json.loads(output.strip().splitlines()[-1]), ensure_ascii=False))


if __name__ == "__main__":
    main()
