"""Names in every script, from the database to the page, the CSV and the signed PDF."""

import csv
import io
import re
import subprocess
import unicodedata
import zipfile
from datetime import timedelta

import pytest

from petitions.models import utcnow
from tests.conftest import PASSWORD
from tests.helpers import login

# The bundle is read from a snapshot on a connection of its own: it must find committed rows.
pytestmark = pytest.mark.committed

#: (name, city), one signer each, in signing order.
SIGNERS = [
    ("Zoë Łukasiewicz", "Kraków"),
    ("Әлия Ғалымқызы", "әғқңөұүһі"),
    ("محمد بن عبد الله", "القاهرة"),
    ("پرویز گلچین", "تهران"),
    ("דוד בן גוריון", "תל אביב"),
    ("ნინო ბერიძე", "თბილისი"),
    ("Արամ Խաչատրյան", "Երևան"),
    ("अमित कुमार", "दिल्ली"),
    ("王小明", "北京"),
    ("Emoji 🎉👍", "Almaty"),
    ("Ali علي 123 בן", "Almaty"),
]
_DIRECTION_MARKS = dict.fromkeys(map(ord, "\u200e\u200f\u202a\u202b\u202c\u202d\u202e"))


def comparable(text: str) -> str:
    """Return text as compared: NFKC, direction marks stripped, whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFKC", text).translate(_DIRECTION_MARKS).split())


@pytest.fixture
def petition(make_account, make_petition, make_signature):
    organiser = make_account("scripts@example.org")
    petition = make_petition(organiser=organiser, title="Names in every script")
    start = utcnow() - timedelta(hours=5)
    for number, (name, city) in enumerate(SIGNERS):
        make_signature(
            petition,
            name=name,
            city=city,
            show_name=True,
            created_at=start + timedelta(minutes=number),
        )
    return petition


def test_export_keeps_every_name_exactly_in_the_csv_and_readable_in_the_pdf(
    runner, tmp_path, petition
):
    output = tmp_path / "bundle.zip"
    result = runner.invoke(args=["petitions", "export", petition.slug, "--output", str(output)])
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(output) as archive:
        text = archive.read("signatures.csv").decode("utf-8-sig")
        (tmp_path / "petition.pdf").write_bytes(archive.read("petition.pdf"))
    rows = list(csv.reader(io.StringIO(text)))[1:]
    assert [(row[1], row[2]) for row in rows] == SIGNERS
    pdf = tmp_path / "petition.pdf"
    fonts = subprocess.run(["pdffonts", pdf], capture_output=True, text=True, check=True).stdout
    embedded = {line.split()[0].split("+")[1] for line in fonts.splitlines()[2:]}
    assert {"DejaVuSans", "NotoSansDevanagari-Regular", "WenQuanYiMicroHei-0", "Symbola"} <= (
        embedded
    )
    assert all(re.search(r"\byes\s+yes\s+yes\b", line) for line in fonts.splitlines()[2:])
    read = subprocess.run(["pdftotext", pdf, "-"], capture_output=True, text=True, check=True)
    lines = {comparable(line) for line in read.stdout.splitlines()}
    for name, city in SIGNERS[:-1]:  # the mixed line: see its own test below
        assert comparable(name) in lines, name
        assert comparable(city) in lines, city
    raw = subprocess.run(["pdftotext", "-raw", pdf, "-"], capture_output=True, text=True).stdout
    # The bidi algorithm's display order, each right-to-left word read back in logical order.
    mixed = [comparable(line) for line in raw.splitlines() if "Ali" in line]
    assert mixed == ["Ali בן 123 علي"]


def test_the_public_list_isolates_each_name(client, petition):
    page = client.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    for name, _ in SIGNERS[1:]:  # the page shows the ten latest
        assert f'<span class="recent__name"><bdi>{name}</bdi></span>' in page, name


def test_the_moderation_table_isolates_each_name_and_city(client, petition):
    login(client, "scripts@example.org", PASSWORD)
    response = client.get(f"/organiser/petitions/{petition.id}/signatures")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for name, city in SIGNERS:
        assert f"<td><bdi>{name}</bdi></td>" in page, name
        assert f"<td><bdi>{city}</bdi></td>" in page, city
