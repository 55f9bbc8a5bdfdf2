"""Forms of the organisers' pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    EmailField,
    FileField,
    HiddenField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
    URLField,
)
from wtforms.validators import DataRequired, EqualTo, Length, NumberRange, Optional, ValidationError

from petitions.forms import Form
from petitions.i18n import LANGUAGE_NAMES
from petitions.models import (
    GRANTABLE_ROLES,
    LANGUAGES,
    ApplicantKind,
    DeliveryChannel,
    Outcome,
    RecipientKind,
    window_problem,
)
from petitions.public.forms import clean_text, plain_text, valid_email
from petitions.services import moderation
from petitions.services.accounts import MIN_PASSWORD_LENGTH
from petitions.services.applicants import is_valid_id_number, is_valid_phone
from petitions.services.lifecycle import (
    MAX_BODY_LENGTH,
    SLUG_PATTERN,
    ApplicantDraft,
    slugify,
)
from petitions.services.updates import OutcomeDraft, UpdateDraft

#: Durations an organiser can pick instead of typing a closing time.
PRESETS = {"5d": timedelta(days=5), "30d": timedelta(days=30), "6m": timedelta(days=182)}
#: Far above any real petition, and inside a 32-bit column on every database.
MAX_GOAL = 100_000_000
#: Dates outside these years are typing mistakes, and near year 9999 they overflow.
YEARS = range(2000, 2101)
ZONES = sorted(zone for zone in available_timezones() if "/" in zone and not zone.startswith("Etc"))
#: Offered first: where petitions of this project are expected to be run from.
USUAL_ZONES = [
    "Asia/Almaty",
    "Asia/Aqtobe",
    "Asia/Aqtau",
    "Asia/Oral",
    "Asia/Qostanay",
    "Asia/Qyzylorda",
    "Europe/Moscow",
    "Asia/Tashkent",
    "Asia/Bishkek",
    "Europe/London",
    "UTC",
]


class LoginForm(Form):
    email = EmailField(_l("Email address"), filters=[clean_text], validators=[DataRequired()])
    password = PasswordField(_l("Password"), validators=[DataRequired()])


class AccountForm(Form):
    public_name = StringField(
        _l("Public name"),
        filters=[clean_text],
        validators=[Optional(), Length(max=120), plain_text],
    )
    public_contact = StringField(
        _l("Public contact"),
        filters=[clean_text],
        validators=[Optional(), Length(max=200), plain_text],
    )


class ResetRequestForm(Form):
    email = EmailField(_l("Email address"), filters=[clean_text], validators=[DataRequired()])


class ResetPasswordForm(Form):
    password = PasswordField(
        _l("New password"), validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=200)]
    )
    repeat = PasswordField(
        _l("New password again"),
        validators=[DataRequired(), EqualTo("password", _l("The two passwords differ."))],
    )


def _code_field(field_id: str = "code") -> StringField:
    return StringField(
        _l("Code"),
        id=field_id,
        filters=[clean_text],
        validators=[DataRequired(_l("Enter the code.")), Length(max=64)],
    )


class CodeForm(Form):
    """A second factor: a code of the authenticator app, or a recovery code."""

    code = _code_field()


class NewRecoveryCodesForm(Form):
    code = _code_field("new-codes-code")


class TurnOffFactorForm(Form):
    code = _code_field("turn-off-code")


def _digits_only(value: str | None) -> str:
    """Drop the spaces people type inside long numbers ("800 101 300 123")."""
    return clean_text(value).replace(" ", "").replace("\u00a0", "")


def _optional_text(label, length: int) -> StringField:
    return StringField(
        label, filters=[clean_text], validators=[Optional(), Length(max=length), plain_text]
    )


#: The applicant's fields each kind requires, with the message of an empty one.
_REQUIRED = {
    ApplicantKind.PERSON: (
        ("applicant_surname", _l("Enter the applicant's surname.")),
        ("applicant_name", _l("Enter the applicant's name.")),
        ("applicant_address", _l("Enter the postal address the answer is to be sent to.")),
        ("applicant_email", _l("Enter the applicant's email address.")),
    ),
    ApplicantKind.ORGANISATION: (
        ("applicant_organisation", _l("Enter the organisation's name.")),
        ("applicant_signatory", _l("Enter the name of the person who signs for the organisation.")),
        ("applicant_address", _l("Enter the postal address the answer is to be sent to.")),
        ("applicant_email", _l("Enter the applicant's email address.")),
    ),
}


class AddPasskeyForm(Form):
    """A passkey to add: its name, the browser's answer, and a fresh code from the app."""

    name = StringField(
        _l("Name of the passkey"),
        id="passkey-name",
        filters=[clean_text],
        validators=[DataRequired(_l("Give the passkey a name.")), Length(max=60), plain_text],
    )
    code = _code_field("passkey-code")
    credential = HiddenField(validators=[Length(max=20000)])


class PasskeyAnswerForm(Form):
    """The browser's answer from a passkey (filled in by static/js/passkeys.js)."""

    credential = HiddenField(validators=[DataRequired(), Length(max=20000)])


class RemovePasskeyForm(Form):
    """Remove a passkey: the action asks for a fresh factor itself (FRESH_FACTOR_ENDPOINTS)."""


class PetitionForm(Form):
    title = StringField(
        _l("Title"), filters=[clean_text], validators=[DataRequired(), Length(max=200), plain_text]
    )
    slug = StringField(
        _l("Web address (slug)"),
        filters=[lambda v: clean_text(v).lower()],
        validators=[Optional(), Length(max=80)],
    )

    def validate_slug(self, field: StringField) -> None:
        # An address the organiser typed is theirs to correct: replacing it without a word would
        # publish the petition somewhere other than where they announced it.
        if field.data and not SLUG_PATTERN.match(field.data):
            raise ValidationError(
                _l(
                    "Use only a-z, 0-9 and single hyphens, for example “%(example)s”; or leave "
                    "it empty to make one from the title.",
                    example=slugify(field.data),
                )
            )

    summary = TextAreaField(
        _l("Summary"),
        filters=[clean_text],
        validators=[DataRequired(), Length(max=500), plain_text],
    )
    body = TextAreaField(
        _l("Text of the petition (Markdown)"),
        filters=[clean_text],
        validators=[DataRequired(), Length(max=MAX_BODY_LENGTH)],
    )
    recipient = StringField(
        _l("Addressed to"),
        filters=[clean_text],
        validators=[DataRequired(), Length(max=200), plain_text],
    )
    recipient_kind = SelectField(
        _l("Kind of recipient"),
        choices=[SelectChoice(kind.value, kind.label) for kind in RecipientKind],
        default=RecipientKind.OTHER.value,
        validate_choice=False,
    )
    language = SelectField(
        _l("Language of the text"),
        choices=[SelectChoice(code, name) for code, name in LANGUAGE_NAMES.items()],
    )
    goal = IntegerField(
        _l("Goal (signatures)"), validators=[Optional(), NumberRange(min=1, max=MAX_GOAL)]
    )
    timezone = SelectField(
        _l("Time zone"), choices=USUAL_ZONES + [z for z in ZONES if z not in USUAL_ZONES]
    )
    opens_at = DateTimeLocalField(_l("Opens at (empty: when published)"), validators=[Optional()])
    duration = RadioField(
        _l("Collect signatures for"),
        default="5d",
        choices=[
            SelectChoice("5d", _l("5 days")),
            SelectChoice("30d", _l("30 days")),
            SelectChoice("6m", _l("6 months")),
            SelectChoice("custom", _l("until the closing time below")),
        ],
    )
    closes_at = DateTimeLocalField(_l("Closes at"), validators=[Optional()])

    applicant_kind = RadioField(
        _l("Applicant"),
        default="",
        choices=[
            SelectChoice("", _l("Not entered yet")),
            SelectChoice(ApplicantKind.PERSON.value, _l("A person")),
            SelectChoice(ApplicantKind.ORGANISATION.value, _l("An organisation")),
        ],
        validate_choice=False,
    )
    applicant_surname = _optional_text(_l("Surname"), 100)
    applicant_name = _optional_text(_l("Name"), 100)
    applicant_patronymic = _optional_text(_l("Patronymic (optional)"), 100)
    applicant_organisation = _optional_text(_l("Name of the organisation"), 200)
    applicant_signatory = _optional_text(_l("Signed for the organisation by"), 200)
    applicant_address = _optional_text(_l("Postal address for the answer"), 300)
    applicant_id_number = StringField(
        _l("IIN or BIN (optional)"), filters=[_digits_only], validators=[Optional(), plain_text]
    )
    applicant_email = EmailField(
        _l("Applicant's email address"),
        filters=[clean_text],
        validators=[Optional(), Length(max=254), valid_email],
    )
    applicant_phone = _optional_text(_l("Applicant's phone (optional)"), 40)
    applicant_show_address = BooleanField(_l("Show the postal address on the public page"))

    def validate_language(self, field: SelectField) -> None:
        if field.data not in LANGUAGES:
            raise ValidationError(_l("Choose a language."))

    def validate_recipient_kind(self, field: SelectField) -> None:
        if field.data not in set(RecipientKind):
            raise ValidationError(_l("Choose the kind of recipient."))

    def validate_applicant_kind(self, field: RadioField) -> None:
        if field.data not in {"", *ApplicantKind}:
            raise ValidationError(_l("Choose a person, an organisation, or not yet."))

    def validate_applicant_id_number(self, field: StringField) -> None:
        if not field.data:
            return
        if not (field.data.isascii() and field.data.isdigit() and len(field.data) == 12):
            raise ValidationError(_l("An IIN or a BIN has exactly 12 digits."))
        if not is_valid_id_number(field.data):
            raise ValidationError(
                _l("This number's last digit does not match the others: check it for a typo.")
            )

    def validate_applicant_phone(self, field: StringField) -> None:
        if field.data and not is_valid_phone(field.data):
            raise ValidationError(
                _l("Enter a phone number with digits only, for example +7 701 234 56 78.")
            )

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        valid = self._applicant_is_complete() and valid
        if self.duration.data == "custom" and self.closes_at.data is None:
            # The field is Optional() for the presets, which stops its own validators when empty.
            self.closes_at.errors = [_l("Enter the closing time, or choose a duration.")]
            return False
        return valid and self._window_is_sane()

    def _applicant_is_complete(self) -> bool:
        """Require the fields the chosen kind of applicant needs."""
        kind = self.applicant_kind.data
        if kind not in set(ApplicantKind):
            return True
        complete = True
        for name, message in _REQUIRED[ApplicantKind(kind)]:
            field = self[name]
            if not field.data and not field.errors:
                field.errors = [*field.errors, message]
                complete = False
        return complete

    def applicant(self) -> ApplicantDraft | None:
        """Return the applicant entered, or None when none is chosen (yet)."""
        if self.applicant_kind.data not in set(ApplicantKind):
            return None
        kind = ApplicantKind(self.applicant_kind.data)
        person = kind == ApplicantKind.PERSON
        return ApplicantDraft(
            kind=kind,
            name=self.applicant_name.data if person else self.applicant_organisation.data,
            address=self.applicant_address.data,
            email=self.applicant_email.data,
            surname=self.applicant_surname.data if person else None,
            patronymic=(self.applicant_patronymic.data or None) if person else None,
            signatory=None if person else self.applicant_signatory.data,
            id_number=self.applicant_id_number.data or None,
            phone=self.applicant_phone.data or None,
            show_address=bool(self.applicant_show_address.data),
        )

    def fill_applicant(self, applicant) -> None:
        """Show a stored applicant in the fields."""
        if applicant is None:
            self.applicant_kind.data = ""
            return
        person = applicant.kind == ApplicantKind.PERSON
        self.applicant_kind.data = applicant.kind.value
        self.applicant_surname.data = applicant.surname
        self.applicant_name.data = applicant.name if person else None
        self.applicant_patronymic.data = applicant.patronymic
        self.applicant_organisation.data = None if person else applicant.name
        self.applicant_signatory.data = applicant.signatory
        self.applicant_address.data = applicant.address
        self.applicant_id_number.data = applicant.id_number
        self.applicant_email.data = applicant.email
        self.applicant_phone.data = applicant.phone
        self.applicant_show_address.data = applicant.show_address

    def _window_is_sane(self) -> bool:
        """Refuse dates that overflow, and a window that ends before it starts (even a draft's)."""
        for field in (self.opens_at, self.closes_at):
            if field.data is not None and field.data.year not in YEARS:
                field.errors = [_l("Enter a date between the years 2000 and 2100.")]
                return False
        problem = window_problem(*self.window(datetime.now(UTC)))
        if problem is not None:
            self.closes_at.errors = [problem.user_message]
            return False
        return True

    def window(self, now: datetime) -> tuple[datetime, datetime]:
        """Return (opens_at, closes_at) in UTC from the local times and the preset."""
        zone = ZoneInfo(self.timezone.data)
        opens = (
            self.opens_at.data.replace(tzinfo=zone).astimezone(UTC) if self.opens_at.data else now
        )
        if self.duration.data in PRESETS:
            return opens, opens + PRESETS[self.duration.data]
        return opens, self.closes_at.data.replace(tzinfo=zone).astimezone(UTC)


class ReasonForm(Form):
    """Any action that needs a written reason (closing early, invalidating)."""

    reason = StringField(
        _l("Reason"),
        filters=[clean_text],
        validators=[DataRequired(_l("Give a reason.")), Length(max=500)],
    )


#: A sealing public key is one short line; an upload larger than this is something else.
MAX_KEY_FILE_BYTES = 4096


class SealForm(Form):
    """The organiser's public key, pasted or uploaded (sealing.pub)."""

    public_key = TextAreaField(_l("Public key (the line in sealing.pub)"), validators=[Optional()])
    key_file = FileField(_l("Or upload sealing.pub"))

    def key_text(self) -> str | None:
        """Return the key line given, or None after recording why there is none."""
        upload = self.key_file.data
        if upload is not None and getattr(upload, "filename", ""):
            data = upload.read(MAX_KEY_FILE_BYTES + 1)
            if len(data) > MAX_KEY_FILE_BYTES:
                self.key_file.errors.append(_l("This file is too large to be a public key."))
                return None
            try:
                return data.decode("utf-8")
            except UnicodeDecodeError:
                self.key_file.errors.append(_l("This file is not text: upload sealing.pub."))
                return None
        if self.public_key.data and self.public_key.data.strip():
            return self.public_key.data
        self.public_key.errors.append(_l("Paste the public key or upload sealing.pub."))
        return None


class IdListForm(Form):
    """Signatures to invalidate by id, typed or in a file, with the reason."""

    id_list = TextAreaField(
        _l("Signature ids (separated by spaces, commas or lines)"), validators=[Optional()]
    )
    id_file = FileField(_l("Or upload the rows CSV (or a text file of ids)"))
    reason = StringField(
        _l("Reason (recorded in the audit log)"),
        # Beside the search's own reason field on the same page.
        id="id-list-reason",
        filters=[clean_text],
        validators=[DataRequired(_l("Give a reason.")), Length(max=500)],
    )

    def ids(self) -> list[moderation.SignatureKey] | None:
        """Return the ids given, or None after recording why they are refused."""
        upload = self.id_file.data
        field = self.id_file if upload is not None and getattr(upload, "filename", "") else None
        try:
            if field is not None:
                return moderation.read_ids(upload.read())
            return moderation.parse_ids(self.id_list.data or "")
        except moderation.IdListError as error:
            (field or self.id_list).errors.append(error.user_message)
            return None


class ConfirmForm(Form):
    """An action with nothing to fill in but the CSRF token."""


def _registration_number(required: bool) -> StringField:
    return StringField(
        _l("Registration number given by the recipient's office"),
        filters=[clean_text],
        validators=[DataRequired() if required else Optional(), Length(max=100), plain_text],
    )


def _check_year(field: DateField) -> None:
    if field.data is not None and field.data.year not in YEARS:
        raise ValidationError(_l("Enter a date between the years 2000 and 2100."))


class RegistrationForm(Form):
    """The registration number and date the recipient's office gave a delivered bundle."""

    registration_number = _registration_number(required=True)
    registered_on = DateField(_l("Registered on"), validators=[DataRequired()])

    def validate_registered_on(self, field: DateField) -> None:
        _check_year(field)


class DeliveryForm(Form):
    """When, how and to whom a bundle was handed over."""

    delivered_on = DateField(_l("Delivered on"), validators=[DataRequired()])
    delivered_to = StringField(
        _l("Received by"),
        filters=[clean_text],
        validators=[Optional(), Length(max=200), plain_text],
    )
    channel = SelectField(
        _l("How"),
        choices=[SelectChoice(channel.value, channel.label) for channel in DeliveryChannel],
        validate_choice=False,
    )
    registration_number = _registration_number(required=False)
    registered_on = DateField(_l("Registered on"), validators=[Optional()])
    reference = StringField(
        _l("Tracking number or other reference (optional)"),
        filters=[clean_text],
        validators=[Optional(), Length(max=200), plain_text],
    )

    def validate_channel(self, field: SelectField) -> None:
        if field.data not in set(DeliveryChannel):
            raise ValidationError(_l("Choose how the bundle was delivered."))

    def validate_registered_on(self, field: DateField) -> None:
        _check_year(field)
        if (
            field.data is not None
            and self.delivered_on.data is not None
            and field.data < self.delivered_on.data
        ):
            raise ValidationError(_l("The registration cannot come before the delivery."))


def _role_choices() -> list[SelectChoice]:
    return [SelectChoice(role.value, role.label) for role in GRANTABLE_ROLES]


class InviteForm(Form):
    """An address to invite to a petition's team, and the role it is offered."""

    email = EmailField(
        _l("Email address"),
        filters=[clean_text],
        validators=[
            DataRequired(_l("Enter an email address like name@example.org.")),
            Length(max=254),
            valid_email,
        ],
    )
    role = SelectField(_l("Role"), choices=_role_choices)


class RoleForm(Form):
    """A member's new role."""

    role = SelectField(_l("Role"), choices=_role_choices)


class TransferForm(Form):
    """The member who becomes the owner; the choices are the team's other members."""

    new_owner = SelectField(_l("New owner"), coerce=int, validate_choice=True)


class JoinForm(Form):
    """A new organiser account made to accept an invitation: its email is the invitation's."""

    name = StringField(
        _l("Your name"),
        filters=[clean_text],
        validators=[DataRequired(_l("Enter your name.")), Length(max=120), plain_text],
    )
    password = PasswordField(
        _l("Password"), validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=200)]
    )
    repeat = PasswordField(
        _l("Password again"),
        validators=[DataRequired(), EqualTo("password", _l("The two passwords differ."))],
    )


class PaperSheetsForm(Form):
    """Which sheets to print: the first number and how many."""

    first = IntegerField(
        _l("First sheet number"), validators=[DataRequired(), NumberRange(min=1, max=99_999)]
    )
    count = IntegerField(
        _l("How many sheets"), validators=[DataRequired(), NumberRange(min=1, max=200)]
    )


class PaperEntryForm(Form):
    """One pass of a sheet: its number and check code (the lines are read by the view)."""

    sheet = IntegerField(
        _l("Sheet number"), validators=[DataRequired(), NumberRange(min=1, max=99_999)]
    )
    check_code = StringField(
        _l("Check code (printed beside the sheet number)"),
        filters=[clean_text],
        validators=[DataRequired(), Length(max=20)],
    )
    scan = FileField(_l("Scan or photo of the sheet (optional; only its SHA-256 is kept)"))


class UpdateForm(Form):
    """An update of a petition: a title and a text in Markdown; the service judges them."""

    title = StringField(_l("Title"), filters=[clean_text], validators=[plain_text])
    body = TextAreaField(_l("Text (Markdown)"), filters=[clean_text])

    def draft(self) -> UpdateDraft:
        """Return the update as typed."""
        return UpdateDraft(title=self.title.data, body=self.body.data)


def _optional(value: str | None) -> str | None:
    return clean_text(value) or None


class OutcomeForm(Form):
    """The recipient's answer; the service judges the dates, the lengths and the link."""

    outcome = SelectField(
        _l("Outcome"),
        choices=[SelectChoice(outcome.value, outcome.label) for outcome in Outcome],
        validate_choice=False,
    )
    answered_on = DateField(_l("Answered on"), validators=[Optional()])
    answered_by = StringField(
        _l("Answered by (the office or official, as the answer names them)"),
        filters=[_optional],
        validators=[plain_text],
    )
    summary = TextAreaField(
        _l("Summary of the answer"), filters=[clean_text], validators=[plain_text]
    )
    full_text = TextAreaField(
        _l("Full text of the answer (Markdown, optional)"), filters=[_optional]
    )
    link = URLField(_l("Or a link to the answer (optional)"), filters=[_optional])

    def validate_outcome(self, field: SelectField) -> None:
        if field.data not in set(Outcome):
            raise ValidationError(_l("Choose what the recipient decided."))

    def draft(self) -> OutcomeDraft:
        """Return the answer as typed."""
        return OutcomeDraft(
            outcome=Outcome(self.outcome.data),
            answered_on=self.answered_on.data,
            answered_by=self.answered_by.data,
            summary=self.summary.data,
            full_text=self.full_text.data,
            link=self.link.data,
        )
