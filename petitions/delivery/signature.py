"""Signing and checking: PAdES signatures on the PDFs, a detached CMS signature on the manifest.

The PDF signatures use the ETSI.CAdES.detached subfilter (PAdES; pyHanko's default would be the
older adbe.pkcs7.detached), optionally with an RFC 3161 time-stamp (PAdES B-T). The manifest's
signature is plain CMS in DER, so `openssl cms -verify` checks it.

The checks here prove integrity and name the certificate; they take the bundle's own signer.pem as
the trust anchor, so they do not prove who holds the key. That needs the issuing authority's
certificate (for NCA RK, its root), outside the bundle.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from asn1crypto import cms
from asn1crypto import pem as asn1_pem
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.timestamps import HTTPTimeStamper, TimeStamper
from pyhanko.sign.validation import async_validate_detached_cms, validate_pdf_signature
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from petitions.delivery.keys import SigningKey

PADES_SUBFILTER = "/ETSI.CAdES.detached"
SIGNATURE_FIELD = "Signature"
TIMESTAMP_TIMEOUT = 30
#: NCA RK signing certificates carry non-repudiation and digital signature; either will do.
_USAGE = KeyUsageConstraints(
    key_usage={"digital_signature", "non_repudiation"}, match_all_key_usages=False
)

#: What `build_bundle` accepts for time-stamps: a TSA URL, a pyHanko time-stamper, or none.
Timestamping = TimeStamper | str | None


def make_timestamper(timestamping: Timestamping) -> TimeStamper | None:
    """Return a time-stamper for a URL (HTTP, RFC 3161), or the one given."""
    if isinstance(timestamping, str):
        return HTTPTimeStamper(timestamping, timeout=TIMESTAMP_TIMEOUT)
    return timestamping


@functools.lru_cache(maxsize=2)
def _pdf_signer(pkcs12_data: bytes, password: bytes | None) -> signers.SimpleSigner:
    # Opening the PKCS#12 takes 0.1 s, and a long list has a volume per 100,000 rows to sign.
    return signers.SimpleSigner.load_pkcs12_data(pkcs12_data, (), passphrase=password)


def sign_pdf_file(
    source: Path, target: Path, key: SigningKey, timestamping: Timestamping = None
) -> None:
    """Write `source` with a PAdES signature (and a time-stamp if asked) to `target`."""
    metadata = signers.PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
    )
    with source.open("rb") as infile, target.open("wb") as outfile:
        writer = IncrementalPdfFileWriter(infile, strict=False)
        signers.sign_pdf(
            writer,
            metadata,
            signer=_pdf_signer(key.pkcs12, key.password),
            timestamper=make_timestamper(timestamping),
            bytes_reserved=_reserved_bytes(key, timestamping),
            output=outfile,
        )


def _reserved_bytes(key: SigningKey, timestamping: Timestamping) -> int:
    # Without a reservation pyHanko signs twice (once to measure), and signing loads the key
    # again each time. The signature is its value, the certificates and, if any, the time-stamp
    # token with the authority's certificates; the margins are generous.
    certificates = len(key.certificate_pem) + len(key.chain_pem)
    reserved = 8192 + certificates + (16384 if timestamping is not None else 0)
    return reserved + reserved % 2  # pyHanko wants an even number


def sign_detached(data: bytes, key: SigningKey) -> bytes:
    """Return a detached CMS signature (DER) of `data`, carrying the signing certificate only."""
    private_key, certificate, _ = pkcs12.load_key_and_certificates(key.pkcs12, key.password)
    assert private_key is not None and certificate is not None  # noqa: S101 - load_signing_key
    builder = pkcs7.PKCS7SignatureBuilder().set_data(data)
    builder = builder.add_signer(certificate, private_key, hashes.SHA256())  # type: ignore[arg-type]
    # Binary: sign the bytes as they are, without MIME line-ending canonicalisation. Only the
    # signer's certificate goes in: a CMS structure has unsigned parts, and `check_detached`
    # accepts nothing in them but what is written here, so that any changed byte is noticed.
    options = [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary]
    return builder.sign(serialization.Encoding.DER, options)


def load_certificate(pem: bytes) -> asn1_x509.Certificate:
    """Load one PEM (or DER) certificate for the checks below."""
    if asn1_pem.detect(pem):
        _, _, pem = asn1_pem.unarmor(pem)
    return asn1_x509.Certificate.load(pem)


def _context(certificate: asn1_x509.Certificate) -> ValidationContext:
    # The bundle's own certificate is the anchor: these checks are about integrity, not identity.
    return ValidationContext(trust_roots=[certificate], allow_fetching=False)


@dataclass
class SignatureCheck:
    """The outcome of checking one signature: problems in plain words, and notes."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: The signature is sound but the content it signed has changed since.
    content_changed: bool = False


def check_detached(
    data: bytes, signature: bytes, certificate: asn1_x509.Certificate
) -> SignatureCheck:
    """Check a detached CMS signature of `data` made with `certificate`, strictly."""
    check = SignatureCheck()
    try:
        content = cms.ContentInfo.load(signature, strict=True)
        signed_data = content["content"]
        if content["content_type"].native != "signed_data":
            raise ValueError("not signed data")
        signed_data.native  # noqa: B018 - parses everything now, so damage shows here
    except Exception:  # any parse failure means the same to the reader
        check.problems.append("is not a readable CMS signature")
        return check
    check.problems += _unsigned_parts(signed_data, certificate)
    try:
        with _quiet_trust_errors():
            status = asyncio.run(
                async_validate_detached_cms(
                    data,
                    signed_data,
                    signer_validation_context=_context(certificate),
                    key_usage_settings=_USAGE,
                )
            )
    except Exception:  # a damaged signature can fail in many ways
        check.problems.append("has a signature that cannot be checked")
        return check
    _judge(check, status.intact, status.valid, status.signing_cert, certificate)
    return check


def _unsigned_parts(signed_data: cms.SignedData, certificate: asn1_x509.Certificate) -> list[str]:
    # The signature does not cover these fields, so they must be exactly what sign_detached
    # writes: one signer, its digest algorithm listed alone, its certificate alone, nothing else.
    signers = signed_data["signer_infos"]
    certificates = [choice.chosen.dump() for choice in signed_data["certificates"] or []]
    expected = (
        signed_data["version"].native == "v1"
        and len(signers) == 1
        and signers[0]["version"].native == "v1"
        and [a.dump() for a in signed_data["digest_algorithms"]]
        == [signers[0]["digest_algorithm"].dump()]
        and certificates == [certificate.dump()]
        and not signed_data["crls"]
        and not signers[0]["unsigned_attrs"]
        and not signed_data["encap_content_info"]["content"]
    )
    return [] if expected else ["has unsigned parts that differ from what was written"]


def _judge(
    check: SignatureCheck,
    intact: bool,
    valid: bool,
    signing_cert: asn1_x509.Certificate | None,
    certificate: asn1_x509.Certificate,
) -> None:
    # A valid signature over a digest that no longer matches: the signed content changed.
    # An invalid one: the signature itself was damaged or forged.
    if not valid:
        check.problems.append("has a signature value that does not verify (damaged or forged)")
    elif not intact:
        check.content_changed = True
    if signing_cert is None or signing_cert.dump() != certificate.dump():
        check.problems.append("was signed with a certificate other than signer.pem")


@contextlib.contextmanager
def _quiet_trust_errors() -> Iterator[None]:
    # These checks anchor trust in signer.pem only, so pyHanko cannot trust a time-stamp
    # authority's certificate and logs that as an error with a traceback. That is expected
    # here: the report says what the checks prove, and the recipient's own tools judge trust.
    loggers = [logging.getLogger(name) for name in ("pyhanko", "pyhanko_certvalidator")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def check_pdf(stream: BinaryIO, certificate: asn1_x509.Certificate) -> SignatureCheck:
    """Check that a PDF has one intact PAdES signature by `certificate` over the whole file."""
    check = SignatureCheck()
    try:
        embedded = PdfFileReader(stream, strict=False).embedded_signatures
    except Exception:  # a damaged file can fail in many ways
        check.problems.append("cannot be read as a PDF")
        return check
    if len(embedded) != 1:
        check.problems.append(f"has {len(embedded)} signatures; one was expected")
    for signature in embedded:
        _check_embedded(check, signature, certificate)
    return check


def _check_embedded(check: SignatureCheck, signature, certificate: asn1_x509.Certificate) -> None:
    if signature.sig_object.get("/SubFilter") != PADES_SUBFILTER:
        check.problems.append("is not signed with a PAdES (ETSI.CAdES.detached) signature")
    try:
        with _quiet_trust_errors():
            status = validate_pdf_signature(
                signature, _context(certificate), key_usage_settings=_USAGE, skip_diff=True
            )
    except Exception:  # a damaged signature can fail in many ways
        check.problems.append("has a signature that cannot be checked")
        return
    _judge(check, status.intact, status.valid, status.signing_cert, certificate)
    if check.content_changed:
        check.problems.append("was changed after it was signed")
    if status.coverage != SignatureCoverageLevel.ENTIRE_FILE:
        check.problems.append("has content after its signature, or a signature that skips part")
    stamp = status.timestamp_validity
    if stamp is not None:
        if stamp.intact and stamp.valid:
            check.notes.append(f"time-stamped at {stamp.timestamp:%Y-%m-%d %H:%M:%S %Z}")
        else:
            check.problems.append("has a time-stamp that does not verify")
