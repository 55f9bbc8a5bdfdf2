"""Every page speaks the visitor's language: kk, ru or en, chosen in the switcher's cookie."""

import pytest

from petitions.models import PetitionState
from tests.conftest import PASSWORD
from tests.helpers import login, post_form

CLOSE_REFUSED = {
    "kk": "Бұл петицияны жабу мүмкін емес: оның күйі — «Жабық».",
    "ru": "Эту петицию нельзя закрыть: её статус — «Закрыта».",
    "en": "This petition cannot be closed: its state is “Closed”.",
}


@pytest.fixture
def organiser(make_account):
    return make_account("saule@example.org", "Сәуле")


@pytest.mark.parametrize("language", ["kk", "ru", "en"])
def test_refused_transition_reaches_the_organiser_in_their_language(
    client, organiser, make_petition, language
):
    petition = make_petition(PetitionState.CLOSED, organiser=organiser)
    client.set_cookie("lang", language)
    assert login(client, organiser.email, PASSWORD).status_code == 303
    dashboard = f"/organiser/petitions/{petition.id}"
    refused = post_form(client, f"{dashboard}/close", {"reason": "again"}, dashboard)
    assert refused.status_code == 303
    page = client.get(dashboard).get_data(as_text=True)
    assert CLOSE_REFUSED[language] in page
    assert "cannot close a petition" not in page
