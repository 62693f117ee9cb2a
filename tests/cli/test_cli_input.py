"""``winic-soap send`` reads its input as an operator wrote it: invalid numbers are named by their line
(all of them, capped), ``--skip-invalid`` sends the rest and lists them, a file that is not UTF-8 is a
clear input error (exit 3) unless ``--encoding`` says how to read it, a missing file is a usage error
(exit 2), and none of it is ever a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers.shared import cli_env, run_cli

from winic_soap.mock import MockService

GOOD = [f"138{i:08d}" for i in range(5)]


def _no_traceback(result: object) -> None:
    assert "Traceback" not in getattr(result, "stderr", "")


def _file(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize("record", [True, False], ids=["journalled", "no-record"])
def test_invalid_numbers_are_named_by_line(winic_mock: MockService, tmp_path: Path, record: bool) -> None:
    numbers = _file(tmp_path, "n.txt", f"{GOOD[0]}\n12345\n# a comment\n{GOOD[1]}, abc\n\n010-1234567\n")
    extra = [] if record else ["--no-record"]
    result = run_cli(cli_env(winic_mock.url, tmp_path), "send", "-f", str(numbers), "-m", "hi", *extra)
    assert result.returncode == 3, result.stderr
    for where in (f"line 2 of {numbers} '12345'", f"line 4 of {numbers} 'abc'", f"line 6 of {numbers}"):
        assert where in result.stderr
    assert "3 of 5 invalid" in result.stderr
    _no_traceback(result)
    assert winic_mock.ledger == []


def test_many_invalid_numbers_are_capped_and_all_in_json(winic_mock: MockService, tmp_path: Path) -> None:
    numbers = _file(tmp_path, "n.txt", "".join(f"99{i}\n" for i in range(40)))
    env = cli_env(winic_mock.url, tmp_path)
    result = run_cli(env, "send", "-f", str(numbers), "-m", "hi")
    assert result.returncode == 3 and "... and 30 more" in result.stderr and "line 11 " not in result.stderr
    as_json = run_cli(env, "send", "-f", str(numbers), "-m", "hi", "--json")
    assert as_json.returncode == 3
    error = json.loads(as_json.stdout)["error"]
    assert error["type"] == "InputError" and error["exit"] == 3 and error["field"] == "numbers"
    assert winic_mock.ledger == []


def test_arguments_are_named_by_position(winic_mock: MockService, tmp_path: Path) -> None:
    result = run_cli(cli_env(winic_mock.url, tmp_path), "send", GOOD[0], "123", "abc", "-m", "hi")
    assert result.returncode == 3 and "argument 2 '123'" in result.stderr and "argument 3 'abc'" in result.stderr
    assert winic_mock.ledger == []


@pytest.mark.parametrize("record", [True, False], ids=["journalled", "no-record"])
def test_skip_invalid_sends_the_rest_and_lists_them(winic_mock: MockService, tmp_path: Path, record: bool) -> None:
    numbers = _file(tmp_path, "n.txt", f"{GOOD[0]}\n12345\n{GOOD[1]}\n１３８０００００００２\nabc\n{GOOD[0]}\n")
    env = cli_env(winic_mock.url, tmp_path)
    extra = [] if record else ["--no-record"]
    result = run_cli(env, "send", "-f", str(numbers), "-m", "hi", "--skip-invalid", *extra)
    assert result.returncode == 0, result.stderr
    assert "to 3 recipient(s)" in result.stdout and "skipped 2 invalid number(s):" in result.stdout
    assert f"line 2 of {numbers} '12345'" in result.stdout and f"line 5 of {numbers} 'abc'" in result.stdout
    assert [s.recipients for s in winic_mock.state.sends] == [(GOOD[0], GOOD[1], GOOD[2])]
    as_json = run_cli(env, "send", "-f", str(numbers), "-m", "hi again", "--skip-invalid", "--json", *extra)
    assert as_json.returncode == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    assert [(s["line"], s["value"]) for s in data["skipped"]] == [(2, "12345"), (5, "abc")]
    assert data["submissions"][0]["recipients"] == [GOOD[0], GOOD[1], GOOD[2]]
    assert all("mainland" in s["rule"] for s in data["skipped"])


def test_a_gbk_numbers_file(winic_mock: MockService, tmp_path: Path) -> None:
    numbers = _file(tmp_path, "gbk.txt", f"# 客户名单\n{GOOD[0]}  # 张三\n{GOOD[1]}\n", "gbk")
    env = cli_env(winic_mock.url, tmp_path)
    refused = run_cli(env, "send", "-f", str(numbers), "-m", "hi")
    assert refused.returncode == 3, refused.stderr
    assert f"line 1 of {numbers} is not utf-8" in refused.stderr and "--encoding" in refused.stderr
    _no_traceback(refused)
    assert winic_mock.ledger == []
    sent = run_cli(env, "send", "-f", str(numbers), "-m", "hi", "--encoding", "gbk")
    assert sent.returncode == 0, sent.stderr
    assert [s.recipients for s in winic_mock.state.sends] == [(GOOD[0], GOOD[1])]


def test_a_gbk_text_file_and_stdin(winic_mock: MockService, tmp_path: Path) -> None:
    text = _file(tmp_path, "text.txt", "您的验证码是 123456\n", "gbk")
    env = cli_env(winic_mock.url, tmp_path)
    refused = run_cli(env, "send", GOOD[0], "--text-file", str(text))
    assert refused.returncode == 3 and "--text-file" in refused.stderr and "not utf-8" in refused.stderr
    _no_traceback(refused)
    assert winic_mock.ledger == []
    sent = run_cli(env, "send", GOOD[0], "--text-file", str(text), "--encoding", "GBK")
    assert sent.returncode == 0, sent.stderr
    assert [m.text for m in winic_mock.state.sends] == ["您的验证码是 123456"]


def test_utf8_files_with_a_byte_order_mark_and_crlf(winic_mock: MockService, tmp_path: Path) -> None:
    numbers = _file(tmp_path, "bom.txt", f"\ufeff{GOOD[0]}\r\n{GOOD[1]}\r\n")
    text = _file(tmp_path, "text.txt", "\ufeff第一行\r\n第二行\r\n")
    result = run_cli(cli_env(winic_mock.url, tmp_path), "send", "-f", str(numbers), "--text-file", str(text))
    assert result.returncode == 0, result.stderr
    assert [(s.recipients, s.text) for s in winic_mock.state.sends] == [((GOOD[0], GOOD[1]), "第一行\r\n第二行")]


@pytest.mark.parametrize(
    "args",
    [
        ["-f", "{missing}", "-m", "hi"],
        [GOOD[0], "--text-file", "{missing}"],
        ["-f", "{dir}", "-m", "hi"],
        [GOOD[0], "-m", "hi", "--encoding", "klingon"],
    ],
    ids=["numbers file", "text file", "a directory", "unknown encoding"],
)
def test_files_that_cannot_be_read_are_usage_errors(winic_mock: MockService, tmp_path: Path, args: list[str]) -> None:
    argv = [a.format(missing=tmp_path / "nope.txt", dir=tmp_path) for a in args]
    result = run_cli(cli_env(winic_mock.url, tmp_path), "send", *argv)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: ") and len(result.stderr.splitlines()) == 1
    _no_traceback(result)
    assert winic_mock.ledger == []


def test_unicode_digits_in_a_file_are_one_recipient(winic_mock: MockService, tmp_path: Path) -> None:
    numbers = _file(tmp_path, "n.txt", f"{GOOD[0]}\n１３８０００００００{0}\n١٣٨٠٠٠٠٠٠٠١\n")
    result = run_cli(cli_env(winic_mock.url, tmp_path), "send", "-f", str(numbers), "-m", "a\x1bb")
    assert result.returncode == 3 and "control character" in result.stderr  # the text is checked too
    result = run_cli(cli_env(winic_mock.url, tmp_path), "send", "-f", str(numbers), "-m", "hi")
    assert result.returncode == 0, result.stderr
    assert [s.recipients for s in winic_mock.state.sends] == [(GOOD[0], GOOD[1])]
