"""Opt-out: replies that opt out put their number on the store's suppression list as they are committed,
opt-in replies take it off, and sends through a client with a store (or the journal) leave listed numbers
out before the wire. Against the mock over real sockets, on both backends; the CLI's ``suppress`` and
``send`` as an operator runs them."""

from __future__ import annotations

import asyncio
import json
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from helpers.shared import MakeClient, cli_env, run_cli

from winic_soap import AsyncWinicClient, ConfigurationError, InputError, Settings, StoreError, WinicClient
from winic_soap.mock import MockService
from winic_soap.models import Reply, SendReceipt
from winic_soap.recipients import Numbers
from winic_soap.store import Store, open_store
from winic_soap.store.suppression import Keywords, screen
from winic_soap.watcher import Watcher

NUMBERS = [f"138{i:08d}" for i in range(250)]
OPTED = NUMBERS[137]
T0 = datetime(2026, 5, 1, 9, 0)


def sent(mock: MockService) -> list[str]:
    """Every number any send request carried to the service (processed or not)."""
    return [n for e in mock.ledger if e.operation.startswith("Send") for n in (e.params.get("tos") or "").split(",")]


def pull_replies(client: WinicClient, store: Store) -> None:
    store.commit_pulled("GET_SMS_MO", client.replies(), endpoint=client.settings.endpoint, uid=client.settings.uid)


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        ("退订", True),
        ("  退订\n", True),
        ("退訂", True),
        ("TD", True),
        ("td", True),
        ("ＴＤ", True),  # full width, as Chinese keyboards type it
        ("Ｓｔｏｐ", True),
        ("\u3000N\u3000", True),  # ideographic spaces trimmed
        ("r", True),
        ("订阅", False),
        ("start", False),
        ("退订了吗", None),
        ("stop please", None),
        ("好的", None),
        ("", None),
    ],
)
def test_which_replies_opt_out_or_back_in(text: str, verdict: bool | None) -> None:
    assert Keywords.of().classify(text) is verdict


def test_keywords_are_configurable_and_a_word_cannot_be_both() -> None:
    keywords = Keywords.of(["取消"], ["恢复"])
    assert (
        keywords.classify("取消") is True and keywords.classify("退订") is None and keywords.classify("恢复") is False
    )
    with pytest.raises(InputError, match="both opt out and opt in"):
        Keywords.of(["STOP"], ["stop"])


def test_keyword_settings_come_from_the_toml_file_and_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('opt_out_keywords = ["退订", "TD"]\nintermediate_statuses = ["ENROUTE"]\n', encoding="utf-8")
    settings = Settings.load(config=config, env={"WINIC_OPT_IN_KEYWORDS": "订阅, START"})
    assert settings.opt_out_keywords == ("退订", "TD") and settings.opt_in_keywords == ("订阅", "START")
    assert settings.intermediate_statuses == ("ENROUTE",) and Settings().opt_out_keywords is None  # None: defaults
    config.write_text("opt_out_keywords = 3\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="opt_out_keywords must be a list of strings"):
        Settings.load(config=config, env={})


def test_an_opt_out_reply_keeps_its_number_out_of_a_bulk_send(
    store_url: str, make_client: MakeClient, winic_mock: MockService
) -> None:
    winic_mock.add_reply("+86 " + OPTED, "退订", at=T0)
    winic_mock.add_reply(NUMBERS[1], "好的", at=T0)
    with open_store(store_url) as store:
        client = make_client(store=store)
        pull_replies(client, store)
        [reply] = [r for r in store.records(None, kind="reply") if r.data["text"] == "退订"]
        receipt = client.send(NUMBERS, "促销：全场八折 回T退订", concurrency=2)
        assert [s.mobile for s in receipt.suppressed] == [OPTED]
        why = receipt.suppressed[0]
        assert (why.source, why.text, why.record_id) == ("reply", "退订", reply.id)
        assert datetime.fromisoformat(why.at) == T0.replace(
            tzinfo=datetime.fromisoformat("2026-01-01T00:00+08:00").tzinfo
        )
        assert "退订" in why.reason and reply.id in why.reason
        assert OPTED not in receipt.recipients and len(receipt.recipients) == 249
        assert OPTED not in sent(winic_mock) and len(sent(winic_mock)) == 249
        assert [len(s.recipients) for s in receipt.submissions] == [100, 100, 49]

        login = client.send([OPTED], "验证码 123456", ignore_suppression=True)  # the person asked for it
        assert login.recipients == (OPTED,) and login.suppressed == ()
        assert sent(winic_mock).count(OPTED) == 1


def test_replies_the_watcher_commits_change_the_list_and_reports_hand_on_settled(
    store_url: str, make_client: MakeClient, winic_mock: MockService
) -> None:
    handed: list[dict[str, object]] = []
    with open_store(store_url) as store:
        client = make_client(store=store)
        client.send([NUMBERS[0]], "通知")  # its DELIVRD report comes with the pull
        winic_mock.add_reply(OPTED, "退订", at=T0)
        Watcher(client, store, handler=lambda record: handed.append(record.as_dict())).poll_once()
        assert [e.mobile for e in store.suppression.entries()] == [OPTED]
        assert client.send([OPTED, NUMBERS[1]], "通知").recipients == (NUMBERS[1],)
    assert sorted((h["kind"], h.get("settled")) for h in handed) == [("reply", None), ("report", "DELIVRD")]


def test_an_opt_in_reply_takes_the_number_off_and_an_older_opt_out_cannot_put_it_back(
    store_url: str, make_client: MakeClient, winic_mock: MockService
) -> None:
    winic_mock.add_reply(OPTED, "ＴＤ", at=T0)
    with open_store(store_url) as store:
        client = make_client(store=store)
        pull_replies(client, store)
        assert [e.mobile for e in store.suppression.entries()] == [OPTED]
        winic_mock.add_reply(OPTED, "订阅", at=T0 + timedelta(hours=1))
        pull_replies(client, store)
        assert store.suppression.entries() == []
        assert [e.text for e in store.suppression.entries(cleared=True)] == ["订阅"]
        # the older opt-out arriving again (a replayed or late pull) does not undo the newer opt-in
        store.commit_pulled("GET_SMS_MO", [Reply(OPTED, "ＴＤ", "001", T0)])
        assert store.suppression.entries() == []
        receipt = client.send([OPTED, NUMBERS[0]], "通知")
        assert receipt.suppressed == () and sent(winic_mock) == [OPTED, NUMBERS[0]]


def test_an_operator_change_applies_whatever_the_services_clock_says(store_url: str) -> None:
    ahead = datetime.now() + timedelta(days=1)  # the service's clock far ahead of ours
    with open_store(store_url) as store:
        store.commit_pulled("GET_SMS_MO", [Reply(OPTED, "退订", "001", ahead)])
        assert store.suppression.remove([OPTED], note="asked again by phone") == [OPTED]
        assert store.suppression.check([OPTED]) == {}
        store.commit_pulled("GET_SMS_MO", [Reply(OPTED, "退订", "001", ahead)])  # that reply again: not newer
        assert store.suppression.check([OPTED]) == {}
        store.commit_pulled("GET_SMS_MO", [Reply(OPTED, "TD", "001", ahead + timedelta(minutes=1))])  # a new one
        assert list(store.suppression.check([OPTED])) == [OPTED]


def test_every_number_suppressed_sends_nothing(
    store_url: str, make_client: MakeClient, winic_mock: MockService
) -> None:
    with open_store(store_url) as store:
        store.suppression.add(["+86 138-0000-0001", NUMBERS[2]], note="complaint by phone")
        receipt = make_client(store=store).send(NUMBERS[1:3], "通知")
    assert receipt.submissions == () and receipt.recipients == ()
    assert [(s.mobile, s.source, s.text) for s in receipt.suppressed] == [
        (NUMBERS[1], "manual", "complaint by phone"),
        (NUMBERS[2], "manual", "complaint by phone"),
    ]
    assert winic_mock.ledger == []


def test_a_list_longer_than_the_send_is_probed_by_number(
    store_url: str, make_client: MakeClient, winic_mock: MockService
) -> None:
    with open_store(store_url) as store:
        store.suppression.add(NUMBERS[:200], source="import")
        store.suppression.remove(NUMBERS[:1])  # taken off: not listed any more
        receipt = make_client(store=store).send([NUMBERS[0], NUMBERS[150], NUMBERS[220]], "通知")
    assert [s.mobile for s in receipt.suppressed] == [NUMBERS[150]] and receipt.suppressed[0].source == "import"
    assert sent(winic_mock) == [NUMBERS[0], NUMBERS[220]]


def test_a_bulk_plan_stays_compact_when_numbers_are_left_out(tmp_path: Path, make_client: MakeClient) -> None:
    many = [f"13{3 + i % 7}{i:08d}" for i in range(60_000)]  # beyond 50,000 the plan keeps numbers as integers
    with open_store(f"sqlite:///{tmp_path / 'store.sqlite3'}") as store:
        store.suppression.add([many[7], many[59_999]])
        plan = make_client().plan_send(many, "通知")
        screen(store, plan)
    assert [s.mobile for s in plan.suppressed] == sorted([many[7], many[59_999]])
    kept = plan.recipients()
    assert isinstance(kept, Numbers) and len(kept) == 59_998 and list(kept) == many[:7] + many[8:59_999]
    assert len(plan.batches) == 600 and plan.batches[0] == many[:7] + many[8:101]


@pytest.mark.parametrize(
    "candidates", [["13800000001", "13800000003"], [f"139{i:08d}" for i in range(9)] + ["13800000003"]]
)
def test_compact_numbers_find_candidates_either_way_round(candidates: list[str]) -> None:
    from array import array

    numbers = Numbers(array("Q", [13800000001, 13800000002, 13800000003]), international=False)
    assert numbers.among(candidates) == {c for c in candidates if c.startswith("138")}
    assert list(numbers.without(set(candidates))) == (
        ["13800000002"] if len(candidates) == 2 else ["13800000001", "13800000002"]
    )


def test_the_store_down_sends_nothing_unchecked(
    tmp_path: Path, make_client: MakeClient, winic_mock: MockService
) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    client = make_client(store=store)
    store.close()
    with pytest.raises(StoreError):
        client.send(NUMBERS[:3], "通知")
    assert winic_mock.ledger == []
    receipt = client.send(NUMBERS[:1], "验证码 1", ignore_suppression=True)  # no list needed for it
    assert receipt.recipients == (NUMBERS[0],)


def test_the_async_client_with_the_store_down_sends_nothing(tmp_path: Path, winic_mock: MockService) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    store.close()

    async def main() -> None:
        async with AsyncWinicClient("demo", "demo-secret", endpoint=winic_mock.url, store=store) as client:
            with pytest.raises(StoreError):
                await client.send(NUMBERS[:3], "通知")

    asyncio.run(main())
    assert winic_mock.ledger == []


def test_a_store_url_given_to_a_client_is_only_the_setting(
    tmp_path: Path, make_client: MakeClient, winic_mock: MockService
) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    with open_store(url) as store:
        store.suppression.add([OPTED])
    client = make_client(store=url)  # the `store` setting, as before: nothing opened, nothing checked
    assert client.settings.store == url
    assert client.send([OPTED], "通知").recipients == (OPTED,) and sent(winic_mock) == [OPTED]


def test_journalled_sends_leave_listed_numbers_out_and_a_replay_answers_the_same(
    store_url: str, make_client: MakeClient, winic_mock: MockService
) -> None:
    winic_mock.add_reply(OPTED, "STOP", at=T0)
    with open_store(store_url) as store:
        client = make_client()  # no store of its own: the journal's is checked
        pull_replies(client, store)
        receipt = store.journal.send(client, NUMBERS, "促销", job="promo-1", concurrency=3)
        assert [s.mobile for s in receipt.suppressed] == [OPTED] and OPTED not in sent(winic_mock)
        assert (summary := store.job("promo-1")) is not None and sum(summary.recipients.values()) == 249
        winic_mock.add_reply(OPTED, "START", at=T0 + timedelta(days=1))
        pull_replies(client, store)
        again = store.journal.send(client, NUMBERS, "促销", job="promo-1")  # a redelivered task: the same send
        assert again.message_ids == receipt.message_ids and again.suppressed == receipt.suppressed
        assert len(sent(winic_mock)) == 249  # nothing sent twice, the opted-out number still not sent to
        asked = store.journal.send(client, [NUMBERS[5]], "验证码 42", job="code-1", ignore_suppression=True)
        assert asked.recipients == (NUMBERS[5],)


def test_resume_leaves_out_numbers_listed_since_the_job_was_written(
    store_url: str, make_client: MakeClient, winic_mock: MockService
) -> None:
    batches = [[NUMBERS[0]], NUMBERS[1:101], NUMBERS[101:120]]
    with open_store(store_url) as store:
        job = store.create_job("SendMessages", "通知", batches, job_id="later-1")
        winic_mock.add_reply(NUMBERS[0], "退订", at=T0)  # batch 0 entirely
        winic_mock.add_reply(NUMBERS[50], "TD", at=T0)
        client = make_client()
        pull_replies(client, store)
        receipt = store.journal.resume(client, job)
        assert [s.mobile for s in receipt.suppressed] == [NUMBERS[0], NUMBERS[50]]
        assert NUMBERS[0] not in sent(winic_mock) and NUMBERS[50] not in sent(winic_mock)
        assert len(sent(winic_mock)) == 118 and len(receipt.recipients) == 118
        assert [(b.index, len(b.numbers), b.state) for b in store.batches(job)] == [
            (1, 99, "accepted"),
            (2, 19, "accepted"),
        ]
        assert (summary := store.job(job)) is not None and summary.recipients["accepted"] == 118
        again = store.journal.send(client, NUMBERS[:120], "通知", job=job)  # a replay still matches the job
        assert again.message_ids == receipt.message_ids and again.suppressed == receipt.suppressed
        assert len(sent(winic_mock)) == 118


def test_resume_may_ignore_the_list(store_url: str, make_client: MakeClient, winic_mock: MockService) -> None:
    with open_store(store_url) as store:
        job = store.create_job("SendMessages", "验证码 5", [[OPTED]])
        store.suppression.add([OPTED])
        receipt = store.journal.resume(make_client(), job, ignore_suppression=True)
    assert receipt.recipients == (OPTED,) and receipt.suppressed == () and sent(winic_mock) == [OPTED]


def test_the_async_client_checks_the_list_too(store_url: str, winic_mock: MockService) -> None:
    async def main() -> tuple[SendReceipt, SendReceipt]:
        with open_store(store_url) as store:
            store.suppression.add([OPTED])
            async with AsyncWinicClient("demo", "demo-secret", endpoint=winic_mock.url, store=store) as client:
                left_out = await client.send([OPTED, NUMBERS[0]], "通知")
                asked = await client.send([OPTED], "验证码 7", ignore_suppression=True)
        return left_out, asked

    left_out, asked = asyncio.run(main())
    assert [s.mobile for s in left_out.suppressed] == [OPTED]
    assert asked.recipients == (OPTED,)
    assert sent(winic_mock) == [NUMBERS[0], OPTED]


def test_ignore_suppression_must_be_a_bool(make_client: MakeClient, winic_mock: MockService) -> None:
    with pytest.raises(InputError, match="ignore_suppression"):
        make_client().send([OPTED], "x", ignore_suppression="yes")  # type: ignore[arg-type]  # the wrong type is the test
    assert winic_mock.ledger == []


def test_bad_numbers_for_the_list_name_the_field(store_url: str) -> None:
    with open_store(store_url) as store, pytest.raises(InputError, match=r"numbers\[1\]"):
        store.suppression.add([OPTED, "12345"])


# -- the command line -----------------------------------------------------------------------------
class Cli:
    """``winic-soap ARGS`` on the test's mock and a SQLite store; no run may show the password."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def __call__(
        self, *args: str, stdin: str = "", extra_env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = run_cli({**self.env, **(extra_env or {})}, *args, stdin=stdin)
        assert "demo-secret" not in result.stdout + result.stderr
        return result


@pytest.fixture
def cli(winic_mock: MockService, tmp_path: Path) -> Cli:
    return Cli({**cli_env(winic_mock.url, tmp_path), "WINIC_STORE": f"sqlite:///{tmp_path / 'store.sqlite3'}"})


def test_cli_pulled_opt_out_then_send_names_it_and_suppress_manages_the_list(
    cli: Cli, winic_mock: MockService, tmp_path: Path
) -> None:
    winic_mock.add_reply(OPTED, "退订", at=T0)
    assert cli("replies").returncode == 0  # the CLI's pull commits the reply: the list follows
    listed = cli("suppress", "list", "--json")
    assert [(e["mobile"], e["source"], e["text"]) for e in json.loads(listed.stdout)] == [(OPTED, "reply", "退订")]

    result = cli("send", OPTED, NUMBERS[0], "-m", "促销")
    assert result.returncode == 0, result.stderr
    assert "not sent to 1 number(s) on the suppression list" in result.stdout and OPTED in result.stdout
    assert "退订" in result.stdout and sent(winic_mock) == [NUMBERS[0]]
    as_json = json.loads(cli("send", OPTED, NUMBERS[1], "-m", "促销", "--json", "--no-record").stdout)
    assert [s["mobile"] for s in as_json["suppressed"]] == [OPTED] and sent(winic_mock)[-1] == NUMBERS[1]
    job = result.stderr.split("job ", 1)[1].split()[0]
    assert f"suppressed   1 number(s) not sent to (opted out): {OPTED}" in cli("jobs", "show", job).stdout
    asked = cli("send", OPTED, "-m", "验证码 9", "--ignore-suppression", "--json")
    assert json.loads(asked.stdout)["suppressed"] == [] and sent(winic_mock)[-1] == OPTED

    assert json.loads(cli("suppress", "remove", OPTED, "--json").stdout) == {"cleared": [OPTED]}
    assert cli("suppress", "list").stdout.strip() == "no suppressed numbers"
    assert json.loads(cli("suppress", "add", "+86 139 0000 0000", "--note", "asked by phone", "--json").stdout) == {
        "suppressed": ["13900000000"]
    }
    (tmp_path / "list.csv").write_text("mobile,name\n13700000001,A\n# a comment\n13700000002,B\n", encoding="utf-8")
    assert cli("suppress", "import", str(tmp_path / "list.csv")).returncode == 0
    assert cli("suppress", "import", "-", stdin="13700000003\n").returncode == 0
    rows = json.loads(cli("suppress", "list", "--json").stdout)
    assert [(r["mobile"], r["source"]) for r in rows] == [
        ("13700000001", "import"),
        ("13700000002", "import"),
        ("13700000003", "import"),
        ("13900000000", "manual"),
    ]
    bad = cli("suppress", "add", "12345")
    assert bad.returncode != 0 and "numbers[0]" in bad.stderr


def test_cli_import_names_every_bad_line_and_reads_the_files_send_reads(cli: Cli, tmp_path: Path) -> None:
    listed = tmp_path / "list.txt"
    listed.write_text("mobile\n13700000001\nfoo\n\n12345 # typo\n", encoding="utf-8")
    bad = cli("suppress", "import", str(listed))
    assert bad.returncode == 3 and "Traceback" not in bad.stderr
    assert f"line 3 of {listed} 'foo'" in bad.stderr and f"line 5 of {listed} '12345'" in bad.stderr
    assert json.loads(cli("suppress", "list", "--json").stdout) == []  # nothing listed from a file with errors

    gbk = tmp_path / "gbk.txt"
    gbk.write_bytes("手机\n13700000002\n".encode("gbk"))
    refused = cli("suppress", "import", str(gbk))
    assert refused.returncode == 3 and "Traceback" not in refused.stderr
    assert f"line 1 of {gbk} is not utf-8" in refused.stderr and "--encoding" in refused.stderr
    assert cli("suppress", "import", str(gbk), "--encoding", "gbk").returncode == 0
    assert [r["mobile"] for r in json.loads(cli("suppress", "list", "--json").stdout)] == ["13700000002"]

    missing = cli("suppress", "import", str(tmp_path / "missing.txt"))
    assert missing.returncode == 2 and "cannot open" in missing.stderr and "Traceback" not in missing.stderr


def test_cli_opt_out_keywords_come_from_the_environment(cli: Cli, winic_mock: MockService) -> None:
    winic_mock.add_reply(OPTED, "不要再发", at=T0)
    winic_mock.add_reply(NUMBERS[0], "退订", at=T0)
    assert cli("replies", extra_env={"WINIC_OPT_OUT_KEYWORDS": "不要再发,STOP"}).returncode == 0
    assert [e["mobile"] for e in json.loads(cli("suppress", "list", "--json").stdout)] == [OPTED]
