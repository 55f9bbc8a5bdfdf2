"""Unsubscribing from a petition's news: a page with a button, and RFC 8058's one-click POST."""

import pytest

from petitions.models import Subscription
from petitions.services.subscriptions import subscription_for_token, unsubscribe_token
from tests.conftest import save
from tests.helpers import link_form_token


@pytest.fixture
def subscription(db, make_petition, make_signature):
    petition = make_petition(title="Free the poet")
    signature = make_signature(petition, email="aliya@example.org")
    subscription = Subscription(
        petition_id=petition.id, signature=signature, email="aliya@example.org", locale="ru"
    )
    db.session.add(subscription)
    save(db)
    return subscription


def _path(subscription):
    return f"/news/unsubscribe/{unsubscribe_token(subscription.public_id)}"


def test_opening_the_link_changes_nothing_and_shows_a_button(client, db, subscription):
    page = client.get(_path(subscription))
    assert page.status_code == 200
    assert "Stop emailing me news" in page.get_data(as_text=True)
    assert "Free the poet" in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["X-Robots-Tag"] == "noindex"
    assert "Set-Cookie" not in page.headers
    db.session.refresh(subscription)
    assert subscription.unsubscribed_at is None


def test_the_button_unsubscribes_and_says_so(client, db, subscription):
    answer = client.post(_path(subscription), data={"csrf_token": link_form_token(client)})
    assert answer.status_code == 200
    assert "You will not be emailed news of this petition any more." in answer.get_data(
        as_text=True
    )
    db.session.refresh(subscription)
    assert subscription.unsubscribed_at is not None


def test_the_button_without_its_form_token_is_refused(client, db, subscription):
    assert client.post(_path(subscription), data={}).status_code == 400
    db.session.refresh(subscription)
    assert subscription.unsubscribed_at is None


def test_a_one_click_post_unsubscribes_with_no_page_and_no_cookie(client, db, subscription):
    answer = client.post(_path(subscription), data={"List-Unsubscribe": "One-Click"})
    assert (answer.status_code, answer.data) == (204, b"")
    assert "Set-Cookie" not in answer.headers
    db.session.refresh(subscription)
    first = subscription.unsubscribed_at
    assert first is not None
    again = client.post(_path(subscription), data={"List-Unsubscribe": "One-Click"})
    assert again.status_code == 204
    db.session.refresh(subscription)
    assert subscription.unsubscribed_at == first


@pytest.mark.parametrize(
    "forge",
    [
        lambda token: token[:-1] + ("a" if token[-1] != "a" else "b"),  # a changed tag
        lambda token: token.partition(".")[0],  # no tag
        lambda token: "x" + token,  # another public id
        lambda token: token + "ә",  # not ASCII
    ],
)
def test_a_forged_token_finds_nothing(client, db, subscription, forge):
    token = forge(unsubscribe_token(subscription.public_id))
    assert subscription_for_token(token) is None
    page = client.get(f"/news/unsubscribe/{token}")
    assert page.status_code == 404
    assert "This link does not work" in page.get_data(as_text=True)
    post = client.post(f"/news/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    assert post.status_code == 404
    db.session.refresh(subscription)
    assert subscription.unsubscribed_at is None


@pytest.mark.parametrize(
    ("language", "button", "done", "unknown"),
    [
        (
            "kk",
            "Жаңалық хаттарын тоқтату",
            "Енді сізге осы петиция туралы жаңалық хаттары жіберілмейді. "
            "Қолтаңбаңыз бұрынғыша есептеледі.",
            "Сілтеме толық емес немесе ол арналған жаңалық хаттары тоқтаған: петицияның "
            "жаңалықтарына жазылу оған қол қойғандардың деректерімен бірге өшіріледі.",
        ),
        (
            "ru",
            "Больше не присылать мне новости",
            "Письма с новостями этой петиции вам больше не придут. "
            "Ваша подпись по-прежнему учитывается.",
            "Ссылка неполная, или рассылка, для которой она была, закончилась: подписки на "
            "новости петиции удаляются вместе с данными подписавших.",
        ),
    ],
)
def test_the_pages_speak_the_signers_language(
    client, db, subscription, language, button, done, unknown
):
    headers = {"Accept-Language": language}
    page = client.get(_path(subscription), headers=headers).get_data(as_text=True)
    assert f'<button type="submit" class="button">{button}</button>' in page
    answer = client.post(
        _path(subscription), data={"csrf_token": link_form_token(client)}, headers=headers
    )
    assert f'<p role="status">{done}</p>' in answer.get_data(as_text=True)
    missing = client.get("/news/unsubscribe/nothing.here", headers=headers)
    assert missing.status_code == 404
    assert f"<p>{unknown}</p>" in missing.get_data(as_text=True)
