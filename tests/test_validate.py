"""--validate, end to end: planted pairs of every kind, the real SDK, the local emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from gitrepo import Repo, credentials
from helpers import RunCli, subprocess_env, write
from keys import new_key, random_id, random_secret, random_sts_id, random_token

from akscan.emulator import EmulatedKey, Emulator
from akscan.errors import AkscanError
from akscan.model import sha256_hex
from akscan.validate import outcome
from akscan.validate.options import parse_endpoint

pytest.importorskip("alibabacloud_sts20150401", reason="needs akscan[validate]")

NOW = datetime.now(timezone.utc)


def _ago(days: int) -> str:
    return (NOW - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Planted:
    """One credential written to a file, and what validation must say about it."""

    key_id: str | None
    secret: str | None
    status: str
    reason: str  # a part of the expected reason
    flags: tuple[str, ...] = ()
    token: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # other expected validation fields


@dataclass
class World:
    emulator: Emulator
    root: Path
    planted: dict[str, Planted]

    @property
    def url(self) -> str:
        return self.emulator.url

    def calls(self, name: str) -> int:
        key_id = self.planted[name].key_id
        return sum(1 for k, action in self.emulator.service.calls
                   if k == key_id and action == "GetCallerIdentity")


def _emulated(world: dict[str, Planted], name: str, **behaviour: Any) -> EmulatedKey:
    planted = world[name]
    assert planted.key_id and planted.secret
    behaviour.setdefault("created", _ago(30))
    return EmulatedKey(planted.key_id, behaviour.pop("secret", planted.secret), **behaviour)


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """The emulator with keys of every kind, and a folder with one file per planted pair."""
    monkeypatch.delenv("AKSCAN_VALIDATE_ENDPOINT", raising=False)
    sts_id, sts_secret = random_sts_id(), random_token(44)
    token = "CAIS" + "".join(random_token(40) for _ in range(4))  # each chunk varied enough
    planted = {
        "live-old": Planted(*new_key(), "live", "unused for over 90 days",
                            ("older-than-90-days", "unused-over-90-days"),
                            extra={"age_days": 400, "key_status": "Active", "user_name": "ci",
                                   "account_id": "5550001112223334"}),
        "live-fresh": Planted(*new_key(), "live", "created", (), extra={"age_days": 10}),
        "live-no-ram": Planted(*new_key(), "live", "may not call ram:ListAccessKeys, "
                               "ram:GetAccessKeyLastUsed", ("details-not-permitted",),
                               extra={"age_days": None, "last_used": None}),
        "root": Planted(*new_key(), "live", "root key", ("root-account-key",),
                        extra={"arn": "acs:ram::5550001112223334:root", "user_name": None}),
        "sts": Planted(sts_id, sts_secret, "live", "assumed-role/uploader/", token=token),
        "disabled": Planted(*new_key(), "inactive", "InvalidAccessKeyId.Inactive"),
        "throttled-then-ok": Planted(*new_key(), "live", "authenticates as"),
        "throttled-always": Planted(*new_key(), "unknown", "throttled (Throttling.User)"),
        "error-500": Planted(*new_key(), "unknown", "HTTP 500, InternalError"),
        "error-503": Planted(*new_key(), "unknown", "HTTP 503, ServiceUnavailable"),
        "slow": Planted(*new_key(), "unknown", "timeout"),
        "wrong-secret": Planted(*new_key(), "invalid", "wrong secret"),
        "unknown-id": Planted(*new_key(), "invalid", "unknown AccessKey ID"),
        "id-only": Planted(random_id(), None, "unverifiable", "no AccessKey secret found"),
        "secret-only": Planted(None, random_secret(), "unverifiable", "no AccessKey ID found"),
    }
    keys = [
        _emulated(planted, "live-old", account_id="5550001112223334", user_name="ci",
                  created=_ago(400), last_used=_ago(200)),
        _emulated(planted, "live-fresh", created=_ago(10), last_used=_ago(1)),
        _emulated(planted, "live-no-ram", ram=False),
        _emulated(planted, "root", account_id="5550001112223334", user_name=None),
        _emulated(planted, "sts", user_name="uploader", security_token=token),
        _emulated(planted, "disabled", status="Inactive"),
        _emulated(planted, "throttled-then-ok", throttle_n=2),
        _emulated(planted, "throttled-always", throttle_n=10_000),
        _emulated(planted, "error-500", error_500=True),
        _emulated(planted, "error-503", error_503=True),
        _emulated(planted, "slow", slow=3.0),
        _emulated(planted, "wrong-secret", secret=random_secret()),
    ]
    root = tmp_path / "planted"
    for name, p in planted.items():
        if name == "sts":
            write(root / "sts.json", json.dumps({"Credentials": {
                "AccessKeyId": p.key_id, "AccessKeySecret": p.secret, "SecurityToken": p.token,
                "Expiration": "2030-01-01T00:00:00Z"}}, indent=2) + "\n")
            continue
        lines = []
        if p.key_id:
            lines.append(f"ALIBABA_CLOUD_ACCESS_KEY_ID={p.key_id}")
        if p.secret:
            lines.append(f"ALIBABA_CLOUD_ACCESS_KEY_SECRET={p.secret}")
        write(root / f"{name}.env", "\n".join(lines) + "\n")
    # The same live pair in a second place: validated once all the same.
    write(root / "copy" / "live-old.env", (root / "live-old.env").read_text())
    with Emulator(keys) as emu:
        yield World(emu, root, planted)


def _scan(run_cli: RunCli, world: World, *args: str, fmt: str = "json") -> tuple[int, str, str]:
    code, out, err = run_cli(["scan", "--validate", "--validate-endpoint", world.url,
                              "--validate-timeout", "1", "--format", fmt, *args])
    assert "Traceback" not in err, err
    return code, out, err


def _verdicts(findings: list[dict[str, Any]], value: str) -> list[dict[str, Any]]:
    return [f["validation"] for f in findings if f["secret_sha256"] == sha256_hex(value)]


def test_every_planted_pair_is_classified(run_cli: RunCli, world: World) -> None:
    started = time.monotonic()
    code, out, err = _scan(run_cli, world, str(world.root))
    elapsed = time.monotonic() - started
    assert code == 1
    findings = json.loads(out)["findings"]
    table = {}
    for name, p in world.planted.items():
        halves = [v for v in (p.key_id, p.secret, p.token) if v]
        verdicts = [v for value in halves for v in _verdicts(findings, value)]
        assert verdicts, f"{name}: not found"
        table[name] = {v["status"] for v in verdicts}
        for v in verdicts:  # both halves of the pair (and the token) carry the verdict
            assert v["status"] == p.status, (name, v)
            assert p.reason in v["reason"], (name, v["reason"])
            assert tuple(v["flags"]) == p.flags, (name, v["flags"])
            for key, expected in p.extra.items():
                assert v[key] == expected, (name, key, v)
    assert all(len(s) == 1 for s in table.values()), table
    live = _verdicts(findings, world.planted["live-old"].key_id or "")[0]
    assert live["arn"] == "acs:ram::5550001112223334:user/ci"
    assert live["created"] == _ago(400) and live["last_used"] == _ago(200)
    # Each distinct pair is asked about once, though the live pair is in two files; throttled
    # calls are retried (twice, then live; three times, then given up).
    assert world.calls("live-old") == 1
    assert world.calls("throttled-then-ok") == 3
    assert world.calls("throttled-always") == 4
    assert world.calls("slow") == 1
    for p in world.planted.values():
        for secret in (p.secret, p.token):
            assert not secret or (secret not in out and secret not in err)
    assert "validated 14 AccessKey ID(s): 6 live, 1 inactive, 2 invalid, 1 unverifiable, " \
           "4 unknown" in err
    assert elapsed < 10  # the slow key costs one timeout, not the scan


def test_an_id_with_a_wrong_and_a_right_secret_is_live(
    run_cli: RunCli, world: World, tmp_path: Path
) -> None:
    live = world.planted["live-fresh"]
    wrong = random_secret()
    write(tmp_path / "two" / "app.env",
          f"ALIBABA_CLOUD_ACCESS_KEY_SECRET={wrong}\nALIBABA_CLOUD_ACCESS_KEY_ID={live.key_id}\n"
          f"ALIBABA_CLOUD_ACCESS_KEY_SECRET={live.secret}\n")
    code, out, _ = _scan(run_cli, world, str(tmp_path / "two"))
    assert code == 1
    findings = json.loads(out)["findings"]
    assert [v["status"] for v in _verdicts(findings, live.key_id or "")] == ["live"]
    assert [v["status"] for v in _verdicts(findings, live.secret or "")] == ["live"]
    assert [v["status"] for v in _verdicts(findings, wrong)] == ["invalid"]


def test_text_report_has_one_block_per_pair_live_first_with_its_verdict(
    run_cli: RunCli, world: World
) -> None:
    code, out, err = _scan(run_cli, world, str(world.root / "wrong-secret.env"),
                           str(world.root / "live-old.env"), fmt="text")
    assert code == 1
    live, invalid, advice = out.split("\n\n")
    assert live.startswith("LIVE AccessKey pair ")
    assert "validation: LIVE: it authenticates as acs:ram::5550001112223334:user/ci" in live
    assert "owner: acs:ram::5550001112223334:user/ci (account 5550001112223334)" in live
    assert "flags: older-than-90-days, unused-over-90-days" in live
    assert live.count("live-old.env:") == 2
    assert invalid.startswith("INVALID AccessKey pair ")
    assert "validation: INVALID: wrong secret" in invalid
    assert advice.startswith("What to do about a leaked AccessKey")
    for name in ("live-old", "wrong-secret"):
        assert (world.planted[name].secret or "?") not in out + err


def test_results_live_shows_only_live_credentials(run_cli: RunCli, world: World) -> None:
    code, out, err = _scan(run_cli, world, "--results", "live", str(world.root))
    assert code == 1
    findings = json.loads(out)["findings"]
    assert findings and {f["validation"]["status"] for f in findings} == {"live"}
    names = {n for n, p in world.planted.items() if p.status == "live"}
    shown = {f["secret_sha256"] for f in findings}
    for name, p in world.planted.items():
        assert (sha256_hex(p.key_id or p.secret or "") in shown) == (name in names), name
    assert "not in --results" in err
    code, out, _ = _scan(run_cli, world, "--results", "inactive,invalid", str(world.root))
    statuses = {f["validation"]["status"] for f in json.loads(out)["findings"]}
    assert statuses == {"inactive", "invalid"}


def test_results_without_validate_is_a_usage_error(run_cli: RunCli, world: World) -> None:
    code, out, err = run_cli(["scan", "--results", "live", str(world.root)])
    assert (code, out) == (2, "")
    assert "--results needs --validate" in err
    code, _, err = run_cli(["scan", "--results", "alive", str(world.root)])
    assert code == 2 and "alive: expected a comma-separated list" in err


def test_validate_suppressed_reports_a_baselined_key_that_is_live(
    run_cli: RunCli, world: World, tmp_path: Path
) -> None:
    target = str(world.root / "live-fresh.env")
    baseline = tmp_path / "baseline.json"
    assert run_cli(["baseline", "-o", str(baseline), target])[0] == 0
    code, out, _ = _scan(run_cli, world, "--baseline", str(baseline), target)
    assert code == 0 and json.loads(out)["findings"] == []
    code, out, _ = _scan(run_cli, world, "--baseline", str(baseline), "--validate-suppressed",
                         target)
    assert code == 1
    findings = json.loads(out)["findings"]
    assert len(findings) == 2
    for found in findings:
        assert found["suppressed"] is None
        assert found["validation"]["status"] == "live"
        assert "it was suppressed (baseline) but works" in found["validation"]["reason"]


def test_sarif_marks_a_live_key_critical_with_what_to_do(
    run_cli: RunCli, world: World, validate: Any
) -> None:
    code, out, _ = _scan(run_cli, world, str(world.root / "live-old.env"),
                         str(world.root / "unknown-id.env"), fmt="sarif")
    assert code == 1
    log = json.loads(out)
    validate(log)
    results = log["runs"][0]["results"]
    live = [r for r in results if r["properties"]["validation"]["status"] == "live"]
    other = [r for r in results if r["properties"]["validation"]["status"] != "live"]
    assert len(live) == 2 and len(other) == 2
    for result in live:
        assert result["level"] == "error"
        assert result["properties"]["security-severity"] == "10.0"
        assert "LIVE" in result["message"]["text"]
        assert "Disable and rotate it now" in result["message"]["text"]
    for result in other:
        assert "security-severity" not in result["properties"]
        assert "validation: invalid" in result["message"]["text"]
    assert (world.planted["live-old"].secret or "?") not in out


@pytest.mark.parametrize(("names", "expected"), [
    (["live-fresh", "unknown-id"], 1),
    (["unknown-id", "wrong-secret", "disabled", "id-only"], 0),
    (["error-500", "unknown-id"], 2),  # cannot rule out a live key
])
def test_fail_on_live_exits_1_only_for_a_live_key(
    run_cli: RunCli, world: World, names: list[str], expected: int
) -> None:
    paths = [str(world.root / f"{name}.env") for name in names]
    code, _, err = _scan(run_cli, world, "--fail-on", "live", *paths)
    assert code == expected, err
    default, _, _ = _scan(run_cli, world, *paths)
    assert default == 1  # any credential found, as without --fail-on


def test_fail_on_live_needs_validate(run_cli: RunCli, world: World) -> None:
    code, out, err = run_cli(["scan", "--fail-on", "live", str(world.root)])
    assert code == 2 and out == ""
    assert err.strip() == "akscan: error: --fail-on live needs --validate"


def test_endpoint_from_the_environment(
    run_cli: RunCli, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AKSCAN_VALIDATE_ENDPOINT", world.url)
    code, out, _ = run_cli(["scan", "--validate", "--format", "json",
                            str(world.root / "live-fresh.env")])
    assert code == 1
    assert {f["validation"]["status"] for f in json.loads(out)["findings"]} == {"live"}


def test_proxy_variables_are_not_used_for_a_loopback_endpoint(
    run_cli: RunCli, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Through this proxy the network guard would refuse the connection and the key be unknown.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, "http://203.0.113.9:3128")
    code, out, _ = _scan(run_cli, world, str(world.root / "live-fresh.env"))
    assert code == 1
    assert {f["validation"]["status"] for f in json.loads(out)["findings"]} == {"live"}
    assert os.environ["HTTPS_PROXY"] == "http://203.0.113.9:3128"  # and put back afterwards


def test_an_endpoint_that_does_not_answer_is_unknown(run_cli: RunCli, world: World) -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on once this closes
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code, out, err = run_cli(["scan", "--validate", "--validate-endpoint",
                              f"http://127.0.0.1:{port}", "--format", "json",
                              str(world.root / "live-fresh.env")])
    assert code == 1, err
    reasons = {f["validation"]["reason"] for f in json.loads(out)["findings"]}
    assert reasons == {f"cannot connect to 127.0.0.1:{port}"}


def test_plain_http_is_refused_to_anything_but_loopback(run_cli: RunCli, tmp_path: Path) -> None:
    write(tmp_path / "a.env", "x=1\n")
    code, _, err = run_cli(["scan", "--validate", "--validate-endpoint",
                            "http://sts.example.com", str(tmp_path)])
    assert code == 2 and "plain http is allowed only to a loopback address" in err


def test_missing_sdk_is_a_one_line_error(
    run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None
                        if name.startswith("alibabacloud_") else real(name, *a))
    write(tmp_path / "a.env", f"ALIBABA_CLOUD_ACCESS_KEY_ID={random_id()}\n")
    code, out, err = run_cli(["scan", "--validate", str(tmp_path)])
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "pip install 'akscan[validate]'" in err


def test_an_sdk_failure_is_unknown_and_the_finding_kept(
    run_cli: RunCli, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from akscan.validate import alibaba

    def broken(*args: Any) -> Any:
        raise ValueError("boom")

    monkeypatch.setattr(alibaba, "StsClient", broken)
    code, out, _ = _scan(run_cli, world, str(world.root / "live-fresh.env"))
    verdicts = [f["validation"] for f in json.loads(out)["findings"]]
    assert code == 1 and len(verdicts) == 2
    assert all(v["status"] == "unknown" and "ValueError" in v["reason"] for v in verdicts)


def test_without_validate_the_report_has_no_verdict(run_cli: RunCli, world: World) -> None:
    code, out, _ = run_cli(["scan", "--format", "json", str(world.root / "live-fresh.env")])
    assert code == 1
    assert [f["validation"] for f in json.loads(out)["findings"]] == [None, None]
    assert world.emulator.service.calls == []


def test_a_plain_scan_imports_no_sdk(tmp_path: Path) -> None:
    key_id, secret = new_key()
    write(tmp_path / "app.env", f"ALIBABA_CLOUD_ACCESS_KEY_ID={key_id}\n"
                                f"ALIBABA_CLOUD_ACCESS_KEY_SECRET={secret}\n")
    code = ("import sys; from akscan.cli import main; "
            f"rc = main(['scan', '-q', '--format', 'json', {str(tmp_path)!r}]); "
            "sdk = sorted(m for m in sys.modules if m.startswith(('alibabacloud', 'Tea', "
            "'darabonba'))); print(rc, sdk, file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=subprocess_env(), cwd=tmp_path)
    assert result.stderr.strip() == "1 []"


def test_history_validates_a_key_once_across_commits(
    run_cli: RunCli, world: World, repo: Repo
) -> None:
    live = world.planted["live-fresh"]
    text, _, _ = credentials(live.key_id, live.secret)
    repo.commit("add key", {"app.env": text})
    repo.commit("copy key", {"copy.env": text})
    repo.commit("edit", {"app.env": "# moved\n" + text})
    code, out, _ = run_cli(["history", "--validate", "--validate-endpoint", world.url,
                            "--format", "json", str(repo.path)])
    findings = json.loads(out)["findings"]
    assert code == 1 and len(findings) >= 4
    assert {f["validation"]["status"] for f in findings} == {"live"}
    assert world.calls("live-fresh") == 1


@pytest.mark.parametrize(("code", "status", "reason"), [
    ("InvalidAccessKeyId.NotFound", "invalid", "unknown AccessKey ID"),
    ("SignatureDoesNotMatch", "invalid", "wrong secret"),
    ("InvalidSecurityToken.Expired", "invalid", "SecurityToken has expired"),
    ("InvalidAccessKeyId.Inactive", "inactive", "disabled"),
    ("Throttling.User", "unknown", "after 3 retries"),
    ("InvalidTimeStamp.Expired", "unknown", "HTTP 400, InvalidTimeStamp.Expired"),
])
def test_error_codes_decide_the_verdict(code: str, status: str, reason: str) -> None:
    verdict = outcome.refused(code, 400, retries=3)
    assert verdict.status == status and reason in verdict.reason


def test_user_name_comes_only_from_a_user_arn() -> None:
    assert outcome.user_name("acs:ram::123:user/deploy-bot") == "deploy-bot"
    assert outcome.user_name("acs:ram::123:root") is None
    assert outcome.user_name("acs:ram::123:assumed-role/uploader/session") is None


@pytest.mark.parametrize(("url", "host", "protocol"), [
    ("http://127.0.0.1:8080", "127.0.0.1:8080", "http"),
    ("http://localhost:9", "localhost:9", "http"),
    ("https://sts.cn-hangzhou.aliyuncs.com/", "sts.cn-hangzhou.aliyuncs.com", "https"),
])
def test_endpoints(url: str, host: str, protocol: str) -> None:
    endpoint = parse_endpoint(url)
    assert (endpoint.host, endpoint.protocol) == (host, protocol)


@pytest.mark.parametrize("url", ["ftp://127.0.0.1", "127.0.0.1:80", "http://10.0.0.1:80",
                                 "https://sts.aliyuncs.com/path", "http://user:pw@127.0.0.1"])
def test_bad_endpoints_are_refused(url: str) -> None:
    with pytest.raises(AkscanError):
        parse_endpoint(url)
