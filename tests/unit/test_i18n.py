"""Countries and the words of forms follow the visitor's language."""

from petitions.i18n import COUNTRY_CODES


def test_country_list_is_iso_3166_without_regions():
    assert {"KZ", "RU", "GB", "XK"} <= COUNTRY_CODES
    assert not {"EU", "UN", "ZZ", "QO"} & COUNTRY_CODES
    assert len(COUNTRY_CODES) == 250


def test_wtforms_messages_follow_the_language(tmp_path):
    from flask_babel import force_locale

    from petitions.forms import _TRANSLATIONS
    from tests.conftest import make_test_app

    app = make_test_app(f"sqlite:///{tmp_path / 'x.sqlite3'}", str(tmp_path))
    with app.test_request_context():
        with force_locale("ru"):
            assert _TRANSLATIONS.gettext("This field is required.") == "Обязательное поле."
        with force_locale("en"):
            assert _TRANSLATIONS.gettext("This field is required.") == "This field is required."


def test_every_state_names_itself_in_the_organisers_language(tmp_path):
    from flask_babel import force_locale

    from petitions.models import PetitionState, SignatureState
    from tests.conftest import make_test_app

    app = make_test_app(f"sqlite:///{tmp_path / 'x.sqlite3'}", str(tmp_path))
    with app.test_request_context():
        with force_locale("ru"):
            assert str(PetitionState.CLOSED.label) == "Закрыта"
            assert str(SignatureState.WITHDRAWN.label) == "Отозвана"
        with force_locale("kk"):
            assert str(PetitionState.DRAFT.label) == "Жоба"
            assert str(SignatureState.PENDING.label) == "Растауды күтуде"
        with force_locale("en"):
            names = [str(state.label) for state in (*PetitionState, *SignatureState)]
    assert names == [
        "Draft",
        "Open",
        "Closed",
        "Delivered",
        "Pending",
        "Confirmed",
        "Invalidated",
        "Withdrawn",
    ]
    assert PetitionState.OPEN.title() == "Open", "still a str, whose title() is untouched"
