from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from fastapi_pro import Settings
from fastapi_pro.settings import AuthSettings

STRONG_KEY = "k" * 32


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Run each test in an empty folder (no stray .env) with no FASTAPI_PRO_ variables."""
    monkeypatch.chdir(tmp_path)
    for name in list(__import__("os").environ):
        if name.startswith("FASTAPI_PRO_") or name == "PROMETHEUS_MULTIPROC_DIR":
            monkeypatch.delenv(name)


def test_defaults_need_no_environment() -> None:
    settings = Settings()

    assert settings.database.url.get_secret_value() == "sqlite+aiosqlite:///./app.db"
    assert settings.environment == "development"
    assert settings.auth.secret_key is None
    assert settings.auth.access_token_ttl == timedelta(minutes=15)
    assert settings.observability.request_id_header == "X-Request-ID"
    assert settings.errors.include_validation_input is False
    assert settings.cors.allow_origins == []


def test_nested_values_come_from_prefixed_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASTAPI_PRO_DATABASE__URL", "postgresql+asyncpg://app:pw@db/app")
    monkeypatch.setenv("FASTAPI_PRO_DATABASE__POOL_SIZE", "20")
    monkeypatch.setenv("FASTAPI_PRO_AUTH__ACCESS_TOKEN_TTL", "PT5M")
    monkeypatch.setenv("FASTAPI_PRO_CORS__ALLOW_ORIGINS", '["https://app.example.com"]')
    monkeypatch.setenv("FASTAPI_PRO_ENVIRONMENT", "production")

    settings = Settings()

    assert settings.database.url.get_secret_value() == "postgresql+asyncpg://app:pw@db/app"
    assert settings.database.pool_size == 20
    assert settings.auth.access_token_ttl == timedelta(minutes=5)
    assert settings.cors.allow_origins == ["https://app.example.com"]
    assert settings.environment == "production"


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("FASTAPI_PRO_OBSERVABILITY__LOG_JSON=true\nOTHER_APP_VAR=1\n")

    assert Settings().observability.log_json is True


def test_secrets_never_show_in_repr_or_dumps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASTAPI_PRO_DATABASE__URL", "postgresql+asyncpg://app:hunter2@db/app")
    monkeypatch.setenv("FASTAPI_PRO_AUTH__SECRET_KEY", "s3cret" * 8)

    settings = Settings()

    for text in (repr(settings), str(settings), settings.model_dump_json()):
        assert "hunter2" not in text
        assert "s3cret" not in text


def test_short_hmac_key_is_refused_at_startup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASTAPI_PRO_AUTH__SECRET_KEY", "too-short")

    with pytest.raises(ValidationError, match=r"9 bytes long; HS256 needs at least 32") as error:
        Settings()
    assert "too-short" not in str(error.value)  # the refused key is not printed


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("FASTAPI_PRO_DATABASE__URL", "postgresql://app:pa55word@db/app?x=1&x="),
        ("FASTAPI_PRO_DATABASE__POOL_SIZE", "pa55word"),
        ("FASTAPI_PRO_REDIS__URL", "pa55word"),
    ],
)
def test_invalid_values_are_not_printed(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    monkeypatch.setenv("FASTAPI_PRO_AUTH__SECRET_KEY", "pa55word")  # too short: an error

    with pytest.raises(ValidationError) as error:
        Settings()
    assert "pa55word" not in str(error.value)


def test_hmac_key_length_counts_bytes_not_characters() -> None:
    with pytest.raises(ValidationError, match="needs at least 32"):
        AuthSettings(secret_key=SecretStr("é" * 15))  # 30 bytes
    assert AuthSettings(secret_key=SecretStr("é" * 16)).secret_key is not None


def test_asymmetric_algorithms_do_not_need_an_hmac_key() -> None:
    assert AuthSettings(algorithm="RS256").secret_key is None
    assert AuthSettings(secret_key=SecretStr(STRONG_KEY)).algorithm == "HS256"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("FASTAPI_PRO_DATABASE__POOL_SIZE", "0"),
        ("FASTAPI_PRO_AUTH__ALGORITHM", "none"),
        ("FASTAPI_PRO_ENVIRONMENT", "staging"),
        ("FASTAPI_PRO_OBSERVABILITY__TRACE_SAMPLE_RATIO", "1.5"),
    ],
)
def test_invalid_values_fail_with_the_field_named(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(ValidationError) as error:
        Settings()

    field = name.removeprefix("FASTAPI_PRO_").lower().split("__")[-1]
    assert field in str(error.value)


def test_prometheus_multiprocess_directory_comes_from_its_own_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().prometheus_multiproc_dir is None
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "/run/prometheus")

    assert Settings().prometheus_multiproc_dir == "/run/prometheus"


@pytest.mark.parametrize(
    ("value", "seconds"), [("600", 600), ("1.5", 1.5), ("PT10M", 600), ("00:10:00", 600)]
)
def test_durations_read_seconds_iso_8601_and_clock_time(
    monkeypatch: pytest.MonkeyPatch, value: str, seconds: float
) -> None:
    monkeypatch.setenv("FASTAPI_PRO_AUTH__ACCESS_TOKEN_TTL", value)
    monkeypatch.setenv("FASTAPI_PRO_AUTH__LEEWAY", value)

    auth = Settings(_env_file=None).auth  # type: ignore[call-arg]

    assert auth.access_token_ttl.total_seconds() == seconds
    assert auth.leeway.total_seconds() == seconds


def test_null_in_a_variable_turns_an_optional_header_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASTAPI_PRO_SECURITY_HEADERS__REFERRER_POLICY", "null")
    monkeypatch.setenv("FASTAPI_PRO_SECURITY_HEADERS__FRAME_OPTIONS", "null")

    headers = Settings(_env_file=None).security_headers  # type: ignore[call-arg]

    assert headers.referrer_policy is None
    assert headers.frame_options is None
