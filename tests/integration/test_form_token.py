"""The signing form's token: a signed double-submit cookie, and no session for signers."""

from tests.helpers import CSRF_PATTERN, csrf_token, signing_data


def test_viewing_a_petition_sets_only_the_form_cookie(client, make_petition):
    petition = make_petition()
    response = client.get(f"/petitions/{petition.slug}")
    cookies = response.headers.getlist("Set-Cookie")
    assert len(cookies) == 1, cookies
    assert cookies[0].startswith("petitions_form=")
    assert "HttpOnly" in cookies[0] and "SameSite=Lax" in cookies[0]
    again = client.get(f"/petitions/{petition.slug}")
    assert again.headers.getlist("Set-Cookie") == [], "the cookie is set once, then reused"
    assert CSRF_PATTERN.search(again.get_data(as_text=True))[1] == csrf_token(
        client, f"/petitions/{petition.slug}"
    )


def test_a_token_without_its_cookie_or_for_another_cookie_is_refused(app, db, make_petition):
    from petitions.models import Signature

    petition = make_petition()
    honest, attacker = app.test_client(), app.test_client()
    token = csrf_token(attacker, f"/petitions/{petition.slug}")
    csrf_token(honest, f"/petitions/{petition.slug}")  # the victim has a cookie of their own
    forged = honest.post(f"/petitions/{petition.slug}/sign", data=signing_data(csrf_token=token))
    assert forged.status_code == 400
    bare = app.test_client().post(
        f"/petitions/{petition.slug}/sign", data=signing_data(csrf_token=token)
    )
    assert bare.status_code == 400
    guessed = honest.post(
        f"/petitions/{petition.slug}/sign", data=signing_data(csrf_token="0" * 64)
    )
    assert guessed.status_code == 400
    assert db.session.query(Signature).count() == 0
