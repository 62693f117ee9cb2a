"""Settings precedence: arguments > WINIC_* environment > TOML file (with profiles)."""

from __future__ import annotations

from pathlib import Path

import pytest

from winic_soap import ConfigurationError, Settings, WinicClient
from winic_soap.config import default_config_path

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


def test_from_env_swaps_transport_by_one_setting(winic_mock, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setenv("WINIC_UID", "demo")
    monkeypatch.setenv("WINIC_PWD", "demo-secret")
    monkeypatch.setenv("WINIC_ENDPOINT", winic_mock.url)
    monkeypatch.setenv("WINIC_TRANSPORT", "http-post")
    with WinicClient.from_env() as client:
        assert client.transport == "http-post" and client.account().uid == "demo"
    assert winic_mock.ledger[-1].transport == "http-post"
