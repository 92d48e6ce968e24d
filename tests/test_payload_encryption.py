"""Payload encryption end to end: prompts never reach Temporal (or our logs) in plain text, keys rotate, and
an operator holding the token can still read payloads through the codec endpoint.

The stack is the real service (API, worker, local vendor) with ``INFRAI_PAYLOAD_ENCRYPTION_KEYS`` set, on
the session's Temporal dev server; "raw" reads use a Temporal client without the codec, as the Temporal UI
or anyone with access to the server would.
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload
from temporalio.api.history.v1 import History
from temporalio.client import Client

from core.models import JobInput
from core.settings import Settings
from tests.fixtures.image_server import png
from tests.fixtures.stack import Stack, started_stack
from tests.fixtures.temporal import TemporalServer
from workflows.connection import connect
from workflows.encryption import ENCODING, KEY_ID_METADATA

UI_ORIGIN = "http://ui.example:8233"


def _key(key_id: str) -> str:
    return f"{key_id}:{base64.b64encode(os.urandom(32)).decode()}"


@dataclass
class EncryptedStack:
    stack: Stack
    token: str
    old_keys: str
    jobs: dict[str, str]  # prompt -> job id, kept across the module's tests

    def keys_setting(self) -> str:
        return self.stack.env["INFRAI_PAYLOAD_ENCRYPTION_KEYS"]


@pytest.fixture(scope="module")
def encrypted(
    temporal_server: TemporalServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EncryptedStack]:
    data_dir = tmp_path_factory.mktemp("encrypted")
    token = secrets.token_urlsafe(24)
    keys = _key("k1")
    with started_stack(
        temporal_server,
        data_dir,
        INFRAI_PAYLOAD_ENCRYPTION_KEYS=keys,
        INFRAI_CODEC_OPERATOR_TOKEN=token,
        INFRAI_CODEC_CORS_ORIGINS=UI_ORIGIN,
    ) as stack:
        yield EncryptedStack(stack, token, keys, {})


def _secret_prompt() -> str:
    return f"a lighthouse guarded by {secrets.token_hex(12)}"


def _run_job(encrypted: EncryptedStack, prompt: str, **body: Any) -> dict[str, Any]:
    response = encrypted.stack.generate(prompt=prompt, **body)
    assert response.status_code == 202, response.text
    job = encrypted.stack.wait_final(response.json()["job_id"])
    assert job["state"] == "succeeded", job
    encrypted.jobs[prompt] = job["job_id"]
    return job


async def _raw_client(temporal: TemporalServer) -> Client:
    return await connect(Settings(temporal_address=temporal.address))  # no keys: what the server holds


async def _raw_history(temporal: TemporalServer, job_id: str) -> History:
    client = await _raw_client(temporal)
    history = await client.get_workflow_handle(job_id).fetch_history()
    return History(events=history.events)


def _payloads(message: Any) -> Iterator[Payload]:
    """Every Payload inside a protobuf message, except search attributes (the server indexes those, so
    they are plain by design and hold no customer data), workflow patch markers (the SDK core writes
    the patch id itself, past the codec; it names a code version, nothing of the customer's) and the
    ``data`` of a local activity's marker (the core's own record of the call past the codec: sequence,
    attempt, activity type, times). That marker's ``result``, the activity's answer, is checked as ever."""
    marker = getattr(message, "marker_name", None)
    if marker == "core_patch":
        return
    if marker == "core_local_activity":
        for key, details in message.details.items():
            if key != "data":
                yield from details.payloads
        if message.HasField("failure"):
            yield from _payloads(message.failure)
        return
    for field, value in message.ListFields():
        if field.message_type is None or field.name == "search_attributes":
            continue
        if field.message_type.GetOptions().map_entry:
            is_message = field.message_type.fields_by_name["value"].message_type is not None
            items = list(value.values()) if is_message else []
        elif field.is_repeated:
            items = list(value)
        else:
            items = [value]
        for item in items:
            if isinstance(item, Payload):
                yield item
            else:
                yield from _payloads(item)


def _key_ids(history: History) -> set[str]:
    payloads = list(_payloads(history))
    assert payloads, "the history has no payloads at all"
    plain = [p for p in payloads if p.metadata.get("encoding") != ENCODING]
    assert not plain, f"payloads not encrypted: {plain[:3]}"
    return {p.metadata[KEY_ID_METADATA].decode() for p in payloads}


def test_an_encrypted_job_completes_and_its_status_reads_back(encrypted: EncryptedStack) -> None:
    reference = "data:image/png;base64," + base64.b64encode(png()).decode()
    job = _run_job(encrypted, _secret_prompt(), reference_image_url=reference)
    assert job["video_url"] and job["video"]["size_bytes"] > 0  # from the (encrypted) memo snapshot


def test_the_raw_history_memo_and_database_hold_no_plaintext_prompt(
    encrypted: EncryptedStack, live_stack: Stack
) -> None:
    prompt = _secret_prompt()
    job_id = _run_job(encrypted, prompt)["job_id"]
    # The positive control: the same words through the unencrypted session stack are found in plain text.
    control = f"a lighthouse in the clear {secrets.token_hex(12)}"
    control_id = live_stack.generate(prompt=control).json()["job_id"]
    live_stack.wait_final(control_id)

    history = asyncio.run(_raw_history(encrypted.stack.temporal, job_id))
    assert prompt.encode() not in history.SerializeToString()
    assert _key_ids(history) == {"k1"}
    assert control.encode() in asyncio.run(_raw_history(live_stack.temporal, control_id)).SerializeToString()

    description = asyncio.run(_describe_raw(encrypted.stack.temporal, job_id))
    memo = description.workflow_execution_info.memo.fields
    assert {memo[name].metadata["encoding"] for name in memo} == {ENCODING}
    assert prompt.encode() not in description.SerializeToString()

    stored = _database_bytes(encrypted.stack.temporal.db_file)
    assert control.encode() in stored and prompt.encode() not in stored


async def _describe_raw(temporal: TemporalServer, job_id: str) -> Any:
    client = await _raw_client(temporal)
    return (await client.get_workflow_handle(job_id).describe()).raw_description


def _database_bytes(db_file: Path) -> bytes:
    return b"".join(path.read_bytes() for path in db_file.parent.glob(db_file.name + "*"))


def test_the_workers_own_codec_reads_the_input_back(encrypted: EncryptedStack) -> None:
    prompt = _secret_prompt()
    job_id = _run_job(encrypted, prompt)["job_id"]

    async def started_input() -> JobInput:
        history = await _raw_history(encrypted.stack.temporal, job_id)
        payloads = history.events[0].workflow_execution_started_event_attributes.input.payloads
        keyed = await connect(Settings(temporal_address=encrypted.stack.temporal.address,
                                       payload_encryption_keys=encrypted.keys_setting()))  # fmt: skip
        decoded = await keyed.data_converter.decode(payloads, [JobInput])
        job: JobInput = decoded[0]
        return job

    assert asyncio.run(started_input()).spec.prompt == prompt


def _codec_post(
    encrypted: EncryptedStack, path: str, payloads: list[Payload], **headers: str
) -> httpx.Response:
    body = {"payloads": [json_format.MessageToDict(p) for p in payloads]}
    return httpx.post(f"{encrypted.stack.api_url}{path}", json=body, headers=headers, timeout=30)


def _start_payloads(encrypted: EncryptedStack, job_id: str) -> list[Payload]:
    history = asyncio.run(_raw_history(encrypted.stack.temporal, job_id))
    return list(history.events[0].workflow_execution_started_event_attributes.input.payloads)


def test_the_codec_endpoint_decodes_for_the_operator(encrypted: EncryptedStack) -> None:
    prompt = _secret_prompt()
    payloads = _start_payloads(encrypted, _run_job(encrypted, prompt)["job_id"])

    by_header = _codec_post(encrypted, "/codec/decode", payloads, Authorization=f"Bearer {encrypted.token}")
    by_path = _codec_post(encrypted, f"/codec/{encrypted.token}/decode", payloads)  # the UI's form

    for response in (by_header, by_path):
        assert response.status_code == 200, response.text
        decoded = [json_format.ParseDict(p, Payload()) for p in response.json()["payloads"]]
        assert decoded[0].metadata["encoding"] == b"json/plain" and prompt.encode() in decoded[0].data


def test_the_codec_endpoint_refuses_everyone_else(encrypted: EncryptedStack) -> None:
    payloads = [Payload(metadata={"encoding": b"json/plain"}, data=b'"x"')]
    attempts = [
        _codec_post(encrypted, "/codec/decode", payloads),
        _codec_post(encrypted, "/codec/decode", payloads, Authorization="Bearer not-the-token"),
        _codec_post(encrypted, "/codec/decode", payloads, Authorization=f"Basic {encrypted.token}"),
        _codec_post(encrypted, "/codec/not-the-token/decode", payloads),
        # A project API key is not the operator token.
        _codec_post(encrypted, "/codec/encode", payloads, Authorization=f"Bearer {encrypted.stack.dev_key}"),
    ]
    for response in attempts:
        assert response.status_code == 401, response.text
        assert response.json()["code"] == "unauthorized" and "lighthouse" not in response.text


def test_the_codec_endpoint_encodes_what_it_decodes(encrypted: EncryptedStack) -> None:
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'"hello operator"')
    auth = {"Authorization": f"Bearer {encrypted.token}"}
    encoded = _codec_post(encrypted, "/codec/encode", [plain], **auth)
    assert encoded.status_code == 200, encoded.text
    sealed = json_format.ParseDict(encoded.json()["payloads"][0], Payload())
    assert sealed.metadata["encoding"] == ENCODING and b"hello operator" not in sealed.data
    decoded = _codec_post(encrypted, "/codec/decode", [sealed], **auth)
    assert json_format.ParseDict(decoded.json()["payloads"][0], Payload()) == plain


def test_the_codec_endpoint_answers_cors_for_the_ui_origin_only(encrypted: EncryptedStack) -> None:
    def preflight(origin: str) -> httpx.Response:
        return httpx.options(
            f"{encrypted.stack.api_url}/codec/{encrypted.token}/decode",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type,x-namespace",
            },
            timeout=30,
        )

    allowed, other = preflight(UI_ORIGIN), preflight("http://evil.example")
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == UI_ORIGIN
    assert "x-namespace" in allowed.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-origin" not in other.headers


def test_a_garbled_codec_request_is_a_400(encrypted: EncryptedStack) -> None:
    response = httpx.post(
        f"{encrypted.stack.api_url}/codec/decode",
        content=b'{"payloads": [{"data": "not base64!"}]}',
        headers={"Authorization": f"Bearer {encrypted.token}", "Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 400 and response.json()["code"] == "malformed_json"


def test_without_encryption_there_is_no_codec_endpoint(live_stack: Stack) -> None:
    response = httpx.post(f"{live_stack.api_url}/codec/decode", json={"payloads": []}, timeout=30)
    assert response.status_code == 404


def test_rotated_keys_still_read_old_jobs_and_encrypt_new_ones_with_the_new_key(
    encrypted: EncryptedStack,
) -> None:
    old_prompt = _secret_prompt()
    old_job = _run_job(encrypted, old_prompt)["job_id"]

    encrypted.stack.env["INFRAI_PAYLOAD_ENCRYPTION_KEYS"] = f"{_key('k2')},{encrypted.old_keys}"
    encrypted.stack.restart("worker")
    encrypted.stack.restart("api")

    old = encrypted.stack.job(old_job)  # its memo was encrypted with k1
    assert old["state"] == "succeeded" and old["video_url"]
    new_prompt = _secret_prompt()
    new_job = _run_job(encrypted, new_prompt)["job_id"]

    assert _key_ids(asyncio.run(_raw_history(encrypted.stack.temporal, old_job))) == {"k1"}
    assert _key_ids(asyncio.run(_raw_history(encrypted.stack.temporal, new_job))) == {"k2"}
    auth = {"Authorization": f"Bearer {encrypted.token}"}
    for job_id, prompt in ((old_job, old_prompt), (new_job, new_prompt)):
        decoded = _codec_post(encrypted, "/codec/decode", _start_payloads(encrypted, job_id), **auth)
        assert (
            decoded.status_code == 200
            and prompt in base64.b64decode(decoded.json()["payloads"][0]["data"]).decode()
        )


def test_service_logs_never_show_a_prompt_or_an_api_key(encrypted: EncryptedStack) -> None:
    if not encrypted.jobs:  # normally the tests above ran jobs through this stack already
        _run_job(encrypted, _secret_prompt())
    prompts = list(encrypted.jobs)
    logs = {
        name: (encrypted.stack.data_dir / f"{name}.log").read_text(errors="replace")
        for name in ("api", "worker", "vendor")
    }
    logs["temporal"] = encrypted.stack.temporal.log_path.read_text(errors="replace")
    assert all(len(text) > 0 for name, text in logs.items() if name != "temporal"), logs.keys()
    for name, text in logs.items():
        for prompt in prompts:
            assert prompt not in text and prompt.split()[-1] not in text, f"{name} log shows a prompt"
        assert encrypted.stack.dev_key not in text, f"{name} log shows the API key"
        assert encrypted.token not in text, f"{name} log shows the codec token"
        for entry in encrypted.keys_setting().split(","):
            assert entry.partition(":")[2] not in text, f"{name} log shows an encryption key"
