"""What the text filters store and what the rules refuse, pinned on real spellings."""

import pytest
from wtforms import Form, StringField

from petitions.public.forms import MAX_MARKS_PER_BASE, clean_text, plain_text, valid_name

PERSIAN = "می\u200cخواهم"  # "I want": the non-joiner is part of the spelling
TECHNOLOGIST = "\U0001f469\U0001f3fd\u200d\U0001f4bb"  # woman technologist, medium skin tone
HEART_ON_FIRE = "\u2764\ufe0f\u200d\U0001f525"
ENGLAND = "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"
DEVANAGARI_HALF_FORM = "क्\u200dष"


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        (PERSIAN, PERSIAN),
        (f"Ali {TECHNOLOGIST}", f"Ali {TECHNOLOGIST}"),
        (HEART_ON_FIRE, HEART_ON_FIRE),
        (ENGLAND, ENGLAND),
        (DEVANAGARI_HALF_FORM, DEVANAGARI_HALF_FORM),
        ("\u200b", ""),
        ("\u200b=SUM(1+1)", "=SUM(1+1)"),
        ("\u200fمحمد\u200f", "محمد"),
        ("\u200eAliya\u061c", "Aliya"),
        ("Ali\u200bya\u2060 \ufeffQ\u00adasym", "Aliya Qasym"),
        ("\u200cAliya\u200d", "Aliya"),  # joiners at the edges join nothing
        ("= \u200d1", "= 1"),  # nor between a sign and a space
        ("\U000e0067Aliya", "Aliya"),  # a tag away from a flag spells nothing
        ("e\u0301", "é"),  # NFC first
        ("Ali\u202eya", "Ali\u202eya"),  # kept, to be refused with a message
    ],
)
def test_clean_text_removes_format_characters_that_carry_no_spelling(typed, stored):
    assert clean_text(typed) == stored


class _Form(Form):
    name = StringField(filters=[clean_text], validators=[valid_name])
    city = StringField(filters=[clean_text], validators=[plain_text])


def _errors(**fields: str) -> dict[str, list[str]]:
    from werkzeug.datastructures import MultiDict

    form = _Form(MultiDict(fields))
    form.validate()
    return {name: [str(error) for error in errors] for name, errors in form.errors.items()}


def test_a_formula_behind_an_invisible_character_is_refused():
    assert _errors(name="\u200b=SUM(1+1)", city="x") == {
        "name": ["A name cannot begin with =, +, - or @."]
    }


@pytest.mark.parametrize("control", ["\u202e", "\u202a", "\u2066", "\u2068", "\u2069"])
def test_controls_that_reorder_text_are_refused_in_every_text_field(control):
    message = "Please remove invisible or control characters."
    assert _errors(name=f"Ali{control}ya", city=f"Al{control}maty") == {
        "name": [message],
        "city": [message],
    }


STACKED = "Please remove the stacked accents or marks: at most 4 on one letter."
ON_NO_LETTER = "Please remove the accent or mark that stands on no letter."


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Z" + "\u0336\u0334\u0335\u0337\u0338" * 24, STACKED),
        ("x" + "\u0301" * (MAX_MARKS_PER_BASE + 1), STACKED),
        ("\u0301", ON_NO_LETTER),
        ("\u0301\u0302\u0303", ON_NO_LETTER),
        ("Aliya \u0301", ON_NO_LETTER),
        ("\u200b\u0301", ON_NO_LETTER),
    ],
)
def test_stacked_or_stray_combining_marks_are_refused(text, message):
    assert _errors(name=text, city=text) == {"name": [message], "city": [message]}


@pytest.mark.parametrize(
    "text",
    [
        "x" + "\u0301" * MAX_MARKS_PER_BASE,
        "Nguyễn Thị Ánh",
        "בְּרֵאשִׁ֖ית",  # Hebrew with points and a cantillation mark
        "བསྒྲུབས",  # Tibetan stacks: subjoined letters are marks
        "क़्षत्रिय",
        PERSIAN,
        TECHNOLOGIST,
        "1\ufe0f\u20e3",  # keycap one
    ],
)
def test_real_spellings_keep_their_marks(text):
    assert _errors(name=text, city=text) == {}
