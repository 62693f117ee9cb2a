"""``winic-soap`` as operators run it: a subprocess per command against the mock, exit code per family."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Protocol

import pytest
from helpers.shared import cli_env

from winic_soap.mock import MockService

PWD = "demo-secret"


class Cli(Protocol):
    """The ``cli`` fixture: ``winic-soap ARGS`` as a subprocess, ``drop`` naming variables to leave out."""

    def __call__(
        self, *args: str, stdin: str | None = None, extra_env: dict[str, str] | None = None, drop: tuple[str, ...] = ()
    ) -> subprocess.CompletedProcess[str]: ...


@pytest.fixture
def cli(winic_mock: MockService, tmp_path: Path) -> Cli:
    """Run the CLI with a private HOME/XDG tree and credentials from the environment."""
    env = cli_env(winic_mock.url, tmp_path, PWD)

    def run(
        *args: str, stdin: str | None = None, extra_env: dict[str, str] | None = None, drop: tuple[str, ...] = ()
    ) -> subprocess.CompletedProcess[str]:
        run_env = {**env, **(extra_env or {})}
        for key in drop:
            run_env.pop(key, None)
        result = subprocess.run(
            [sys.executable, "-m", "winic_soap", *args],
            input=stdin if stdin is not None else "",
            capture_output=True,
            text=True,
            env=run_env,
            timeout=60,
            check=False,
        )
        assert PWD not in result.stdout + result.stderr
        return result

    return run


def test_send_arguments_json_and_store(cli: Cli, winic_mock: MockService, tmp_path: Path) -> None:
    result = cli("send", "13800138000", "+86 139 0013 9000", "-m", "验证码 1234", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["operation"] == "SendMessages" and data["parts"] == 1
    assert data["submissions"][0]["recipients"] == ["13800138000", "13900139000"]
    assert data["submissions"][0]["message_id"] == winic_mock.state.sends[0].message_id
    assert (tmp_path / "state" / "winic-soap" / "inbox.sqlite3").is_file()


def test_send_numbers_from_file_and_stdin(cli: Cli, winic_mock: MockService, tmp_path: Path) -> None:
    numbers = tmp_path / "numbers.txt"
    numbers.write_text("13800138000\n# a comment\n13900139000, 13700137000\n", encoding="utf-8")
    assert cli("send", "-f", str(numbers), "-m", "from a file").returncode == 0
    assert cli("send", "-m", "from stdin", stdin="13600136000\n13500135000\n").returncode == 0
    assert cli("send", "-", "13400134000", "-m", "dash", stdin="13300133000").returncode == 0
    assert [s.recipients for s in winic_mock.state.sends] == [
        ("13800138000", "13900139000", "13700137000"),
        ("13600136000", "13500135000"),
        ("13400134000", "13300133000"),
    ]


def test_send_options(cli: Cli, winic_mock: MockService) -> None:
    assert cli("send", "13800138000", "-m", "ext", "--ext", "123").returncode == 0
    assert cli("send", "447911123456", "-m", "hi", "--international").returncode == 0
    assert cli("send", "13800138000", "-m", "later", "--at", "2099-01-02 03:04").returncode == 0
    sends = winic_mock.state.sends
    assert [s.operation for s in sends] == ["SendMessages_Ext", "SendInternationalMessages", "SendMessages"]
    assert sends[0].extno == "123" and sends[2].scheduled is not None


def test_bulk_send_shows_progress(cli: Cli, winic_mock: MockService) -> None:
    numbers = "\n".join(f"138{i:08d}" for i in range(250))
    result = cli("send", "-m", "bulk", "--progress", "--concurrency", "2", stdin=numbers)
    assert result.returncode == 0
    assert "3/3 [" in result.stderr and "req/s" in result.stderr and "in 3 request(s)" in result.stdout
    assert len(winic_mock.state.sends) == 3


def test_dry_run_sends_nothing(cli: Cli, winic_mock: MockService) -> None:
    result = cli("send", "13800138000", "13900139000", "-m", "字" * 100, "--dry-run", "--price", "0.05", "--json")
    data = json.loads(result.stdout)
    assert data == {
        "dry_run": True,
        "recipients": 2,
        "requests": 1,
        "parts": 2,
        "characters": 100,
        "encoding": "chars",  # a domestic send: the service's 70/67 characters rule
        "units": 100,
        "ucs2_because": [],
        "price": "0.05",
        "estimated_cost": "0.20",
        "balance": None,
        "fits": None,
        "text": "字" * 100,
    }
    assert winic_mock.ledger == []
    asked = cli("send", "13800138000", "-m", "字" * 100, "--dry-run")
    assert "parts        2 per recipient (107 characters with signature)" in asked.stdout
    assert [e.operation for e in winic_mock.ledger] == ["GetUserInfo"]


def test_account_replies_reports_call_ops(cli: Cli, winic_mock: MockService) -> None:
    assert cli("send", "13800138000", "-m", "hello").returncode == 0
    account = json.loads(cli("account", "--json").stdout)
    assert account["uid"] == "demo" and account["balance"] == "99.9000"
    assert "balance       99.9000" in cli("account").stdout
    winic_mock.add_reply("13800138000", "yes/ok", port="007")
    winic_mock.add_reply("13900139000", "other port", port="008")
    replies = json.loads(cli("replies", "--port", "007", "--json").stdout)
    assert [(r["mobile"], r["text"], r["port"]) for r in replies] == [("13800138000", "yes/ok", "007")]
    assert "other port" in cli("replies", "--ext").stdout
    reports = cli("reports").stdout
    assert "13800138000  DELIVRD  (hello)" in reports  # joined to the recorded send
    assert "nothing pending" in cli("reports").stdout
    answer = cli("call", "GetMessageInfo", f"snum={winic_mock.state.sends[0].message_id}", "--json")
    assert json.loads(answer.stdout)["answer"].startswith(winic_mock.state.sends[0].message_id)
    ops = cli("ops").stdout
    assert "SendMessages_Ext(uid, pwd, tos, msg, otime, extno)" in ops
    assert {o["name"] for o in json.loads(cli("ops", "--json").stdout)} >= {"GetUserInfo_", "RegineUser"}


def test_reports_interrupted_by_a_closed_pipe_stay_pending(cli: Cli, winic_mock: MockService, tmp_path: Path) -> None:
    # 2000 lines (~150 KB) do not fit in a pipe (64 KiB) plus what head reads at once (8 KiB): the CLI is still
    # writing when head exits, however late head runs. With 50, a loaded machine let them all into the pipe.
    total = 2000
    cli("send", *[f"138{i:08d}" for i in range(total)], "-m", "many")
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "WINIC_UID": "demo",
        "WINIC_PWD": PWD,
        "WINIC_ENDPOINT": winic_mock.url,
    }
    shown = subprocess.run(
        f"{sys.executable} -m winic_soap reports | head -n 3",
        shell=True,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert len(shown.stdout.splitlines()) == 3
    rest = cli("reports").stdout.splitlines()
    # what the closed pipe did not take is still there, once: at most ~1000 lines went into the pipe
    assert total - 1200 <= len(rest) < total and not set(rest) & set(shown.stdout.splitlines())
    assert all("DELIVRD" in line for line in rest)


def test_wsdl_refresh_and_diff(cli: Cli, winic_mock: MockService, tmp_path: Path) -> None:
    result = cli("wsdl", "refresh", "--json")
    data = json.loads(result.stdout)
    assert data["operations"] == 16 and data["diff"] == {"added": [], "removed": [], "changed": {}}
    cached = Path(data["path"])
    assert cached == tmp_path / "cache" / "winic-soap" / "Service.asmx.wsdl" and cached.is_file()
    assert "no differences" in cli("wsdl", "diff").stdout
    text = cached.read_text(encoding="utf-8")
    changed = re.sub(r'<wsdl:operation name="TelCall">.*?</wsdl:operation>', "", text, flags=re.S)
    changed = changed.replace('<s:element minOccurs="0" maxOccurs="1" name="isday" type="s:string" />', "")
    other = tmp_path / "other.wsdl"
    other.write_text(changed, encoding="utf-8")
    diff = cli("wsdl", "diff", str(other)).stdout
    assert "- TelCall" in diff and "~ GetMessageRecord" in diff
    assert cli("wsdl").returncode == 2


def test_transport_failure_exit_code(cli: Cli) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = cli("account", "--endpoint", f"http://127.0.0.1:{port}/Service.asmx", "--json")
    assert result.returncode == 7
    assert json.loads(result.stdout)["error"]["type"] == "ConnectError"


def test_outcome_unknown_is_explained(cli: Cli, winic_mock: MockService) -> None:
    winic_mock.fail("close_after")
    result = cli("send", "13800138000", "-m", "x", "--json")
    error = json.loads(result.stdout)["error"]
    assert error["type"] == "SendOutcomeUnknown" and error["recipients"] == ["13800138000"] and error["exit"] == 8
    assert len(winic_mock.state.sends) == 1


def test_missing_password_without_terminal_is_a_usage_error(cli: Cli) -> None:
    result = cli("account", drop=("WINIC_PWD",))
    assert result.returncode == 2 and "pwd missing" in result.stderr


def test_config_file_profiles(cli: Cli, winic_mock: MockService, tmp_path: Path) -> None:
    config = tmp_path / "config" / "winic-soap" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'uid = "nobody"\npwd = "x"\n[profiles.main]\nuid = "demo"\npwd = "{PWD}"\n', encoding="utf-8")
    assert cli("account", "--profile", "main", drop=("WINIC_UID", "WINIC_PWD")).returncode == 0
    refused = cli("account", drop=("WINIC_UID", "WINIC_PWD"))
    assert refused.returncode == 4 and "check the account and password" in refused.stderr  # says what to do


def test_password_prompt_on_a_terminal(winic_mock: MockService, tmp_path: Path) -> None:
    import fcntl
    import pty
    import termios
    import time

    master, slave = pty.openpty()

    def become_terminal_owner() -> None:
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path),
        "XDG_STATE_HOME": str(tmp_path),
        "WINIC_UID": "demo",
        "WINIC_ENDPOINT": winic_mock.url,
    }
    env.pop("WINIC_PWD", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "winic_soap", "account"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        preexec_fn=become_terminal_owner,  # noqa: PLW1509 - the only way to hand the child a controlling tty
        close_fds=True,
    )
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 30
    while b"password" not in seen and time.monotonic() < deadline:
        seen += os.read(master, 1024)
    os.write(master, PWD.encode() + b"\n")
    while True:  # read until the child closes the terminal
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    proc.wait(timeout=30)
    os.close(master)
    text = seen.decode("utf-8", "replace")
    assert proc.returncode == 0, text
    assert "winic password for demo:" in text and "balance" in text
    assert PWD not in text  # not echoed, not printed


def test_watch_stops_cleanly_on_sigterm(winic_mock: MockService, tmp_path: Path) -> None:
    import signal

    winic_mock.add_reply("13800138000", "before the stop")
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path),
        "XDG_STATE_HOME": str(tmp_path),
        "WINIC_UID": "demo",
        "WINIC_PWD": PWD,
        "WINIC_ENDPOINT": winic_mock.url,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "winic_soap", "watch", "--interval", "30"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # the first record, handed on as a JSON line
    assert json.loads(line)["text"] == "before the stop"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=20)  # not the 30 s interval: the wait is interrupted
    assert proc.returncode == 0, err
    assert "watching" in err and PWD not in out + err
