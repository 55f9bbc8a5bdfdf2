"""Settings are read from the environment, validated, and explained when wrong."""

import stat

import pytest

from petitions.app import create_app
from petitions.settings import SettingsError, _keep_new_secret, load_settings

KEY = "A" * 43


def test_defaults_are_embedded_sqlite_and_memory_limits(tmp_path):
    settings = load_settings({}, tmp_path)
    assert settings.database_url == f"sqlite:///{tmp_path / 'petitions.sqlite3'}"
    assert settings.ratelimit_storage_uri == "memory://"
    assert settings.environment == "development"
    assert settings.base_url == "http://127.0.0.1:5000"
    assert settings.trusted_hosts == ("127.0.0.1", "localhost")
    assert settings.warnings == [
        "BASE_URL is not set: links in emails and pages point at http://127.0.0.1:5000; "
        "set BASE_URL to the address visitors use"
    ]


def test_development_s_default_base_url_follows_make_run_s_host_and_port(tmp_path):
    settings = load_settings({"HOST": "192.168.1.20", "PORT": "8080"}, tmp_path)
    assert settings.base_url == "http://192.168.1.20:8080"
    quiet = load_settings({"BASE_URL": "http://petitions.test:8000/"}, tmp_path)
    assert quiet.base_url == "http://petitions.test:8000"
    assert quiet.warnings == []


PRODUCTION = {"PETITIONS_ENV": "production", "SECRET_KEY": "x" * 48, "HASH_KEY": KEY}


def test_production_refuses_to_start_without_base_url(tmp_path):
    with pytest.raises(SettingsError) as raised:
        load_settings({**PRODUCTION, "DATA_KEYS": KEY}, tmp_path)
    assert raised.value.problems == [
        "BASE_URL: required in production: the address signers reach the site at "
        "(e.g. https://petitions.example.org); every link in emails is built on it"
    ]


@pytest.mark.parametrize(
    "value",
    [
        "petitions.example.org",
        "ftp://petitions.example.org",
        "https://",
        "https://a.org/?x=1",
        "https://a.org:99999",
        "https://user@a.org",
    ],
)
def test_a_base_url_that_is_no_site_address_is_refused(tmp_path, value):
    with pytest.raises(SettingsError) as raised:
        load_settings({"BASE_URL": value}, tmp_path)
    assert raised.value.problems == [
        f"BASE_URL: expected an address such as https://petitions.example.org, got {value!r}"
    ]


def test_production_answers_base_url_s_host_and_the_trusted_hosts_alone(tmp_path):
    settings = load_settings(
        {
            **PRODUCTION,
            "DATA_KEYS": KEY,
            "BASE_URL": "https://Petitions.Example.org/kz/",
            "TRUSTED_HOSTS": " www.example.org,.mirror.example.net,, ",
        },
        tmp_path,
    )
    assert settings.base_url == "https://Petitions.Example.org/kz"
    assert settings.trusted_hosts == (
        "petitions.example.org",
        "www.example.org",
        ".mirror.example.net",
    )
    with pytest.raises(SettingsError) as raised:
        load_settings({"TRUSTED_HOSTS": "https://www.example.org"}, tmp_path)
    assert raised.value.problems[0].startswith("TRUSTED_HOSTS: expected host names")


def test_development_secrets_are_generated_once_and_kept_private(tmp_path):
    first = load_settings({}, tmp_path)
    second = load_settings({}, tmp_path)
    assert len(first.secret_key) >= 32
    assert first.secret_key == second.secret_key
    assert first.hash_key == second.hash_key and len(first.hash_key) == 32
    assert first.data_keys == second.data_keys
    mode = stat.S_IMODE((tmp_path / "secret_key").stat().st_mode)
    assert mode == 0o600


def test_production_refuses_to_start_without_a_real_secret_key(tmp_path):
    with pytest.raises(SettingsError) as raised:
        load_settings({"PETITIONS_ENV": "production", "SECRET_KEY": "short"}, tmp_path)
    messages = raised.value.problems
    assert any(message.startswith("SECRET_KEY: required in production") for message in messages)
    assert any(message.startswith("HASH_KEY:") for message in messages)
    assert any(message.startswith("DATA_KEYS:") for message in messages)
    assert list(tmp_path.iterdir()) == [], "production must never invent secrets"


@pytest.mark.parametrize(
    "environ",
    [
        {"PETITIONS_ENV": "production"},
        {"PETITIONS_ENV": "production", "SECRET_KEY": "x" * 48},
        {"PETITIONS_ENV": "production", "SECRET_KEY": "x" * 48, "HASH_KEY": KEY},
        {"PETITIONS_ENV": "production", "SECRET_KEY": "x" * 48, "DATA_KEYS": KEY},
        {"MAIL_PORT": "0"},
        {"HASH_KEY": "too-short"},
    ],
)
def test_a_refused_start_writes_nothing(tmp_path, environ):
    instance = tmp_path / "instance"
    with pytest.raises(SettingsError):
        load_settings(environ, instance)
    assert not instance.exists()
    with pytest.raises(SettingsError):
        create_app({**environ, "INSTANCE_PATH": str(instance)})
    assert not instance.exists()


def test_a_development_start_reads_the_secrets_it_kept(tmp_path):
    (tmp_path / "secret_key").write_text("kept-secret-key\n", encoding="ascii")
    (tmp_path / "hash_key").write_text(KEY + "\n", encoding="ascii")
    settings = load_settings({"DATA_KEYS": "B" * 43}, tmp_path)
    assert settings.secret_key == "kept-secret-key"
    assert settings.hash_key == b"\x00" * 32  # "A" * 43 in URL-safe base64
    assert sorted(path.name for path in tmp_path.iterdir()) == ["hash_key", "secret_key"]


def test_secrets_set_in_the_environment_are_never_written(tmp_path):
    settings = load_settings({"SECRET_KEY": "s" * 48, "HASH_KEY": KEY, "DATA_KEYS": KEY}, tmp_path)
    assert settings.secret_key == "s" * 48
    assert list(tmp_path.iterdir()) == []


def test_the_first_of_two_starts_keeps_its_secret(tmp_path):
    path = tmp_path / "instance" / "secret_key"
    assert _keep_new_secret(path, lambda: "first") == "first"
    assert _keep_new_secret(path, lambda: "second") == "first"
    assert [child.name for child in path.parent.iterdir()] == ["secret_key"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_production_refuses_data_keys_made_of_commas_alone(tmp_path):
    environ = {**PRODUCTION, "BASE_URL": "https://petitions.example.org"}
    with pytest.raises(SettingsError) as raised:
        load_settings({**environ, "DATA_KEYS": " , ,"}, tmp_path)
    assert raised.value.problems == ["DATA_KEYS: expected one or more keys separated by commas"]


def test_production_warns_about_sqlite_and_memory_limits(tmp_path):
    key = KEY
    settings = load_settings(
        {
            "PETITIONS_ENV": "production",
            "SECRET_KEY": "x" * 48,
            "HASH_KEY": key,
            "DATA_KEYS": key,
            "BASE_URL": "https://petitions.example.org",
        },
        tmp_path,
    )
    joined = "\n".join(settings.warnings)
    assert "SQLite" in joined
    assert "memory://" in joined
    assert "MAIL_SERVER" in joined


PRODUCTION_COMPLETE = {
    "PETITIONS_ENV": "production",
    "SECRET_KEY": "x" * 48,
    "HASH_KEY": KEY,
    "DATA_KEYS": KEY,
    "BASE_URL": "https://petitions.example.org",
}


def test_a_second_factor_is_required_in_production_and_not_in_development(tmp_path):
    production = load_settings(PRODUCTION_COMPLETE, tmp_path)
    assert production.require_two_factor is True
    assert production.fresh_factor_minutes == 15
    assert load_settings({}, tmp_path / "dev").require_two_factor is False
    relaxed = load_settings({**PRODUCTION_COMPLETE, "REQUIRE_TWO_FACTOR": "false"}, tmp_path)
    assert relaxed.require_two_factor is False
    assert (
        "REQUIRE_TWO_FACTOR is off: an organiser without a second factor is opened by their "
        "password alone"
    ) in relaxed.warnings
    assert not [w for w in production.warnings if "REQUIRE_TWO_FACTOR" in w]
    strict = load_settings({"REQUIRE_TWO_FACTOR": "yes", "FRESH_FACTOR_MINUTES": "5"}, tmp_path)
    assert (strict.require_two_factor, strict.fresh_factor_minutes) == (True, 5)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("DATABASE_URL", "::not a url", "DATABASE_URL: cannot parse"),
        ("DATABASE_URL", "mysql://root@localhost/x", "DATABASE_URL: unsupported database"),
        ("TRUSTED_PROXIES", "two", "TRUSTED_PROXIES: expected a whole number"),
        ("TRUSTED_PROXIES", "50", "TRUSTED_PROXIES: must be between 0 and 10"),
        ("MAIL_USE_TLS", "maybe", "MAIL_USE_TLS: expected true or false"),
        ("SIGN_RATE_LIMIT", "lots", "SIGN_RATE_LIMIT: cannot read"),
        ("RATELIMIT_STORAGE_URI", "memcached://x", "RATELIMIT_STORAGE_URI: expected"),
        ("PETITIONS_ENV", "staging", "PETITIONS_ENV: expected one of"),
        ("DEFAULT_TIMEZONE", "Mars/Olympus", "DEFAULT_TIMEZONE: unknown time zone"),
        ("HASH_KEY", "too-short", "HASH_KEY: expected 32 random bytes"),
        ("SESSION_IDLE_MINUTES", "half an hour", "SESSION_IDLE_MINUTES: expected a whole number"),
        ("SESSION_IDLE_MINUTES", "1", "SESSION_IDLE_MINUTES: must be between 2 and 1440"),
        ("SESSION_MAX_HOURS", "0", "SESSION_MAX_HOURS: must be between 1 and 168"),
        ("REQUIRE_TWO_FACTOR", "sometimes", "REQUIRE_TWO_FACTOR: expected true or false"),
        ("FRESH_FACTOR_MINUTES", "0", "FRESH_FACTOR_MINUTES: must be between 1 and 720"),
    ],
)
def test_each_wrong_setting_gets_its_own_clear_message(tmp_path, name, value, expected):
    with pytest.raises(SettingsError) as raised:
        load_settings({name: value}, tmp_path)
    assert any(problem.startswith(expected) for problem in raised.value.problems), (
        raised.value.problems
    )


def test_all_wrong_settings_are_reported_together(tmp_path):
    with pytest.raises(SettingsError) as raised:
        load_settings({"MAIL_PORT": "0", "TRUSTED_PROXIES": "x"}, tmp_path)
    assert len(raised.value.problems) == 2


def test_plain_postgresql_url_uses_the_installed_psycopg_driver(tmp_path):
    settings = load_settings({"DATABASE_URL": "postgresql://u:p@db:5432/petitions"}, tmp_path)
    assert settings.database_url == "postgresql+psycopg://u:p@db:5432/petitions"


def test_several_data_keys_are_read_for_rotation(tmp_path):
    settings = load_settings({"DATA_KEYS": f"{'A' * 43},{'B' * 43}"}, tmp_path)
    assert len(settings.data_keys) == 2
    assert settings.data_keys[0] != settings.data_keys[1]


#: The Tor Project's own onion service: a real address, its checksum made by tor.
TOR_PROJECT_ONION = "2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion"


def test_without_onion_address_there_is_no_onion_service(tmp_path):
    for environ in ({}, {"ONION_ADDRESS": "  "}):
        settings = load_settings(environ, tmp_path)
        assert settings.onion_address == ""
        assert settings.onion_base_url is None
        assert settings.trusted_hosts == ("127.0.0.1", "localhost")


def test_the_onion_address_is_a_trusted_host_and_keeps_base_url_s_path(tmp_path):
    settings = load_settings(
        {
            **PRODUCTION,
            "DATA_KEYS": KEY,
            "BASE_URL": "https://petitions.example.org/kz",
            "ONION_ADDRESS": f" {TOR_PROJECT_ONION.upper()} ",
            "TRUSTED_HOSTS": "www.example.org",
        },
        tmp_path,
    )
    assert settings.onion_address == TOR_PROJECT_ONION
    assert settings.onion_base_url == f"http://{TOR_PROJECT_ONION}/kz"
    assert settings.trusted_hosts == ("petitions.example.org", TOR_PROJECT_ONION, "www.example.org")
    # BASE_URL stays the open site's address.
    assert settings.base_url == "https://petitions.example.org/kz"


@pytest.mark.parametrize(
    "value",
    [
        f"http://{TOR_PROJECT_ONION}",
        f"{TOR_PROJECT_ONION}/",
        f"{TOR_PROJECT_ONION}:80",
        TOR_PROJECT_ONION.removesuffix(".onion"),
        "expyuzz4wqqyqhjn.onion",  # a version 2 address: tor no longer serves them
        "1" * 56 + ".onion",  # 0, 1, 8 and 9 are not base32
        TOR_PROJECT_ONION[1:],
        "petitions.example.org",
    ],
)
def test_an_onion_address_that_is_no_v3_host_name_is_refused(tmp_path, value):
    with pytest.raises(SettingsError) as raised:
        load_settings({"ONION_ADDRESS": value}, tmp_path)
    assert raised.value.problems == [
        "ONION_ADDRESS: expected the host name of a version 3 onion service, 56 letters a-z "
        "and digits 2-7 then .onion, as in the hidden service's hostname file (no http:// "
        f"and no path), got {value!r}"
    ]


@pytest.mark.parametrize(
    "value",
    [
        # One letter mistyped.
        TOR_PROJECT_ONION.replace("2gzy", "2gzz"),
        # The right shape, with the checksum of the wrong version.
        "a" * 56 + ".onion",
    ],
)
def test_an_onion_address_with_a_wrong_checksum_is_refused(tmp_path, value):
    with pytest.raises(SettingsError) as raised:
        load_settings({"ONION_ADDRESS": value}, tmp_path)
    assert raised.value.problems == [
        f"ONION_ADDRESS: {value!r} is not a valid onion address (its checksum does not match: "
        "copy it again from the hidden service's hostname file)"
    ]


def test_the_signing_limits_default_to_loose_per_address_and_tight_per_email(tmp_path):
    settings = load_settings({}, tmp_path)
    assert settings.sign_rate_limit == "60 per minute;5000 per day"
    assert settings.sign_email_rate_limit == "5 per minute;20 per day"
    assert settings.onion_sign_limit == "300 per minute"
    assert settings.global_sign_limit == "600 per minute"
    assert settings.receipt_rate_limit == "30 per minute;300 per day"


@pytest.mark.parametrize(
    "name", ["SIGN_EMAIL_RATE_LIMIT", "ONION_SIGN_LIMIT", "RECEIPT_RATE_LIMIT"]
)
def test_the_new_signing_limits_are_read_like_the_others(tmp_path, name):
    assert getattr(load_settings({name: "7 per hour"}, tmp_path), name.lower()) == "7 per hour"
    with pytest.raises(SettingsError) as raised:
        load_settings({name: "lots"}, tmp_path)
    assert raised.value.problems == [
        f"{name}: cannot read 'lots' as rate limits (example: '10 per minute;200 per day')"
    ]


def test_news_goes_at_600_a_minute_unless_set_and_a_bare_number_is_refused(tmp_path):
    settings = load_settings({}, tmp_path)
    assert settings.news_rate_limit == "600 per minute"
    assert [(rate.amount, rate.get_expiry()) for rate in settings.news_rates] == [(600, 60)]
    settings = load_settings({"NEWS_RATE_LIMIT": "10 per second;20000 per day"}, tmp_path)
    assert [(rate.amount, rate.get_expiry()) for rate in settings.news_rates] == [
        (10, 1),
        (20000, 86400),
    ]
    with pytest.raises(SettingsError) as raised:
        load_settings({"NEWS_RATE_LIMIT": "600"}, tmp_path)
    assert raised.value.problems == [
        "NEWS_RATE_LIMIT: cannot read '600' as rate limits (example: '10 per minute;200 per day')"
    ]


def test_sessions_last_30_idle_minutes_and_12_hours_unless_set(tmp_path):
    settings = load_settings({}, tmp_path)
    assert (settings.session_idle_minutes, settings.session_max_hours) == (30, 12)
    settings = load_settings({"SESSION_IDLE_MINUTES": "10", "SESSION_MAX_HOURS": "2"}, tmp_path)
    assert (settings.session_idle_minutes, settings.session_max_hours) == (10, 2)


def test_an_idle_limit_longer_than_the_absolute_one_is_refused(tmp_path):
    with pytest.raises(SettingsError) as raised:
        load_settings({"SESSION_IDLE_MINUTES": "180", "SESSION_MAX_HOURS": "2"}, tmp_path)
    assert raised.value.problems == [
        "SESSION_IDLE_MINUTES: 180 minutes is longer than SESSION_MAX_HOURS (2 hours), which "
        "ends a session first"
    ]
