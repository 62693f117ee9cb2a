"""Settings precedence: arguments > WINIC_* environment > TOML file (with profiles)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from winic_soap import ConfigurationError, Settings, WinicClient
from winic_soap.config import default_config_path
from winic_soap.mock import MockService

TOML = """
uid = "file-user"
pwd = "file-pwd"
endpoint = "http://127.0.0.1:9/Service.asmx"
timeout = 12

[profiles.alerts]
uid = "alerts-user"
pwd = "alerts-pwd"
transport = "http-post"
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(TOML, encoding="utf-8")
    return path


def test_file_then_env_then_arguments(config_file: Path) -> None:
    from_file = Settings.load(config=config_file, env={})
    assert (from_file.uid, from_file.timeout, from_file.transport) == ("file-user", 12.0, "soap11")
    env = {"WINIC_UID": "env-user", "WINIC_TIMEOUT": "7.5", "WINIC_TRANSPORT": "soap12"}
    from_env = Settings.load(config=config_file, env=env)
    assert (from_env.uid, from_env.pwd, from_env.timeout, from_env.transport) == ("env-user", "file-pwd", 7.5, "soap12")
    from_args = Settings.load(config=config_file, env=env, uid="arg-user", transport=None)
    assert (from_args.uid, from_args.transport) == ("arg-user", "soap12")


def test_profiles(config_file: Path) -> None:
    alerts = Settings.load(config=config_file, profile="alerts", env={})
    assert (alerts.uid, alerts.transport, alerts.timeout) == ("alerts-user", "http-post", 12.0)
    via_env = Settings.load(config=config_file, env={"WINIC_PROFILE": "alerts"})
    assert via_env.uid == "alerts-user"
    with pytest.raises(ConfigurationError, match="profile 'nope'"):
        Settings.load(config=config_file, profile="nope", env={})


def test_default_location_and_override(tmp_path: Path) -> None:
    assert default_config_path({"XDG_CONFIG_HOME": str(tmp_path)}) == tmp_path / "winic-soap" / "config.toml"
    assert default_config_path({"WINIC_CONFIG": str(tmp_path / "x.toml")}) == tmp_path / "x.toml"
    (tmp_path / "winic-soap").mkdir()
    (tmp_path / "winic-soap" / "config.toml").write_text('uid = "xdg"\n', encoding="utf-8")
    assert Settings.load(env={"XDG_CONFIG_HOME": str(tmp_path)}).uid == "xdg"


@pytest.mark.parametrize(
    ("env", "match"),
    [
        ({"WINIC_TIMEOUT": "soon"}, "timeout must be a number"),
        ({"WINIC_STRICT_TEXT": "maybe"}, "strict_text"),
        ({"WINIC_TRANSPORT": "carrier-pigeon"}, "transport must be one of"),
    ],
)
def test_bad_environment(env: dict[str, str], match: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=match):
        Settings.load(config=None, env={"XDG_CONFIG_HOME": str(tmp_path), **env})


def test_missing_or_broken_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        Settings.load(config=tmp_path / "absent.toml", env={})
    broken = tmp_path / "broken.toml"
    broken.write_text("uid = ", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="cannot read config"):
        Settings.load(config=broken, env={})


def test_password_not_in_settings_repr() -> None:
    settings = Settings(uid="u", pwd="hidden-pw")
    assert "hidden-pw" not in repr(settings) and "hidden-pw" not in str(settings)


def test_from_env_swaps_transport_by_one_setting(
    winic_mock: MockService, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setenv("WINIC_UID", "demo")
    monkeypatch.setenv("WINIC_PWD", "demo-secret")
    monkeypatch.setenv("WINIC_ENDPOINT", winic_mock.url)
    monkeypatch.setenv("WINIC_TRANSPORT", "http-post")
    with WinicClient.from_env() as client:
        assert client.settings.transport == "http-post" and client.account().uid == "demo"
    assert winic_mock.ledger[-1].transport == "http-post"


SECRETS: dict[str, Any] = {
    "pwd": "pw-S3cret",
    "cert_password": "key-S3cret",
    "proxy": "http://proxyuser:proxy-S3cret@127.0.0.1:3128",
    "store": "postgresql://winic:db-S3cret@127.0.0.1/winic",
}


@pytest.mark.parametrize(
    "store",
    [
        "postgresql://winic:db-S3cret@127.0.0.1/winic",
        "postgresql://winic@127.0.0.1/winic?password=db-S3cret",
        "host=127.0.0.1 user=winic password=db-S3cret dbname=winic",
        "host=127.0.0.1 password='db-S3cret' dbname=winic",
    ],
)
def test_no_secret_in_settings_repr_or_str(store: str) -> None:
    settings = Settings(**{**SECRETS, "store": store})
    for shown in (repr(settings), str(settings), f"{settings}"):
        assert "S3cret" not in shown, shown
    assert "proxyuser:***@127.0.0.1:3128" in repr(settings) and "pwd='***'" in repr(settings)
    assert settings.store == store  # the value itself is untouched


def test_no_secret_in_client_settings_repr() -> None:
    with WinicClient("demo", endpoint="http://127.0.0.1:9/Service.asmx", **SECRETS) as client:
        assert "S3cret" not in repr(client.settings) and "S3cret" not in repr(client)
        assert client.settings.pwd == SECRETS["pwd"] and client.settings.cert_password == SECRETS["cert_password"]


@pytest.mark.parametrize(
    ("toml", "match"),
    [
        ("pwd = 654321", r"pwd must be a string \(quote it in TOML\) \(from .*config\.toml\)$"),
        ("uid = 1_000", r"uid must be a string \(quote it in TOML\), not 1000"),
        ("timeout = inf", "timeout must be a positive, finite number of seconds, not inf"),
        ("deadline = nan", "deadline must be a positive, finite number"),
        ("connect_timeout = -1", "connect_timeout must be a positive, finite number"),
        ("timeout = true", "timeout must be a number of seconds, not True"),
        ('timeout = "soon"', "timeout must be a number, not 'soon'"),
        ("pool_size = 2.5", "pool_size must be a whole number, not 2.5"),
        ("max_attempts = 0", "max_attempts must be a whole number of at least 1, not 0"),
        ("max_response_bytes = 0", "max_response_bytes must be a whole number of at least 1"),
        ('strict_text = "maybe"', "strict_text must be true or false"),
        ("trust_env = 1", "trust_env must be true or false, not 1"),
        ("verify = 3", "verify must be true, false or a CA file/folder path"),
        ("cert_password = 1234", r"cert_password must be a string \(quote it in TOML\) \(from .*config\.toml\)$"),
        ("proxy = 8080", r"proxy must be a string \(quote it in TOML\) \(from .*config\.toml\)$"),
    ],
)
def test_config_values_checked_by_type_and_range(toml: str, match: str, tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(toml + "\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match=match) as caught:
        Settings.load(config=path, env={})
    assert "654321" not in str(caught.value) and "1234" not in str(caught.value)


@pytest.mark.parametrize(
    ("env", "match"),
    [
        ({"WINIC_POOL_SIZE": "2.5"}, r"pool_size must be a whole number, not '2\.5' \(from WINIC_POOL_SIZE\)$"),
        ({"WINIC_TIMEOUT": "inf"}, "timeout must be a positive, finite number of seconds, not inf"),
        ({"WINIC_TRUST_ENV": "perhaps"}, "trust_env must be true or false"),
    ],
)
def test_environment_values_checked(env: dict[str, str], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        Settings.load(config=None, env=env)


def test_values_of_the_right_type_pass(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('pwd = "654321"\ntimeout = 2\ndeadline = 2.5\nverify = "/etc/ssl/certs"\ntrust_env = false\n')
    settings = Settings.load(config=path, env={"WINIC_POOL_SIZE": "3", "WINIC_STRICT_TEXT": "yes"})
    assert (settings.pwd, settings.timeout, settings.deadline, settings.pool_size) == ("654321", 2, 2.5, 3)
    assert (settings.verify, settings.trust_env, settings.strict_text) == ("/etc/ssl/certs", False, True)
    with pytest.raises(ConfigurationError, match=r"pool_size must be a whole number, not 2\.5"):
        WinicClient("u", "p", pool_size=2.5)  # arguments are checked as files are
    with pytest.raises(ConfigurationError, match="timeout must be a positive, finite"):
        WinicClient("u", "p", settings=Settings(), timeout=float("inf"))
    with pytest.raises(ConfigurationError, match="timeout must be a number of seconds, not '30'"):
        Settings(timeout="30")  # type: ignore[arg-type]  # the wrong type is the test


@pytest.mark.parametrize("shell", ["sync", "async"])
def test_constructor_falls_back_to_environment_then_file(
    shell: str, config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from winic_soap import AsyncWinicClient

    monkeypatch.setenv("WINIC_CONFIG", str(config_file))
    monkeypatch.setenv("WINIC_PWD", "env-pwd")
    monkeypatch.setenv("WINIC_TRANSPORT", "soap12")

    def settings(*args: str, **kwargs: Any) -> Settings:
        if shell == "sync":
            with WinicClient(*args, **kwargs) as client:
                return client.settings
        made = AsyncWinicClient(*args, **kwargs)
        import asyncio

        asyncio.run(made.aclose())
        return made.settings

    found = settings()  # nothing passed: env over file
    assert (found.uid, found.pwd, found.transport, found.timeout) == ("file-user", "env-pwd", "soap12", 12.0)
    assert found.endpoint == "http://127.0.0.1:9/Service.asmx"
    passed = settings("arg-user", "arg-pwd", transport="http-post", timeout=3)  # arguments over both
    assert (passed.uid, passed.pwd, passed.transport, passed.timeout) == ("arg-user", "arg-pwd", "http-post", 3)
    monkeypatch.setenv("WINIC_PROFILE", "alerts")
    assert settings().uid == "alerts-user"
    given = settings(settings=Settings(uid="explicit"))  # an explicit Settings is taken as it is
    assert (given.uid, given.pwd, given.transport) == ("explicit", "", "soap11")


def test_tests_see_no_user_environment() -> None:
    import os

    assert not [n for n in os.environ if n.startswith("WINIC_")]
    assert Settings.load() == Settings()
