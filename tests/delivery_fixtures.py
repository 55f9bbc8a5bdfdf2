"""Helpers for the tests of the signed bundle: data, keys, a local time-stamp authority, tools.

Everything runs locally: the time-stamp authority listens on 127.0.0.1, the Debian tools
(poppler-utils, qpdf, libnss3-tools, openssl) read the files the library wrote.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import shutil
import subprocess
import threading
import zipfile
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from asn1crypto import keys as asn1_keys
from asn1crypto import tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.sign.timestamps import DummyTimeStamper

from petitions.delivery.bundle import add_signed_manifest, json_bytes
from petitions.delivery.keys import SigningKey
from petitions.delivery.model import ApplicantInfo, ExportInfo, PetitionInfo, Summary
from petitions.delivery.sealed import SealedRow
from petitions.merkle import leaf_hash
from petitions.sealing import SealingPublicKey
from tests.conftest import unavailable

KAZAKH_NAME = "Әлия Қасымқызы Үмбетова"
OPENS_AT = datetime(2021, 9, 14, 4, 0, tzinfo=UTC)
ALMATY_CITIES = ("Алматы", "Астана", "Шымкент", "Москва", "London")
COUNTRIES = ("KZ", "KZ", "KZ", "RU", "GB")

#: A person applying, with every field; the IIN's check digit is right.
KAZAKH_APPLICANT = ApplicantInfo(
    kind="person",
    surname="Үмбетова",
    name="Әлия",
    patronymic="Қасымқызы",
    address="100000, Қарағанды қ., Бұқар жырау даңғылы, 10-үй, 5-пәтер",
    id_number="900101400013",
    email="aliya@example.org",
    phone="+7 701 234 56 78",
)
#: An organisation applying, with the person who signs for it.
ORGANISATION_APPLICANT = ApplicantInfo(
    kind="organisation",
    name="Қазақстан адам құқықтары бюросы",
    signatory="Евгений Жовтис",
    address="100012, Қарағанды қ., Ерубаев к-сі, 1",
    id_number="200140000123",
    email="bureau@example.org",
)

Row = tuple[int, str, str, str, datetime]
#: A row with its receipt leaf, as the export hands it to `build_bundle(..., receipts=True)`.
LeafRow = tuple[int, str, str, str, datetime, bytes]


def make_petition(**changes: object) -> PetitionInfo:
    """Return a petition in Kazakh modelled on the demo appeal."""
    values: dict = {
        "slug": "pardon-aron-atabek",
        "title": "Арон Атабекті кешіріңіз",
        "body": "## Өтініш\n\nБіз ақын **Арон Атабекті** кешіруді сұраймыз.\n\n- бірінші\n- екінші",
        "recipient": "Қазақстан Республикасының Президенті",
        "language": "kk",
        "timezone": "Asia/Almaty",
        "opens_at": OPENS_AT,
        "closes_at": OPENS_AT + timedelta(days=5),
        "organiser": "Демо ұйымдастырушы",
        "recipient_kind": "president",
        "applicant": KAZAKH_APPLICANT,
    }
    values.update(changes)
    return PetitionInfo(**values)


def make_export(
    final: bool = True, identifier: str = "pardon-aron-atabek-20210919-test01"
) -> ExportInfo:
    """Return an export made just after the window closed."""
    return ExportInfo(
        identifier=identifier,
        generated_at=OPENS_AT + timedelta(days=5, hours=1),
        final=final,
        generator_version="0.1.0-test",
    )


def make_rows(count: int, names: Sequence[str] = ()) -> list[Row]:
    """Return `count` rows; the first ones take the given names, the rest are generated."""
    rows = []
    for index in range(count):
        name = names[index] if index < len(names) else f"Қол қоюшы Нөмір {index + 1}"
        city = ALMATY_CITIES[index % len(ALMATY_CITIES)]
        country = COUNTRIES[index % len(COUNTRIES)]
        rows.append((index + 1, name, city, country, OPENS_AT + timedelta(minutes=37 * index)))
    return rows


def leaf_of_row(number: int) -> bytes:
    """Return the receipt leaf the test rows give row `number`."""
    return leaf_hash(f"row {number}".encode())


def with_leaves(rows: Sequence[Row]) -> list[LeafRow]:
    """Give each row a receipt leaf of its own (the leaf hash of its number)."""
    return [(*row, leaf_of_row(row[0])) for row in rows]


def seal_rows(
    rows: Sequence[Row], public_key: SealingPublicKey, petition: PetitionInfo
) -> list[SealedRow]:
    """Seal each row as a sealed petition stores it: its name, city, an email and a comment.

    Each row has the leaf `with_leaves` gives it.
    """
    sealed = []
    for number, name, city, country, signed_at in rows:
        signature_id = f"sig-{number}"
        fields = {
            "name": name,
            "email": f"signer{number}@example.kz",
            "city": city,
            "comment": "Арон бостандыққа!" if number % 4 == 0 else None,
        }
        box = public_key.seal(fields, signature_id=signature_id, petition=petition.slug)
        sealed.append(SealedRow(number, signature_id, country, signed_at, box, leaf_of_row(number)))
    return sealed


def summary_of(rows: Sequence[Row], petition: PetitionInfo) -> Summary:
    """Count the rows the way the database would: by country and by local day."""
    by_country = Counter(row[3] for row in rows)
    by_day = Counter(row[4].astimezone(petition.zone).date() for row in rows)
    return Summary(len(rows), by_country, by_day)


def members(path: Path) -> dict[str, bytes]:
    """Return every member of a ZIP by name."""
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def resign(
    source: Path,
    target: Path,
    key: SigningKey,
    changes: dict[str, bytes],
    receipts: dict | None = None,
) -> Path:
    """Copy a sealed export with some files changed, its manifest updated and signed again.

    What a server that lies would do: every check of integrity passes, the contents are false.
    `receipts`, if given, changes those keys of the manifest's receipts.
    """
    files = {**members(source), **changes}
    manifest = json.loads(files.pop("manifest.json"))
    files.pop("manifest.json.p7s")
    if "counts.json" in changes:
        manifest["counts"] = json.loads(changes["counts.json"])
    manifest["receipts"].update(receipts or {})
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
            manifest["files"][name] = hashlib.sha256(data).hexdigest()
        add_signed_manifest(archive, json_bytes(manifest), key, make_export().generated_at)
    return target


def rows_csv(rows: list[SealedRow]) -> bytes:
    """Return rows.csv as write_sealed_export writes it."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["number", "signature_id", "country", "signed_at", "sealed", "leaf"])
    for row in rows:
        stamp = row.signed_at.isoformat().replace("+00:00", "Z")
        writer.writerow([*row[:3], stamp, base64.b64encode(row.sealed).decode(), row.leaf.hex()])
    return text.getvalue().encode()


#: The Debian package of each tool the tests run.
PACKAGES = {
    "pdftotext": "poppler-utils",
    "pdffonts": "poppler-utils",
    "pdfinfo": "poppler-utils",
    "pdfsig": "poppler-utils",
    "qpdf": "qpdf",
    "certutil": "libnss3-tools",
    "openssl": "openssl",
    "sha256sum": "coreutils",
}


def run(*command: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command-line tool and return its result; skip (fail in CI) if it is missing."""
    tool = str(command[0])
    if shutil.which(tool) is None:
        unavailable(f"{tool} is not installed (Debian package {PACKAGES.get(tool, tool)})")
    return subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, check=check, timeout=120
    )


def unzip(bundle: Path, directory: Path) -> Path:
    """Extract a bundle into `directory` and return it."""
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(directory)
    return directory


def rewrite_member(bundle: Path, target: Path, name: str, offset: int) -> None:
    """Copy a bundle to `target` with one byte of member `name` changed."""
    with zipfile.ZipFile(bundle) as source, zipfile.ZipFile(target, "w") as copy:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == name:
                changed = bytearray(data)
                changed[offset % len(changed)] ^= 0x20
                data = bytes(changed)
            copy.writestr(info, data)


def check_as_recipient(bundle: Path, directory: Path) -> Path:
    """Check a bundle with the recipient's tools: sha256sum, openssl cms and pdfsig.

    Returns the directory the bundle was unzipped into.
    """
    files = unzip(bundle, directory)
    manifest = json.loads((files / "manifest.json").read_text(encoding="utf-8"))
    for name, digest in manifest["files"].items():
        assert run("sha256sum", files / name).stdout.split()[0] == digest
    cms = openssl_cms_verify(files, "signer.pem")
    assert cms.returncode == 0, cms.stderr
    for volume in manifest["volumes"]:
        assert "Signature is Valid." in run("pdfsig", files / volume).stdout
    return files


def openssl_cms_verify(
    directory: Path, ca_file: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    """Check manifest.json.p7s in `directory` with `openssl cms -verify`, trusting `ca_file`."""
    return run(
        "openssl",
        "cms",
        "-verify",
        "-binary",
        "-inform",
        "DER",
        "-in",
        directory / "manifest.json.p7s",
        "-content",
        directory / "manifest.json",
        "-CAfile",
        directory / ca_file,
        "-purpose",
        "any",
        "-out",
        os.devnull,
        *extra,
        check=False,
    )


def nss_database(directory: Path, certificate: Path) -> str:
    """Create an NSS database that trusts `certificate`, for `pdfsig -nssdir`."""
    directory.mkdir()
    run("certutil", "-N", "-d", f"sql:{directory}", "--empty-password")
    run(
        "certutil", "-A", "-d", f"sql:{directory}", "-n", "signer", "-t", "C,C,C", "-i", certificate
    )
    return f"sql:{directory}"


# Certificates for tests: an issuing authority (like NCA RK's) and a time-stamp authority.


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def issue_certificate(
    subject: str,
    key: rsa.RSAPrivateKey,
    issuer: tuple[x509.Certificate, rsa.RSAPrivateKey] | None = None,
    *,
    ca: bool = False,
    timestamping: bool = False,
) -> x509.Certificate:
    """Issue a certificate for `key`, self-signed unless an issuer (certificate, key) is given."""
    issuer_name = issuer[0].subject if issuer else _name(subject)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime.now(UTC) - timedelta(days=1))
        .not_valid_after(datetime.now(UTC) + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(_usage(ca), critical=True)
    )
    if timestamping:
        extension = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING])
        builder = builder.add_extension(extension, critical=True)
    return builder.sign(issuer[1] if issuer else key, hashes.SHA256())


def _usage(ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=not ca,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def new_key() -> rsa.RSAPrivateKey:
    """Return a 2048-bit RSA key, quick enough for tests."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def dummy_timestamper() -> DummyTimeStamper:
    """Return pyHanko's in-process time-stamp authority with a certificate of its own."""
    key = new_key()
    certificate = issue_certificate("Test TSA", key, timestamping=True)
    return DummyTimeStamper(
        tsa_cert=asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER)),
        tsa_key=asn1_keys.PrivateKeyInfo.load(
            key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        ),
    )


class _TimestampHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        request = tsp.TimeStampReq.load(self.rfile.read(int(self.headers["Content-Length"])))
        reply = self.server.stamper.request_tsa_response(request).dump()  # type: ignore[attr-defined]
        self.server.requests += 1  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "application/timestamp-reply")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: object) -> None:
        return None


def local_timestamp_authority() -> Iterator[tuple[str, ThreadingHTTPServer]]:
    """Serve an RFC 3161 time-stamp authority on 127.0.0.1; yield its URL and server."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _TimestampHandler)
    server.stamper = dummy_timestamper()  # type: ignore[attr-defined]
    server.requests = 0  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/tsa", server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
