"""The sealed export: what the server writes, what the organiser's machine checks and opens."""

from __future__ import annotations

import base64
import csv
import dataclasses
import io
import json
import stat
import zipfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import count
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives import hashes

from petitions.delivery import sealed as sealed_module
from petitions.delivery.bundle import BundleError, add_signed_manifest, build_bundle, json_bytes
from petitions.delivery.keys import SigningKey, ensure_development_key, load_signing_key
from petitions.delivery.model import Summary
from petitions.delivery.sealed import (
    CHUNK_ROWS,
    CHUNKS_PER_WORKER,
    SealedExportError,
    SealedRow,
    unseal,
    verify_sealed_export,
    write_sealed_export,
)
from petitions.delivery.verify import verify_bundle
from petitions.merkle import root_of
from petitions.sealing import SealingIdentity
from tests.delivery_fixtures import (
    KAZAKH_NAME,
    check_as_recipient,
    leaf_of_row,
    make_export,
    make_petition,
    make_rows,
    members,
    resign,
    rewrite_member,
    rows_csv,
    seal_rows,
    summary_of,
    with_leaves,
)

NAMES = [KAZAKH_NAME, "Алексей Иванов", '=HYPERLINK("http://x")', "John Smith"]
NAME = "pardon-aron-atabek-20210919.sealed.zip"
FILES = ["petition.json", "counts.json", "rows.csv", "signer.pem"]


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> SigningKey:
    return load_signing_key(ensure_development_key(tmp_path_factory.getbasetemp() / "key"), None)


@pytest.fixture(scope="module")
def identity() -> SealingIdentity:
    return SealingIdentity.generate()


def write(directory: Path, key: SigningKey, identity: SealingIdentity, rows=None, **options):
    """Write a sealed export of `rows` (sealed rows; default 130 of them) into `directory`."""
    petition = make_petition()
    clear = make_rows(130, NAMES)
    summary = options.pop("summary", summary_of(clear, petition))
    if rows is None:
        rows = seal_rows(clear, identity.public_key, petition)
    return write_sealed_export(
        petition, make_export(), summary, iter(rows), key, identity.public_key, directory, **options
    )


@pytest.fixture(scope="module")
def export(tmp_path_factory, key, identity) -> Path:
    return write(tmp_path_factory.mktemp("sealed"), key, identity).path


def refused(path: Path, identity=None, **options) -> str:
    with pytest.raises(SealedExportError) as raised:
        verify_sealed_export(path, identity.public_key if identity else None, **options)
    return str(raised.value)


# What the server writes.


def test_the_export_holds_its_files_and_nothing_in_clear(export, identity):
    assert export.name == NAME
    files = members(export)
    assert list(files) == [*FILES, "manifest.json", "manifest.json.p7s"]
    everything = b"".join(files.values())
    for secret in (*NAMES[:2], "John Smith", "Алматы", "Шымкент", "signer1@", "бостандыққа"):
        assert secret.encode() not in everything
    assert stat.S_IMODE(export.stat().st_mode) == 0o600


def test_the_manifest_names_the_export_the_key_and_every_file(export, identity, key):
    manifest = json.loads(members(export)["manifest.json"])
    assert manifest["format"] == "petitions-sealed-export/1"
    assert manifest["identifier"] == "pardon-aron-atabek-20210919-test01"
    assert manifest["export"] == "final"
    assert manifest["generated_at"] == "2021-09-19T05:00:00Z"
    assert manifest["generator"] == {"name": "petitions", "version": "0.1.0-test"}
    assert manifest["petition"] == "pardon-aron-atabek"
    assert manifest["sealing_key"] == {
        "public_key": identity.public_key.line,
        "fingerprint": identity.public_key.fingerprint,
    }
    assert manifest["counts"]["signatures"] == 130
    assert manifest["counts"]["by_country"] == {"GB": 26, "KZ": 78, "RU": 26}
    assert sorted(manifest["files"]) == sorted(FILES)
    assert manifest["signer"]["development_key"] is True
    assert json.loads(members(export)["counts.json"]) == manifest["counts"]
    assert manifest["receipts"] == {
        "tree": "rfc6962-sha256",
        "tree_size": 130,
        "root": root_of(leaf_of_row(number) for number in range(1, 131)).hex(),
    }


def test_petition_json_holds_every_field_and_the_key(export, identity):
    document = json.loads(members(export)["petition.json"])
    petition = make_petition()
    assert document == {
        "slug": petition.slug,
        "title": petition.title,
        "body": petition.body,
        "recipient": petition.recipient,
        "language": "kk",
        "timezone": "Asia/Almaty",
        "opens_at": "2021-09-14T04:00:00Z",
        "closes_at": "2021-09-19T04:00:00Z",
        "organiser": petition.organiser,
        "recipient_kind": "president",
        "applicant": dataclasses.asdict(petition.applicant),
        "sealing_key": {
            "public_key": identity.public_key.line,
            "fingerprint": identity.public_key.fingerprint,
        },
    }


def test_rows_csv_has_the_sealed_boxes_in_base64_and_the_leaves_in_hex(export, identity):
    lines = members(export)["rows.csv"].decode("ascii").splitlines()
    assert lines[0] == "number,signature_id,country,signed_at,sealed,leaf"
    assert len(lines) == 131
    number, signature_id, country, signed_at, sealed, leaf = lines[2].split(",")
    assert (number, signature_id, country, signed_at, leaf) == (
        "2",
        "sig-2",
        "KZ",
        "2021-09-14T04:37:00Z",
        leaf_of_row(2).hex(),
    )
    opened = identity.open(
        base64.b64decode(sealed), signature_id="sig-2", petition="pardon-aron-atabek"
    )
    assert (opened.name, opened.email, opened.city) == (
        "Алексей Иванов",
        "signer2@example.kz",
        "Астана",
    )


def test_the_export_is_not_written_over(export, key, identity):
    with pytest.raises(FileExistsError, match="exists already"):
        write(export.parent, key, identity)


@pytest.mark.parametrize(
    ("summary", "message"),
    [
        (
            Summary(131, {"KZ": 79, "RU": 26, "GB": 26}),
            "the rows do not match the summary: 130 rows, but the summary counts 131 signatures; "
            "the counts by country differ from the rows; the counts by day (in the petition's "
            "time zone) differ from the rows",
        ),
        (Summary(129), "more rows than the 129 signatures the summary counts"),
    ],
)
def test_rows_that_disagree_with_the_summary_leave_nothing(
    tmp_path, key, identity, summary, message
):
    with pytest.raises(BundleError) as raised:
        write(tmp_path, key, identity, summary=summary)
    assert str(raised.value) == message
    assert list(tmp_path.iterdir()) == []


def _rows(identity, count_=3):
    petition = make_petition()
    return seal_rows(make_rows(count_), identity.public_key, petition)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"number": 3}, "row 3: is numbered 3, not 2: rows are numbered from 1 in order"),
        (
            {"signature_id": "a,b"},
            "row 2: has a signature id that is not 1 to 64 letters, digits, - and _",
        ),
        ({"country": "kz"}, "row 2: has a country that is not an ISO 3166 alpha-2 code"),
        ({"signed_at": "naive"}, "row 2: signed_at must be an aware (UTC) datetime"),
        (
            {"signed_at": "early"},
            "row 2: was signed before the row above it: rows must be in signing order",
        ),
        ({"sealed": b"short"}, "row 2: holds no sealed box (too short)"),
    ],
)
def test_a_row_the_organiser_could_not_open_is_refused_on_the_server(
    tmp_path, key, identity, change, message
):
    rows = _rows(identity)
    if change.get("signed_at") == "naive":
        change = {"signed_at": rows[1].signed_at.replace(tzinfo=None)}
    elif change.get("signed_at") == "early":
        change = {"signed_at": rows[0].signed_at - timedelta(seconds=1)}
    rows[1] = rows[1]._replace(**change)
    with pytest.raises(BundleError) as raised:
        write(tmp_path, key, identity, rows, summary=summary_of(make_rows(3), make_petition()))
    assert str(raised.value) == message
    assert list(tmp_path.iterdir()) == []


# What the organiser's machine checks.


def test_a_sound_export_verifies_and_says_what_it_holds(export, identity, key):
    checked = verify_sealed_export(export, identity.public_key)
    assert checked.petition == make_petition()
    assert checked.export == make_export()
    assert checked.summary == summary_of(make_rows(130), make_petition())
    assert checked.sealing_key == identity.public_key
    assert checked.development_key is True
    assert checked.certificate_sha256 == key.certificate.fingerprint(hashes.SHA256()).hex()


def test_an_altered_manifest_is_refused(export, tmp_path):
    manifest = members(export)["manifest.json"].decode()
    changed = manifest.replace('"signatures": 130', '"signatures": 131')
    assert changed != manifest
    target = tmp_path / NAME
    rewrite = {**members(export), "manifest.json": changed.encode()}
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in rewrite.items():
            archive.writestr(name, data)
    assert refused(target) == (
        f"{NAME}: manifest.json was changed after it was signed (see manifest.json.p7s)"
    )


def test_an_altered_byte_of_rows_csv_is_refused(export, tmp_path):
    target = tmp_path / NAME
    rewrite_member(export, target, "rows.csv", -10)
    assert refused(target) == (
        f"{NAME}: rows.csv has changed: its SHA-256 differs from the one in manifest.json"
    )


def test_a_truncated_export_is_refused(export, tmp_path):
    target = tmp_path / NAME
    target.write_bytes(export.read_bytes()[: export.stat().st_size // 2])
    assert refused(target) == f"{NAME}: is not a readable ZIP file"


def test_an_export_sealed_to_another_key_names_both_fingerprints(export, identity):
    other = SealingIdentity.generate()
    assert refused(export, other) == (
        f"{NAME}: sealed to the key {identity.public_key.fingerprint}, "
        f"not to this one ({other.public_key.fingerprint})"
    )


def test_the_server_certificate_can_be_pinned(export, key):
    fingerprint = key.certificate.fingerprint(hashes.SHA256()).hex()
    grouped = ":".join(fingerprint[i : i + 2] for i in range(0, 64, 2)).upper()
    assert verify_sealed_export(export, server_certificate_sha256=grouped).summary.total == 130
    assert refused(export, server_certificate_sha256="ab" * 32) == (
        f"{NAME}: signed by another certificate than the one expected "
        f"(its SHA-256 is {fingerprint}, not {'ab' * 32})"
    )
    assert refused(export, server_certificate_sha256="abc") == (
        "a certificate's SHA-256 is 64 hexadecimal digits"
    )


def test_counts_the_server_signed_but_the_rows_contradict_are_refused(export, tmp_path, key):
    counts = json.loads(members(export)["counts.json"])
    counts["signatures"] = 131
    counts["by_country"]["KZ"] = 79
    changes = {"counts.json": json_bytes(counts)}
    target = resign(export, tmp_path / NAME, key, changes, receipts={"tree_size": 131})
    assert refused(target) == (
        f"{NAME}: rows.csv disagrees with counts.json: 130 rows, but the summary counts 131 "
        "signatures; the counts by country differ from the rows"
    )


def test_a_row_numbered_out_of_order_is_refused(export, tmp_path, key, identity):
    rows = _rows(identity)
    rows[1] = rows[1]._replace(number=5)
    target = resign(export, tmp_path / NAME, key, {"rows.csv": rows_csv(rows)})
    assert refused(target) == (
        f"{NAME}: rows.csv row 2: is numbered 5, not 2: rows are numbered from 1 in order"
    )


def test_a_signature_listed_twice_is_refused(tmp_path, key, identity):
    rows = _rows(identity, 4)
    rows[2] = rows[1]._replace(number=3, signed_at=rows[2].signed_at)
    clear = make_rows(4)
    summary = summary_of(
        [*clear[:2], (3, "", "", rows[1].country, clear[2][4]), clear[3]], make_petition()
    )
    target = write(tmp_path, key, identity, rows, summary=summary).path
    assert refused(target) == f"{NAME}: rows.csv rows 2 and 3 are the same signature (sig-2)"


def test_a_bundle_is_not_a_sealed_export(tmp_path, key):
    petition, rows = make_petition(), make_rows(3)
    bundle = build_bundle(
        petition, make_export(), summary_of(rows, petition), rows, key, tmp_path, workers=0
    )
    assert refused(bundle.path) == (
        "pardon-aron-atabek-20210919.zip: not a sealed export "
        "(its manifest's format is 'petitions-bundle/1')"
    )


# Unsealing.


@pytest.fixture(scope="module")
def unsealed(tmp_path_factory, export, identity, key):
    directory = tmp_path_factory.mktemp("unsealed")
    steps: list[tuple[int, int]] = []
    result = unseal(
        export,
        identity,
        directory,
        key,
        rows_out=directory / "moderation.csv",
        workers=0,
        progress=lambda done, total: steps.append((done, total)),
    )
    return result, directory, steps


def test_unsealing_makes_the_bundle_the_clear_rows_would_have_made(unsealed, key, tmp_path):
    result, directory, _ = unsealed
    assert result.path == directory / "pardon-aron-atabek-20210919.zip"
    assert result.signature_count == 130
    assert verify_bundle(result.path).valid
    petition, rows = make_petition(), make_rows(130, NAMES)
    summary = summary_of(rows, petition)
    clear = build_bundle(
        petition, make_export(), summary, with_leaves(rows), key, tmp_path, receipts=True, workers=0
    )
    assert members(result.path)["signatures.csv"] == members(clear.path)["signatures.csv"]
    assert result.tree == clear.tree


def test_the_unsealed_bundle_publishes_the_sealed_exports_receipts(unsealed, export):
    result, _, _ = unsealed
    published = json.loads(members(export)["manifest.json"])["receipts"]
    assert json.loads(members(result.path)["manifest.json"])["receipts"] == published
    table = csv.DictReader(io.StringIO(members(result.path)["signatures.csv"].decode("utf-8-sig")))
    leaves = [bytes.fromhex(row["leaf"]) for row in table]
    assert leaves == [leaf_of_row(number) for number in range(1, 131)]
    assert root_of(leaves).hex() == published["root"] == result.tree.root_hex


def test_the_unsealed_bundle_passes_the_recipients_tools(unsealed, tmp_path):
    result, _, _ = unsealed
    check_as_recipient(result.path, tmp_path / "files")


def test_the_moderation_rows_name_each_signature_privately(unsealed):
    _, directory, _ = unsealed
    path = directory / "moderation.csv"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    raw = path.read_bytes()
    assert raw.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert raw.decode("utf-8-sig").splitlines()[0] == (
        "signature_id,number,name,email,city,country,comment,signed_at"
    )
    assert table[1] == [
        "sig-1",
        "1",
        KAZAKH_NAME,
        "signer1@example.kz",
        "Алматы",
        "KZ",
        "",
        "2021-09-14T04:00:00Z",
    ]
    assert table[3][2] == '\'=HYPERLINK("http://x")'
    assert table[4][6] == "Арон бостандыққа!"
    assert len(table) == 131


def test_progress_runs_once_through_both_passes(unsealed):
    _, _, steps = unsealed
    totals = {total for _, total in steps}
    assert totals == {130 * 7}
    dones = [done for done, _ in steps]
    assert dones == sorted(dones)
    assert dones[-1] == 130 * 7


def _nothing_left(directory: Path, *kept: Path) -> None:
    assert sorted(directory.iterdir()) == sorted(kept)


def test_a_row_moved_to_another_signature_by_the_server_is_refused(export, tmp_path, key, identity):
    rows = seal_rows(make_rows(130, NAMES), identity.public_key, make_petition())
    rows[1], rows[2] = (
        rows[1]._replace(sealed=rows[2].sealed),
        rows[2]._replace(sealed=rows[1].sealed),
    )
    source = tmp_path / "in"
    source.mkdir()
    target = resign(export, source / NAME, key, {"rows.csv": rows_csv(rows)})
    output = tmp_path / "out"
    output.mkdir()
    with pytest.raises(SealedExportError) as raised:
        unseal(target, identity, output, key, rows_out=output / "rows.csv", workers=0)
    assert str(raised.value) == (
        f"{NAME}: rows.csv row 2: signature sig-2: the sealed row belongs to another signature"
    )
    _nothing_left(output)


def test_a_row_that_does_not_open_stops_the_workers_and_leaves_nothing(tmp_path, key, identity):
    petition = make_petition()
    clear = make_rows(2 * CHUNK_ROWS + 500)
    rows = seal_rows(clear, identity.public_key, petition)
    stranger = SealingIdentity.generate().public_key
    rows[1700] = rows[1700]._replace(
        sealed=stranger.seal({"name": "x"}, signature_id="sig-1701", petition=petition.slug)
    )
    export_ = write(tmp_path, key, identity, rows, summary=summary_of(clear, petition)).path
    with pytest.raises(SealedExportError) as raised:
        unseal(export_, identity, tmp_path, key, rows_out=tmp_path / "rows.csv", workers=2)
    assert str(raised.value) == (
        f"{NAME}: rows.csv row 1701: signature sig-1701: this key does not open it, or it was "
        "altered"
    )
    _nothing_left(tmp_path, export_)


def test_workers_open_a_long_list_in_order(tmp_path, key, identity):
    petition = make_petition()
    clear = make_rows(3 * CHUNK_ROWS + 7, NAMES)
    rows = seal_rows(clear, identity.public_key, petition)
    export_ = write(tmp_path, key, identity, rows, summary=summary_of(clear, petition)).path
    output = tmp_path / "bundle.zip"
    result = unseal(export_, identity, output, key, rows_out=tmp_path / "rows.csv", workers=2)
    assert result.path == output
    assert verify_bundle(output).valid
    table = list(csv.reader(io.StringIO((tmp_path / "rows.csv").read_text("utf-8-sig"))))
    assert [row[1] for row in table[1:]] == [str(n) for n in range(1, len(clear) + 1)]
    assert [row[2] for row in table[1:5]] == [NAMES[0], NAMES[1], "'" + NAMES[2], NAMES[3]]


def test_an_existing_rows_file_is_not_written_over(unsealed, export, identity, key, tmp_path):
    existing = tmp_path / "rows.csv"
    existing.write_text("keep me")
    with pytest.raises(FileExistsError, match="exists already"):
        unseal(export, identity, tmp_path, key, rows_out=existing, workers=0)
    assert existing.read_text() == "keep me"
    _nothing_left(tmp_path, existing)


@pytest.mark.parametrize("workers", [0, 2])
def test_the_openers_read_only_a_window_of_chunks_ahead(export, identity, workers):
    checked = verify_sealed_export(export)
    one = next(iter(sealed_module.read_sealed_rows(checked)))
    read = count()

    def endless() -> Iterator[SealedRow]:
        for number in read:
            yield one
            if number > 1_000_000:
                raise AssertionError("the rows were read ahead without end")

    with sealed_module._Openers(identity, checked, workers) as openers:
        opened = openers.open(endless())
        _row, fields = next(opened)
        assert fields[0] == KAZAKH_NAME
        window = CHUNKS_PER_WORKER * max(workers, 1)
        assert next(read) == window * CHUNK_ROWS
        opened.close()


def test_rows_swapped_without_the_servers_signature_are_refused(export, tmp_path, identity):
    rows = seal_rows(make_rows(130, NAMES), identity.public_key, make_petition())
    rows[1], rows[2] = rows[2]._replace(number=2), rows[1]._replace(number=3)
    target = tmp_path / NAME
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in {**members(export), "rows.csv": rows_csv(rows)}.items():
            archive.writestr(name, data)
    assert refused(target) == (
        f"{NAME}: rows.csv has changed: its SHA-256 differs from the one in manifest.json"
    )


def test_bundles_verify_says_a_sealed_export_is_not_a_bundle(export):
    problems = [str(problem) for problem in verify_bundle(export).problems]
    assert problems == [
        "signatures.csv: is missing",
        "manifest.json: is of the format 'petitions-sealed-export/1', not a bundle's "
        "(petitions-bundle/1)",
        "manifest.json: lists no PDF",
    ]


@pytest.mark.parametrize(
    ("zone", "around"),
    [
        ("Asia/Almaty", "2021-09-14"),
        # Clocks go back at midnight (Santiago, April) and skip midnight (Santiago, September).
        ("America/Santiago", "2021-04-03"),
        ("America/Santiago", "2021-09-04"),
        ("Asia/Kathmandu", "2021-09-14"),
    ],
)
def test_rows_are_counted_by_their_local_day_across_clock_changes(zone, around):
    zones = ZoneInfo(zone)
    day_of = sealed_module._LocalDays(zones)
    start = datetime.fromisoformat(f"{around}T00:00:00+00:00")
    for minutes in range(0, 3 * 24 * 60, 7):
        moment = start + timedelta(minutes=minutes)
        assert day_of(moment) == moment.astimezone(zones).date().isoformat(), moment


def _with_changed_leaf(export: Path, directory: Path, key: SigningKey, identity) -> Path:
    """Re-sign the export with row 2's leaf changed and the published tree left as it was."""
    rows = seal_rows(make_rows(130, NAMES), identity.public_key, make_petition())
    rows[1] = rows[1]._replace(leaf=leaf_of_row(999))
    directory.mkdir()
    return resign(export, directory / NAME, key, {"rows.csv": rows_csv(rows)})


def test_a_changed_leaf_the_server_signed_is_refused(export, tmp_path, key, identity):
    target = _with_changed_leaf(export, tmp_path / "in", key, identity)
    published = json.loads(members(export)["manifest.json"])["receipts"]["root"]
    message = refused(target)
    assert message.startswith(f"{NAME}: rows.csv's leaves make a tree of 130 with the root ")
    assert message.endswith(f", not the manifest's receipts' tree of 130 with the root {published}")


def test_unseal_refuses_a_changed_leaf_and_leaves_nothing(export, tmp_path, key, identity):
    target = _with_changed_leaf(export, tmp_path / "in", key, identity)
    output = tmp_path / "out"
    output.mkdir()
    with pytest.raises(SealedExportError) as raised:
        unseal(target, identity, output, key, rows_out=output / "rows.csv", workers=0)
    assert "rows.csv's leaves make a tree of 130 with the root" in str(raised.value)
    _nothing_left(output)


def test_a_bundle_whose_tree_is_not_the_published_one_is_taken_away(
    export, tmp_path, key, identity, monkeypatch
):
    # The rows are read again to be opened: were a leaf to differ on that pass, the bundle's
    # tree would not be the one checked, and the bundle must not stay.
    reread = sealed_module.read_sealed_rows
    passes = count()

    def changing(sealed):
        first = next(passes) == 0
        for row in reread(sealed):
            yield row if first or row.number != 7 else row._replace(leaf=leaf_of_row(999))

    monkeypatch.setattr(sealed_module, "read_sealed_rows", changing)
    output = tmp_path / "out"
    output.mkdir()
    with pytest.raises(SealedExportError) as raised:
        unseal(export, identity, output, key, rows_out=output / "rows.csv", workers=0)
    assert "the rows opened make a tree of 130 with the root" in str(raised.value)
    _nothing_left(output)


def test_a_sealed_export_without_receipts_is_refused(export, tmp_path, key):
    files = members(export)
    manifest = json.loads(files.pop("manifest.json"))
    files.pop("manifest.json.p7s")
    del manifest["receipts"]
    target = tmp_path / NAME
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        add_signed_manifest(archive, json_bytes(manifest), key, make_export().generated_at)
    assert refused(target) == (
        f"{NAME}: its manifest publishes no receipts' tree (a sealed export made before "
        "receipts): ask the server for a new export"
    )
