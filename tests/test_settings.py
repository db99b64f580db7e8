"""Settings from the environment: defaults, and one clear error per bad value."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import pytest

from livecommerce.auth.tokens import TokenSigner
from livecommerce.errors import Unauthorized
from livecommerce.settings import Settings, SettingsError


def test_development_defaults(tmp_path: Path) -> None:
    s = Settings.from_env({"LIVECOMMERCE_DATA_DIR": str(tmp_path)})
    assert s.database_url == f"sqlite+aiosqlite:///{tmp_path}/livecommerce.db"
    assert s.redis_url is None
    assert s.redis_socket_timeout_s == 0  # no per-command timer task (docs/operations.md)
    # The generated key is kept, so tokens survive a restart.
    assert len(s.secret_key) >= 32
    assert Settings.from_env({"LIVECOMMERCE_DATA_DIR": str(tmp_path)}).secret_key == s.secret_key
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"PORT": "eighty"}, "PORT"),
        ({"PORT": "70000"}, "PORT"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL"),
        ({"LOG_LEVEL": "chatty"}, "LOG_LEVEL"),
        ({"LIVECOMMERCE_ENV": "production"}, "SECRET_KEY"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"EMBEDDED_WORKER": "maybe"}, "EMBEDDED_WORKER"),
        ({"HOLD_TTL_S": "0"}, "HOLD_TTL_S"),
        ({"REDIS_SOCKET_TIMEOUT_S": "-1"}, "REDIS_SOCKET_TIMEOUT_S"),
        ({"REDIS_SOCKET_TIMEOUT_S": "soon"}, "REDIS_SOCKET_TIMEOUT_S"),
        ({"CHECKOUT_ADMISSION": "0"}, "CHECKOUT_ADMISSION"),
        ({"CACHE_MAX_ENTRIES": "0"}, "CACHE_MAX_ENTRIES"),
        ({"CARD_TTL_S": "-1"}, "CARD_TTL_S"),
        ({"STOCK_EVENT_INTERVAL_S": "0"}, "STOCK_EVENT_INTERVAL_S"),
        (
            {"LIVECOMMERCE_ENV": "production", "SECRET_KEY": "k" * 32, "CLOCK_OFFSET_S": "60"},
            "CLOCK_OFFSET_S",
        ),
    ],
)
def test_bad_values_name_the_variable(tmp_path: Path, env: dict[str, str], names: str) -> None:
    with pytest.raises(SettingsError, match=names):
        Settings.from_env({"LIVECOMMERCE_DATA_DIR": str(tmp_path), **env})


def test_cart_and_cache_tunables_come_from_the_environment(tmp_path: Path) -> None:
    defaults = Settings.from_env({"LIVECOMMERCE_DATA_DIR": str(tmp_path)})
    assert (defaults.checkout_admission, defaults.card_ttl_s, defaults.cache_max_entries) == (
        64,
        5.0,
        10_000,
    )
    s = Settings.from_env(
        {
            "LIVECOMMERCE_DATA_DIR": str(tmp_path),
            "CHECKOUT_ADMISSION": "16",
            "CHECKOUT_LOOKUP_TTL_S": "0.5",
            "STOCK_EVENT_INTERVAL_S": "1",
            "IDEMPOTENCY_WAIT_S": "3",
            "IDEMPOTENCY_POLL_S": "0.01",
            "CARD_TTL_S": "2",
            "CACHE_MAX_ENTRIES": "100",
        }
    )
    assert s.checkout_admission == 16 and s.checkout_lookup_ttl_s == 0.5
    assert s.stock_event_interval_s == 1 and s.card_ttl_s == 2 and s.cache_max_entries == 100
    assert (s.idempotency_wait_s, s.idempotency_poll_s) == (3, 0.01)


def test_tokens_expire_and_resist_tampering() -> None:
    signer = TokenSigner("k" * 32, ttl_s=60)
    token = signer.issue(7, "host", brand_id=None, now=1000)
    claims = signer.verify(token, now=1059)
    assert (claims.user_id, claims.role, claims.brand_id) == (7, "host", None)
    with pytest.raises(Unauthorized, match="expired"):
        signer.verify(token, now=1061)
    payload, _, sig = token.partition(".")
    forged = TokenSigner("other key material!!", ttl_s=60).issue(7, "admin", now=1000)
    with pytest.raises(Unauthorized):
        signer.verify(forged.partition(".")[0] + "." + sig, now=1000)
    with pytest.raises(Unauthorized):
        signer.verify("not-a-token", now=1000)
    assert payload


#: Settings whose variable is not the field's name in capitals.
_ENV_NAMES = {"environment": "LIVECOMMERCE_ENV", "data_dir": "LIVECOMMERCE_DATA_DIR"}


def test_every_setting_is_read_from_the_environment_and_documented() -> None:
    """Every tunable lives in Settings (issue 11): each field has its variable, read by
    from_env, and a row in docs/operations.md."""
    source = inspect.getsource(Settings.from_env)
    doc = (Path(__file__).parent.parent / "docs" / "operations.md").read_text()
    unread, undocumented = [], []
    for f in dataclasses.fields(Settings):
        name = _ENV_NAMES.get(f.name, f.name.upper())
        if f'"{name}"' not in source:
            unread.append(name)
        if f"`{name}`" not in doc:
            undocumented.append(name)
    assert unread == [] and undocumented == []
