"""Moderating a sealed petition: by id from the command line and the page, never by name."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
import sqlalchemy as sa

from petitions.delivery.keys import ensure_development_key, load_signing_key
from petitions.delivery.sealed import MODERATION_COLUMNS, unseal
from petitions.models import AuditEvent, Signature, SignatureState, utcnow
from petitions.sealing import SealingIdentity
from petitions.services import lifecycle, moderation
from tests.conftest import PASSWORD
from tests.helpers import csrf_token, login, sign

EXPLANATION = (
    "This petition is sealed: the server cannot read names, so it cannot search them. Search by "
    "email domain or address instead, or open the sealed export on your own machine (“flask "
    "bundles unseal --rows-out”) and invalidate by signature id below."
)


@pytest.fixture
def identity() -> SealingIdentity:
    return SealingIdentity.generate()


@pytest.fixture
def organiser(make_account):
    return make_account("moderator@example.org")


@pytest.fixture
def sealed(db, organiser, make_petition, identity):
    """A sealed petition of the organiser's."""
    petition = make_petition(organiser=organiser, slug="sealed-appeal")
    lifecycle.seal(petition, identity.public_key.line, organiser)
    db.session.flush()
    return petition


@pytest.fixture
def rows(sealed, make_signature):
    """Four sealed signatures: one shows its name, one is invalid already, one withdrawn."""
    box = b"a sealed box"
    return [
        make_signature(sealed, name=None, city=None, sealed=box),
        make_signature(sealed, name="Shown Signer", city=None, show_name=True, sealed=box),
        make_signature(sealed, SignatureState.INVALIDATED, name=None, city=None, sealed=box),
        make_signature(sealed, SignatureState.WITHDRAWN, name=None, city=None, sealed=box),
    ]


@pytest.fixture
def other(make_petition, make_signature):
    """Another organiser's petition and its one signature, which must never be touched."""
    petition = make_petition(slug="someone-elses")
    return make_signature(petition)


def _states(db) -> dict[int, SignatureState]:
    return dict(db.session.execute(sa.select(Signature.id, Signature.state)).all())


def _events(db) -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "invalidate")))


def _rows_csv(ids: list[str]) -> str:
    """A rows CSV as `bundles unseal --rows-out` writes it, with a comment over two lines."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(MODERATION_COLUMNS)
    for number, signature_id in enumerate(ids, start=1):
        writer.writerow(
            (signature_id, number, "Пётр", "p@example.org", "Алматы", "KZ", "one\ntwo", "t")
        )
    return "\ufeff" + out.getvalue()


def _invalidate(runner, path: Path, *, slug="sealed-appeal", reason="duplicates, checked offline"):
    args = ["signatures", "invalidate", slug, "--ids", str(path)]
    return runner.invoke(args=args + (["--reason", reason] if reason is not None else []))


# The command line -------------------------------------------------------------------------------


def test_the_command_invalidates_the_ids_of_a_list_and_records_them(runner, db, rows, tmp_path):
    fresh, shown, invalid, _withdrawn = rows
    listed = tmp_path / "ids.txt"
    listed.write_text(
        f"# from the rows CSV\n{fresh.id}\n\n{shown.id}  # shown\n{invalid.id}, {fresh.id}\n"
    )

    result = _invalidate(runner, listed)

    assert result.exit_code == 0, result.output
    [event] = _events(db)
    assert result.output.splitlines() == [
        "sealed-appeal: 2 invalidated, 1 already invalid",
        f"action {event.detail['action_id']} (undo it from the petition's dashboard)",
    ]
    assert (event.actor_id, event.actor_label, event.petition_id) == (
        None,
        "cli",
        fresh.petition_id,
    )
    assert event.detail["count"] == 2
    assert event.detail["reason"] == "duplicates, checked offline"
    assert event.detail["filter"] == {"ids": [fresh.id, shown.id, invalid.id]}
    states = _states(db)
    assert [states[s.id] for s in rows] == [
        SignatureState.INVALIDATED,
        SignatureState.INVALIDATED,
        SignatureState.INVALIDATED,
        SignatureState.WITHDRAWN,
    ]
    db.session.refresh(invalid)
    assert invalid.invalidation_id != event.detail["action_id"], "not invalidated a second time"


def test_the_command_reads_the_rows_csv_of_unseal(runner, db, rows, tmp_path):
    fresh, shown, _invalid, withdrawn = rows
    rows_csv = tmp_path / "rows.csv"
    ids = [fresh.public_id, shown.public_id, withdrawn.public_id]
    rows_csv.write_text(_rows_csv(ids), encoding="utf-8")

    result = _invalidate(runner, rows_csv)

    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == (
        "sealed-appeal: 2 invalidated, 0 already invalid, 1 withdrawn (left as they are)"
    )
    assert _events(db)[0].detail["filter"] == {"ids": [fresh.id, shown.id, withdrawn.id]}


def test_the_command_refuses_another_petitions_id_and_changes_nothing(
    runner, db, rows, other, tmp_path
):
    before = _states(db)
    listed = tmp_path / "ids.txt"
    listed.write_text(f"{rows[0].id}\n{other.id}\n")

    result = _invalidate(runner, listed)

    assert result.exit_code == 1
    assert result.output == (
        f"Error: sealed-appeal: not signatures of this petition: {other.id}; "
        "nothing was invalidated\n"
    )
    assert _states(db) == before
    assert _events(db) == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"12\n\n  # fine so far\n13 x14\n", "line 4: 'x14' is not a signature id"),
        (b"1\n-2\n", "line 2: '-2' is not a signature id"),
        (b"1\n\xc2\xb2\n", "line 2: '\u00b2' is not a signature id"),
        (b"99999999999999999999\n", "line 1: '99999999999999999999' is not a signature id"),
        (b"# nothing but a comment\n\n", "no signature ids given"),
        (
            b"\x89PNG\r\n\x1a\n\x00\x00",
            "not a text file: give the rows CSV of `bundles unseal --rows-out`, or one id per line",
        ),
        (
            b'signature_id,number,name\n5,1,A\n,2,"B\nC"\nzz,3,D\n',
            "line 3: no signature id",
        ),
    ],
)
def test_the_command_refuses_a_bad_file_naming_its_line(
    runner, db, rows, tmp_path, content, message
):
    before = _states(db)
    listed = tmp_path / "ids.txt"
    listed.write_bytes(content)

    result = _invalidate(runner, listed)

    assert result.exit_code == 1
    assert result.output == f"Error: {listed}: {message}\n"
    assert _states(db) == before
    assert _events(db) == []


def test_a_row_named_by_both_its_ids_is_invalidated_and_counted_once(runner, db, rows, tmp_path):
    fresh = rows[0]
    listed = tmp_path / "ids.txt"
    listed.write_text(f"{fresh.public_id}\n{fresh.id}\n")

    result = _invalidate(runner, listed)

    assert result.output.splitlines()[0] == "sealed-appeal: 1 invalidated, 0 already invalid"
    assert _events(db)[0].detail["filter"] == {"ids": [fresh.id]}


def test_another_petitions_public_id_is_refused_too(runner, db, rows, other, tmp_path):
    listed = tmp_path / "rows.csv"
    listed.write_text(_rows_csv([rows[0].public_id, other.public_id]))

    result = _invalidate(runner, listed)

    assert result.exit_code == 1
    assert result.output == (
        f"Error: sealed-appeal: not signatures of this petition: {other.public_id}; "
        "nothing was invalidated\n"
    )
    assert _states(db)[other.id] == SignatureState.CONFIRMED


def test_a_quoted_cell_over_several_lines_does_not_shift_the_line_named():
    text = 'signature_id,number,comment\n5,1,"two\nlines"\nzz,2,x\n'
    with pytest.raises(moderation.IdListError) as refused:
        moderation.parse_ids(text)
    assert str(refused.value) == "line 4: 'zz' is not a signature id"


def test_more_ids_than_one_action_takes_are_refused():
    text = "\n".join(str(number) for number in range(1, moderation.MAX_IDS + 2))
    with pytest.raises(moderation.IdListError) as refused:
        moderation.parse_ids(text)
    assert str(refused.value) == "10001 ids: at most 10000 at a time, split the list"


@pytest.mark.parametrize(
    ("slug", "reason", "path", "message"),
    [
        ("no-such-petition", "r", "ids.txt", "Error: no petition with the slug 'no-such-petition'"),
        (
            "sealed-appeal",
            None,
            "ids.txt",
            "Error: give a reason with --reason (it is recorded in the audit log)",
        ),
        (
            "sealed-appeal",
            "  ",
            "ids.txt",
            "Error: give a reason with --reason (it is recorded in the audit log)",
        ),
        (
            "sealed-appeal",
            "r",
            "missing.txt",
            "Error: {tmp}/missing.txt: No such file or directory",
        ),
        ("sealed-appeal", "r", ".", "Error: {tmp}: Is a directory"),
    ],
)
def test_the_command_refuses_in_one_line(runner, db, rows, tmp_path, slug, reason, path, message):
    before = _states(db)
    (tmp_path / "ids.txt").write_text(f"{rows[0].id}\n")

    result = _invalidate(runner, tmp_path / path, slug=slug, reason=reason)

    assert result.exit_code == 1
    assert result.output == message.format(tmp=tmp_path) + "\n"
    assert _states(db) == before


def test_the_command_moderates_an_unsealed_petition_too(runner, db, other, tmp_path):
    listed = tmp_path / "ids.txt"
    listed.write_text(f"{other.id}\n")

    result = _invalidate(runner, listed, slug="someone-elses")

    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "someone-elses: 1 invalidated, 0 already invalid"
    assert _states(db) == {other.id: SignatureState.INVALIDATED}


# The moderation page ----------------------------------------------------------------------------


@pytest.fixture
def signed_in(client, organiser):
    assert login(client, organiser.email, PASSWORD).status_code == 303
    return client


def _page(client, petition, **query):
    return client.get(f"/organiser/petitions/{petition.id}/signatures", query_string=query)


def _post_ids(client, petition, data, **kwargs):
    token = csrf_token(client, f"/organiser/petitions/{petition.id}/signatures")
    return client.post(
        f"/organiser/petitions/{petition.id}/signatures/invalidate-ids",
        data={"csrf_token": token, **data},
        **kwargs,
    )


def test_a_sealed_petitions_page_explains_instead_of_searching_names(signed_in, sealed, rows):
    response = _page(signed_in, sealed)
    page = response.get_data(as_text=True)

    assert response.status_code == 200
    assert EXPLANATION in page
    assert 'name="name"' not in page and "Name contains" not in page
    assert "None" not in page
    assert "<td><bdi>Shown Signer</bdi></td>" in page
    assert page.count("<td><bdi>(sealed)</bdi></td>") == 3 + 4, "three names, four cities"
    assert "Invalidate by signature id" in page


def test_a_name_sent_to_a_sealed_petition_gets_the_explanation(signed_in, sealed, rows):
    response = _page(signed_in, sealed, name="Shown")
    page = response.get_data(as_text=True)

    assert response.status_code == 200
    assert f'<p class="notice" id="sealed-names" role="alert">{EXPLANATION}</p>' in page
    assert page.count('name="ids"') == 4, "the list is not filtered by a name it cannot read"
    assert "None" not in page


def test_a_name_search_of_a_sealed_petition_is_refused_by_the_service(app, sealed):
    with pytest.raises(moderation.NamesAreSealed):
        moderation.search(sealed, moderation.SignatureFilter(name="Shown"))


def test_invalidating_every_match_by_name_of_a_sealed_petition_changes_nothing(
    signed_in, db, sealed, rows
):
    before = _states(db)
    token = csrf_token(signed_in, f"/organiser/petitions/{sealed.id}/signatures")
    response = signed_in.post(
        f"/organiser/petitions/{sealed.id}/signatures/invalidate",
        data={"csrf_token": token, "scope": "all", "name": "Shown", "reason": "r"},
        follow_redirects=True,
    )
    assert EXPLANATION in response.get_data(as_text=True)
    assert _states(db) == before
    assert _events(db) == []


def test_the_page_invalidates_typed_ids_and_records_the_organiser(signed_in, db, sealed, rows):
    fresh, shown, invalid, _withdrawn = rows

    response = _post_ids(
        signed_in,
        sealed,
        {"id_list": f"{fresh.id}, {shown.id}\n{invalid.id} {fresh.id}", "reason": "bots"},
    )

    assert response.status_code == 303
    assert response.headers["Location"] == f"/organiser/petitions/{sealed.id}/signatures"
    page = signed_in.get(response.headers["Location"]).get_data(as_text=True)
    assert "2 signature(s) invalidated, 1 already invalid." in page
    [event] = _events(db)
    assert (event.actor_label, event.detail["count"], event.detail["reason"]) == (
        "moderator@example.org",
        2,
        "bots",
    )
    assert event.detail["filter"] == {"ids": [fresh.id, shown.id, invalid.id]}
    states = _states(db)
    assert states[fresh.id] == states[shown.id] == SignatureState.INVALIDATED


def test_the_page_takes_the_rows_csv_as_a_file(signed_in, db, sealed, rows):
    fresh = rows[0]
    upload = (io.BytesIO(_rows_csv([fresh.public_id]).encode("utf-8")), "rows.csv")

    response = _post_ids(
        signed_in,
        sealed,
        {"id_file": upload, "reason": "checked offline"},
        content_type="multipart/form-data",
    )

    assert response.status_code == 303
    assert _states(db)[fresh.id] == SignatureState.INVALIDATED


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"id_list": "12 abc", "reason": "r"}, "Line 1: “abc” is not a signature id."),
        ({"id_list": " \n ", "reason": "r"}, "Give at least one signature id."),
        ({"id_list": "{fresh}", "reason": ""}, "Give a reason."),
        (
            {"id_list": "{fresh}, {other}", "reason": "r"},
            "Nothing was invalidated: these ids are not signatures of this petition: {other}.",
        ),
        (
            {"id_file": (b"\x00\x01binary", "rows.csv"), "reason": "r"},
            "This file is not text: give the rows CSV of “bundles unseal”, or a list of ids.",
        ),
    ],
)
def test_the_page_refuses_a_bad_list_saying_why_and_changes_nothing(
    signed_in, db, sealed, rows, other, data, message
):
    ids = {"fresh": rows[0].id, "other": other.id}
    sent = {
        key: (io.BytesIO(value[0]), value[1]) if isinstance(value, tuple) else value.format(**ids)
        for key, value in data.items()
    }
    before = _states(db)

    response = _post_ids(signed_in, sealed, sent, content_type="multipart/form-data")

    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert '<p class="field__error" id="' in page
    assert message.format(**ids) in page
    assert "None" not in page
    assert _states(db) == before
    assert _events(db) == []


def test_the_id_form_needs_its_csrf_token(signed_in, db, sealed, rows):
    before = _states(db)
    response = signed_in.post(
        f"/organiser/petitions/{sealed.id}/signatures/invalidate-ids",
        data={"id_list": str(rows[0].id), "reason": "r"},
    )
    assert response.status_code == 400
    assert _states(db) == before


def test_another_organiser_gets_404_and_changes_nothing(client, db, make_account, sealed, rows):
    stranger = make_account("stranger@example.org")
    assert login(client, stranger.email, PASSWORD).status_code == 303
    before = _states(db)
    token = csrf_token(client, "/organiser/")
    response = client.post(
        f"/organiser/petitions/{sealed.id}/signatures/invalidate-ids",
        data={"csrf_token": token, "id_list": str(rows[0].id), "reason": "r"},
    )
    assert response.status_code == 404
    assert _page(client, sealed).status_code == 404
    assert _states(db) == before


def test_an_unsealed_petition_keeps_its_name_search_and_offers_the_id_form(
    signed_in, organiser, make_petition, make_signature
):
    petition = make_petition(organiser=organiser)
    make_signature(petition, name="Әлия")
    page = _page(signed_in, petition, name="әлия").get_data(as_text=True)
    assert 'id="q-name" name="name"' in page and EXPLANATION not in page
    assert "<td><bdi>Әлия</bdi></td>" in page
    assert "Invalidate by signature id" in page


# From the sealed export to the invalidation -----------------------------------------------------


@pytest.mark.committed
def test_the_rows_unsealed_offline_invalidate_on_the_server(
    client, runner, db, make_organiser, make_petition, identity, tmp_path
):
    organiser = make_organiser()
    petition = make_petition(organiser=organiser, slug="sealed-appeal")
    lifecycle.seal(petition, identity.public_key.line, organiser)
    db.session.commit()
    for number in range(3):
        assert sign(client, petition.slug, email=f"s{number}@example.org").status_code == 303
    db.session.execute(
        sa.update(Signature).values(state=SignatureState.CONFIRMED, confirmed_at=utcnow())
    )
    db.session.commit()
    exported = runner.invoke(
        args=["petitions", "export", petition.slug, "--output", f"{tmp_path}/"]
    )
    assert exported.exit_code == 0, exported.output
    sealed_zip = Path(exported.output.split(":", 1)[0])
    key = load_signing_key(ensure_development_key(tmp_path), None)
    rows_out = tmp_path / "rows.csv"
    unseal(sealed_zip, identity, tmp_path / "bundle", key, rows_out=rows_out)
    with rows_out.open(encoding="utf-8-sig", newline="") as file:
        opened = list(csv.DictReader(file))
    assert {row["email"] for row in opened} == {
        "s0@example.org",
        "s1@example.org",
        "s2@example.org",
    }
    # The organiser keeps, offline, only the rows found to be fraud.
    fraud = [row for row in opened if row["email"] != "s0@example.org"]
    kept = tmp_path / "fraud.csv"
    with kept.open("w", encoding="utf-8-sig", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=MODERATION_COLUMNS)
        writer.writeheader()
        writer.writerows(fraud)

    result = _invalidate(runner, kept, reason="one person, two addresses")

    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "sealed-appeal: 2 invalidated, 0 already invalid"
    by_public_id = dict(db.session.execute(sa.select(Signature.public_id, Signature.state)).all())
    assert by_public_id == {
        row["signature_id"]: SignatureState.CONFIRMED
        if row["email"] == "s0@example.org"
        else SignatureState.INVALIDATED
        for row in opened
    }
    assert client.get(f"/petitions/{petition.slug}.json").json["signature_count"] == 1
