"""Applicants of appeals: Kazakhstan's identification numbers, phones, and the bundle's copy.

Under Kazakhstan's law on appeals an appeal without the applicant's name and postal address is
anonymous and is not considered, so a final bundle is made only for a petition with an
applicant (`require_applicant`).
"""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l

from petitions.delivery.model import ApplicantInfo
from petitions.models import Applicant, Petition

#: Weights of the check digit of an IIN or a BIN (the same rule for both), first and second
#: pass: the sum of digits times weights, modulo 11; a result of 10 on the first pass takes the
#: second, and a 10 on the second makes the number invalid (no such number is issued).
_FIRST_WEIGHTS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
_SECOND_WEIGHTS = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)
_TWELVE_DIGITS = re.compile(r"^[0-9]{12}$")
#: What a phone number may be written with: digits, one leading +, spaces, hyphens, brackets.
_PHONE = re.compile(r"^\+?[0-9 ()\-]+$")
PHONE_DIGITS = range(7, 16)

#: Why a final bundle is refused: the same words on the dashboard and on the command line.
NO_APPLICANT = _l(
    "A final bundle needs an applicant: without the applicant's name and postal address the "
    "recipient may treat the appeal as anonymous and leave it unconsidered. Enter the "
    "applicant in the petition's editor, then export again."
)
#: The command line's English, for logs and the terminal.
NO_APPLICANT_CLI = (
    "a final bundle needs an applicant: without the applicant's name and postal address the "
    "recipient may treat the appeal as anonymous. Enter the applicant in the petition's "
    "editor (Edit, then Applicant), then export again"
)


class MissingApplicant(ValueError):
    """A final bundle asked for of a petition that has no applicant."""

    def __init__(self) -> None:
        super().__init__(NO_APPLICANT_CLI)
        self.user_message = NO_APPLICANT


def check_digit(digits: str) -> int | None:
    """Return the check digit the first 11 digits call for, or None if no number has them."""
    values = [int(digit) for digit in digits[:11]]
    for weights in (_FIRST_WEIGHTS, _SECOND_WEIGHTS):
        result = sum(value * weight for value, weight in zip(values, weights, strict=True)) % 11
        if result != 10:
            return result
    return None


def is_valid_id_number(text: str) -> bool:
    """Tell whether `text` is 12 ASCII digits whose last is the check digit of the others."""
    if not _TWELVE_DIGITS.match(text):
        return False
    return check_digit(text) == int(text[11])


def is_valid_phone(text: str) -> bool:
    """Tell whether `text` looks like a phone number: 7 to 15 digits, with usual separators."""
    if not _PHONE.match(text) or "+" in text[1:]:
        return False
    return sum(character.isdigit() for character in text) in PHONE_DIGITS


def applicant_info(applicant: Applicant | None) -> ApplicantInfo | None:
    """Copy a petition's applicant for the bundle, which knows nothing of the database."""
    if applicant is None:
        return None
    return ApplicantInfo(
        kind=str(applicant.kind),
        name=applicant.name,
        address=applicant.address,
        email=applicant.email,
        surname=applicant.surname or "",
        patronymic=applicant.patronymic or "",
        id_number=applicant.id_number or "",
        phone=applicant.phone or "",
        signatory=applicant.signatory or "",
        demonstration=applicant.demonstration,
    )


def require_applicant(petition: Petition) -> None:
    """Raise `MissingApplicant` unless the petition has an applicant for its final bundle."""
    if petition.applicant is None:
        raise MissingApplicant()
