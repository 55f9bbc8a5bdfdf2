"""Keys and signatures: legacy PKCS#12 files as NCA RK issues them, PAdES, CMS, time-stamps."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from reportlab.pdfgen.canvas import Canvas

from petitions.delivery.bundle import build_bundle
from petitions.delivery.fonts import REGULAR, register_fonts
from petitions.delivery.keys import (
    DEVELOPMENT_COMMON_NAME,
    SigningKey,
    SigningKeyError,
    ensure_development_key,
    load_signing_key,
)
from petitions.delivery.signature import (
    check_pdf,
    load_certificate,
    sign_detached,
    sign_pdf_file,
)
from petitions.delivery.verify import verify_bundle
from tests.delivery_fixtures import (
    KAZAKH_NAME,
    dummy_timestamper,
    issue_certificate,
    local_timestamp_authority,
    make_export,
    make_petition,
    make_rows,
    new_key,
    nss_database,
    openssl_cms_verify,
    run,
    summary_of,
    unzip,
)

PASSWORD = "Qwerty12"


@pytest.fixture(scope="module")
def development_key(tmp_path_factory: pytest.TempPathFactory) -> SigningKey:
    # The session's base directory: every test module reuses the one key it makes.
    return load_signing_key(ensure_development_key(tmp_path_factory.getbasetemp() / "key"), None)


@pytest.fixture
def unsigned_pdf(tmp_path: Path) -> Path:
    register_fonts()
    path = tmp_path / "unsigned.pdf"
    canvas = Canvas(str(path), initialFontName=REGULAR)
    canvas.drawString(72, 720, KAZAKH_NAME)
    canvas.showPage()
    canvas.save()
    return path


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """An issuing authority like NCA RK: its root (PEM), a signer's key and certificate (PEM)."""
    directory = tmp_path_factory.mktemp("authority")
    root_key = new_key()
    root = issue_certificate("Test national certification authority", root_key, ca=True)
    signer_key = new_key()
    signer = issue_certificate("ӘЛИЯ ҮМБЕТОВА IIN000000000000", signer_key, (root, root_key))
    paths = directory / "root.pem", directory / "signer-key.pem", directory / "signer.pem"
    paths[0].write_bytes(root.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(
        signer_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    paths[2].write_bytes(signer.public_bytes(serialization.Encoding.PEM))
    return paths


def legacy_openssl_pkcs12(authority: tuple[Path, Path, Path], target: Path) -> Path:
    """Export the signer as NCA RK files are: certificates RC2-40, key 3DES, SHA-1 MAC."""
    root, key, certificate = authority
    run(
        "openssl",
        "pkcs12",
        "-export",
        "-legacy",
        "-certpbe",
        "PBE-SHA1-RC2-40",
        "-keypbe",
        "PBE-SHA1-3DES",
        "-macalg",
        "sha1",
        "-inkey",
        key,
        "-in",
        certificate,
        "-certfile",
        root,
        "-name",
        "RSA256",
        "-out",
        target,
        "-passout",
        f"pass:{PASSWORD}",
    )
    return target


def pdfsig(path: Path, nssdir: str | None = None) -> str:
    """Return what pdfsig says of a PDF's signatures."""
    options = ["-nssdir", nssdir] if nssdir else []
    return run("pdfsig", *options, path, check=False).stdout


def test_development_key_is_made_once_marked_and_reused(tmp_path):
    path = ensure_development_key(tmp_path / "instance")
    first = path.read_bytes()
    assert ensure_development_key(tmp_path / "instance") == path
    assert path.read_bytes() == first
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    key = load_signing_key(path, None)
    assert key.development
    assert DEVELOPMENT_COMMON_NAME in key.subject
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_legacy_rc2_pkcs12_as_nca_issues_loads_and_signs(authority, tmp_path, unsigned_pdf):
    p12 = legacy_openssl_pkcs12(authority, tmp_path / "RSA256_test.p12")
    info = run(
        "openssl", "pkcs12", "-info", "-noout", "-legacy", "-in", p12, "-passin", f"pass:{PASSWORD}"
    ).stderr
    assert "pbeWithSHA1And40BitRC2-CBC" in info
    assert "pbeWithSHA1And3-KeyTripleDES-CBC" in info
    key = load_signing_key(p12, PASSWORD)
    assert not key.development
    assert key.chain_pem.startswith(b"-----BEGIN CERTIFICATE-----")  # the authority's root
    signed = tmp_path / "signed.pdf"
    sign_pdf_file(unsigned_pdf, signed, key)
    with signed.open("rb") as file:
        assert check_pdf(file, load_certificate(key.certificate_pem)).problems == []
    assert "Signature is Valid." in pdfsig(signed)


def test_legacy_3des_pkcs12_from_cryptography_loads_and_signs(
    development_key, tmp_path, unsigned_pdf
):
    private, certificate, _ = pkcs12.load_key_and_certificates(development_key.pkcs12, None)
    encryption = (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(2048)
        .key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC)
        .hmac_hash(hashes.SHA1())  # noqa: S303 - the legacy format under test
        .build(PASSWORD.encode())
    )
    data = pkcs12.serialize_key_and_certificates(b"legacy", private, certificate, None, encryption)
    key = load_signing_key(data, PASSWORD)
    signed = tmp_path / "signed.pdf"
    sign_pdf_file(unsigned_pdf, signed, key)
    assert "Signature is Valid." in pdfsig(signed)


def test_wrong_password_is_a_clear_error(authority, tmp_path):
    p12 = legacy_openssl_pkcs12(authority, tmp_path / "RSA256_test.p12")
    with pytest.raises(SigningKeyError, match="wrong password"):
        load_signing_key(p12, "not the password")


def test_pdf_signature_is_pades_and_trusted_once_its_certificate_is(
    development_key, tmp_path, unsigned_pdf
):
    signed = tmp_path / "signed.pdf"
    sign_pdf_file(unsigned_pdf, signed, development_key)
    (tmp_path / "signer.pem").write_bytes(development_key.certificate_pem)
    nss = nss_database(tmp_path / "nss", tmp_path / "signer.pem")
    report = pdfsig(signed, nss)
    assert "Signature Type: ETSI.CAdES.detached" in report
    assert "Signature Validation: Signature is Valid." in report
    assert "Certificate Validation: Certificate is Trusted." in report
    assert "Total document signed" in report


def test_one_changed_byte_is_a_digest_mismatch_for_pdfsig(development_key, tmp_path, unsigned_pdf):
    signed = tmp_path / "signed.pdf"
    sign_pdf_file(unsigned_pdf, signed, development_key)
    data = bytearray(signed.read_bytes())
    data[data.index(b"/MediaBox") + 2] ^= 0x01
    signed.write_bytes(bytes(data))
    assert "Digest Mismatch" in pdfsig(signed)


def test_detached_signature_verifies_with_openssl_cms(development_key, tmp_path):
    content = tmp_path / "manifest.json"
    content.write_bytes(b'{"files": {}}\n')
    (tmp_path / "manifest.json.p7s").write_bytes(
        sign_detached(content.read_bytes(), development_key)
    )
    (tmp_path / "signer.pem").write_bytes(development_key.certificate_pem)
    result = openssl_cms_verify(tmp_path, "signer.pem")
    assert result.returncode == 0, result.stderr
    assert "Verification successful" in result.stderr


def test_pyhanko_dummy_authority_time_stamps_the_signature(development_key, tmp_path, unsigned_pdf):
    signed = tmp_path / "signed.pdf"
    sign_pdf_file(unsigned_pdf, signed, development_key, dummy_timestamper())
    with signed.open("rb") as file:
        check = check_pdf(file, load_certificate(development_key.certificate_pem))
    assert check.problems == []
    assert any(note.startswith("time-stamped at") for note in check.notes)
    assert "Signature is Valid." in pdfsig(signed)


@pytest.fixture
def timestamp_url() -> Iterator[tuple[str, object]]:
    yield from local_timestamp_authority()


def test_bundle_time_stamped_by_a_local_http_authority(development_key, tmp_path, timestamp_url):
    url, server = timestamp_url
    petition = make_petition()
    rows = make_rows(12, [KAZAKH_NAME])
    result = build_bundle(
        petition,
        make_export(),
        summary_of(rows, petition),
        iter(rows),
        development_key,
        tmp_path,
        timestamping=url,
    )
    assert server.requests >= 1
    report = verify_bundle(result.path)
    assert report.valid, str(report)
    assert any("time-stamped at" in note for note in report.notes)


def test_issued_key_with_its_chain_makes_a_valid_bundle(authority, tmp_path):
    key = load_signing_key(legacy_openssl_pkcs12(authority, tmp_path / "RSA256_test.p12"), PASSWORD)
    petition = make_petition()
    rows = make_rows(5)
    result = build_bundle(petition, make_export(), summary_of(rows, petition), rows, key, tmp_path)
    report = verify_bundle(result.path)
    assert report.valid, str(report)
    assert report.development_key is False
    assert "IIN000000000000" in (report.signer or "")
    files = unzip(result.path, tmp_path / "bundle")
    # Trust in the authority's root proves who signed; signer.pem alone proves integrity.
    (files / "root.pem").write_bytes(authority[0].read_bytes())
    assert openssl_cms_verify(files, "root.pem").returncode == 0
    assert openssl_cms_verify(files, "signer.pem", "-partial_chain").returncode == 0
    assert "сынақ кілтімен" not in run("pdftotext", "-l", "1", files / "petition.pdf", "-").stdout
