"""The emulator stands in for STS and RAM: the real SDK gets the service's answers from it, and
requests whose signature, clock or nonce would not pass the service do not pass it either."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from helpers import subprocess_env
from keys import new_key, random_secret

from akscan.emulator import EmulatedKey, Emulator, signature

pytest.importorskip("alibabacloud_sts20150401", reason="needs akscan[validate]")

from alibabacloud_ram20150501 import models as ram_models
from alibabacloud_ram20150501.client import Client as RamClient
from alibabacloud_sts20150401.client import Client as StsClient
from alibabacloud_tea_openapi.utils_models import Config
from darabonba.runtime import RuntimeOptions

LIVE, DISABLED, NO_RAM, THROTTLED, BROKEN, UNAVAILABLE, SLOW = (new_key() for _ in range(7))


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    keys = [
        EmulatedKey(*LIVE, user_name="deploy", account_id="5551234567890123",
                    created="2024-02-03T04:05:06Z", last_used="2025-06-07T08:09:10Z"),
        EmulatedKey(*DISABLED, status="Inactive"),
        EmulatedKey(*NO_RAM, ram=False),
        EmulatedKey(*THROTTLED, throttle_n=2),
        EmulatedKey(*BROKEN, error_500=True),
        EmulatedKey(*UNAVAILABLE, error_503=True),
        EmulatedKey(*SLOW, slow=1.0),
    ]
    with Emulator(keys) as emu:
        yield emu


def _config(emu: Emulator, key: tuple[str, str], timeout_ms: int = 2000) -> Config:
    return Config(access_key_id=key[0], access_key_secret=key[1], endpoint=f"127.0.0.1:{emu.port}",
                  protocol="http", connect_timeout=timeout_ms, read_timeout=timeout_ms)


def _caller(emu: Emulator, key: tuple[str, str], timeout_ms: int = 2000) -> Any:
    client = StsClient(_config(emu, key, timeout_ms))
    return client.get_caller_identity_with_options(RuntimeOptions()).body


def _refusal(call: Any) -> tuple[str | None, int | None]:
    with pytest.raises(Exception) as info:
        call()
    return getattr(info.value, "code", None), getattr(info.value, "status_code", None)


def test_sdk_signed_request_is_accepted_with_the_callers_identity(emulator: Emulator) -> None:
    body = _caller(emulator, LIVE)
    assert (body.account_id, body.arn, body.identity_type) == (
        "5551234567890123", "acs:ram::5551234567890123:user/deploy", "RAMUser")
    assert body.request_id
    assert emulator.service.calls == [(LIVE[0], "GetCallerIdentity")]


@pytest.mark.parametrize(("key", "expected"), [
    ((new_key()[0], random_secret()), ("InvalidAccessKeyId.NotFound", 404)),
    ((LIVE[0], random_secret()), ("SignatureDoesNotMatch", 400)),
    (DISABLED, ("InvalidAccessKeyId.Inactive", 400)),
    (BROKEN, ("InternalError", 500)),
    (UNAVAILABLE, ("ServiceUnavailable", 503)),
], ids=["unknown-id", "wrong-secret", "disabled", "500", "503"])
def test_sdk_sees_the_services_error_codes_and_statuses(
    emulator: Emulator, key: tuple[str, str], expected: tuple[str, int]
) -> None:
    assert _refusal(lambda: _caller(emulator, key)) == expected


def test_throttles_the_first_n_calls_of_a_key(emulator: Emulator) -> None:
    assert _refusal(lambda: _caller(emulator, THROTTLED)) == ("Throttling.User", 400)
    assert _refusal(lambda: _caller(emulator, THROTTLED)) == ("Throttling.User", 400)
    assert _caller(emulator, THROTTLED).arn


def test_slow_key_answers_after_the_clients_timeout(emulator: Emulator) -> None:
    code, status = _refusal(lambda: _caller(emulator, SLOW, timeout_ms=200))
    assert (code, status) == (None, None)  # no answer at all: a network error in the SDK


def test_ram_details_for_a_permitted_key(emulator: Emulator) -> None:
    ram = RamClient(_config(emulator, LIVE))
    listed = ram.list_access_keys_with_options(
        ram_models.ListAccessKeysRequest(user_name="deploy"), RuntimeOptions()).body
    assert [(k.access_key_id, k.status, k.create_date) for k in listed.access_keys.access_key] == [
        (LIVE[0], "Active", "2024-02-03T04:05:06Z")]
    used = ram.get_access_key_last_used_with_options(ram_models.GetAccessKeyLastUsedRequest(
        user_access_key_id=LIVE[0], user_name="deploy"), RuntimeOptions()).body
    assert used.access_key_last_used.last_used_date == "2025-06-07T08:09:10Z"


def test_ram_calls_without_permission_are_403_no_permission(emulator: Emulator) -> None:
    ram = RamClient(_config(emulator, NO_RAM))
    with pytest.raises(Exception) as info:
        ram.list_access_keys_with_options(ram_models.ListAccessKeysRequest(
            user_name="akscan-emulated"), RuntimeOptions())
    assert (info.value.code, info.value.status_code) == ("NoPermission", 403)
    assert info.value.data["AccessDeniedDetail"]["AuthAction"] == "ram:ListAccessKeys"


def test_query_values_are_canonicalised_as_the_service_does(emulator: Emulator) -> None:
    # The SDK sends "a b+c" as a+b%2Bc but signs a%20b%2Bc: the signature must still match.
    ram = RamClient(_config(emulator, LIVE))
    code, _ = _refusal(lambda: ram.list_access_keys_with_options(
        ram_models.ListAccessKeysRequest(user_name="a b+c/ü"), RuntimeOptions()))
    assert code == "EntityNotExist.User"  # past the signature check


# Hand-made requests, signed by akscan.emulator.signature rather than by the SDK.

def _stamp(offset: timedelta = timedelta()) -> str:
    return (datetime.now(timezone.utc) + offset).strftime("%Y-%m-%dT%H:%M:%SZ")


def _signed(emu: Emulator, key: tuple[str, str], params: Sequence[tuple[str, str]] = (),
            **overrides: str) -> dict[str, str]:
    headers = {
        "host": f"127.0.0.1:{emu.port}", "accept": "application/json",
        "x-acs-action": "GetCallerIdentity", "x-acs-version": "2015-04-01",
        "x-acs-date": _stamp(), "x-acs-signature-nonce": uuid.uuid4().hex, **overrides,
    }
    return signature.sign("POST", "/", params, headers, b"", *key)


def _send(emu: Emulator, headers: dict[str, str], params: Sequence[tuple[str, str]] = ()
          ) -> tuple[int, dict[str, Any]]:
    conn = http.client.HTTPConnection("127.0.0.1", emu.port, timeout=5)
    try:
        conn.request("POST", "/?" + urlencode(params) if params else "/", body=b"",
                     headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_hand_signed_request_is_accepted(emulator: Emulator) -> None:
    status, body = _send(emulator, _signed(emulator, LIVE))
    assert status == 200 and body["Arn"].endswith(":user/deploy")


def test_tampered_signature_is_refused(emulator: Emulator) -> None:
    headers = _signed(emulator, LIVE)
    last = headers["authorization"][-1]
    headers["authorization"] = headers["authorization"][:-1] + ("0" if last != "0" else "1")
    status, body = _send(emulator, headers)
    assert (status, body["Code"]) == (400, "SignatureDoesNotMatch")
    assert emulator.service.calls == []


def test_header_changed_after_signing_is_refused(emulator: Emulator) -> None:
    headers = _signed(emulator, LIVE, params=[("UserName", "deploy")])
    headers["x-acs-action"] = "ListAccessKeys"
    assert _send(emulator, headers, [("UserName", "deploy")])[1]["Code"] == "SignatureDoesNotMatch"
    headers = _signed(emulator, LIVE, params=[("UserName", "deploy")])
    assert _send(emulator, headers, [("UserName", "root")])[1]["Code"] == "SignatureDoesNotMatch"


def test_unsigned_common_header_is_refused(emulator: Emulator) -> None:
    headers = _signed(emulator, LIVE)
    headers["x-acs-extra"] = "not signed"
    status, body = _send(emulator, headers)
    assert (status, body["Code"]) == (400, "IncompleteSignature")


def test_reused_nonce_is_refused(emulator: Emulator) -> None:
    headers = _signed(emulator, LIVE)
    assert _send(emulator, headers)[0] == 200
    status, body = _send(emulator, headers)  # a replay of the very same signed request
    assert (status, body["Code"]) == (400, "SignatureNonceUsed")


@pytest.mark.parametrize(("offset", "accepted"), [
    (timedelta(minutes=-14), True), (timedelta(minutes=14), True),
    (timedelta(minutes=-16), False), (timedelta(minutes=16), False),
])
def test_date_more_than_15_minutes_off_is_refused(
    emulator: Emulator, offset: timedelta, accepted: bool
) -> None:
    status, body = _send(emulator, _signed(emulator, LIVE, **{"x-acs-date": _stamp(offset)}))
    assert (status, body.get("Code")) == ((200, None) if accepted
                                          else (400, "InvalidTimeStamp.Expired"))


def test_error_body_has_the_services_fields(emulator: Emulator) -> None:
    status, body = _send(emulator, _signed(emulator, (new_key()[0], random_secret())))
    assert status == 404
    assert set(body) == {"RequestId", "HostId", "Code", "Message", "Recommend"}
    assert body["Message"] == "Specified access key is not found."


def test_runs_by_hand_and_prints_its_url(tmp_path: Path) -> None:
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps([{"id": LIVE[0], "secret": LIVE[1]}]), encoding="utf-8")
    child = subprocess.Popen(
        [sys.executable, "-m", "akscan.emulator", "--port", "0", "--keys", str(keys)],
        stdout=subprocess.PIPE, text=True, env=subprocess_env())
    try:
        assert child.stdout is not None
        url = child.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        port = int(url.rsplit(":", 1)[1])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("POST", "/", headers={"host": f"127.0.0.1:{port}"})
        response = conn.getresponse()
        assert response.status == 400
        assert json.loads(response.read())["Code"] == "IncompleteSignature"
        conn.close()
    finally:
        child.terminate()
        child.wait(timeout=5)
