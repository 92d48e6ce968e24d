"""Property-based: whatever reaches the OpenAI-compatible videos API, it answers without a 5xx, and every 4xx
is an error a client can read: OpenAI's ``{"error": {message, type, param, code}}`` from the routes, or RFC
9457 problem JSON from what stands in front of them (body-size cap, unknown routes and methods).

A Hypothesis state machine creates videos (JSON, multipart and urlencoded bodies; fields of every type,
numbers up to thousands of digits, uploads of any content type, stray fields) and retrieves, lists, downloads
and deletes both the ids it made and ids it made up. The API runs with no worker, like the schemathesis run:
the jobs it starts stay queued, so nothing renders and a download or delete of them is a 409.

A fixed seed (``derandomize``) and bounded examples keep the run reproducible and within about 30 s; the
number of requests sent is printed for the closing notes of the issue.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    MultipleResults,
    RuleBasedStateMachine,
    initialize,
    multiple,
    rule,
    run_state_machine_as_test,
)

from tests.fixtures.stack import Stack, started_stack
from tests.fixtures.temporal import TemporalServer

INT_DIGIT_LIMIT = 4300
MACHINE_SETTINGS = settings(
    max_examples=25,
    stateful_step_count=12,
    deadline=None,
    derandomize=True,
    database=None,
    # Shrinking replays HTTP sequences for minutes; the unshrunk steps of a failure are short enough to read.
    phases=[Phase.explicit, Phase.generate],
    report_multiple_bugs=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)

# -- what the client sends ---------------------------------------------------------------------------------

DIGITS = st.one_of(
    st.integers(0, 120).map(str),
    st.integers(0, 2**80).map(str),
    st.integers(INT_DIGIT_LIMIT - 10, INT_DIGIT_LIMIT + 1700).map(lambda n: "9" * n),
    st.integers(1, 5000).map(lambda n: "0" * n + "4"),
)
NUMBER_TEXT = st.one_of(
    DIGITS,
    DIGITS.map(lambda n: "-" + n),
    st.sampled_from(["", " 4 ", "4.0", "1e3", "1e999", "NaN", "Infinity", "0x10", "+4", "\u0664", "\uff14"]),
    st.text(max_size=20),
)
SIZES = st.one_of(
    st.sampled_from(["1280x720", "720x1280", "1024x1792", "720x720", "3840x2160", "0x0", "00x720", "x", ""]),
    st.tuples(DIGITS, st.sampled_from(["x", "X", " x ", "*"]), DIGITS).map("".join),
    st.text(max_size=30),
)
MODELS = st.one_of(
    st.sampled_from(["sora-2", "sora-2-pro", "SORA-2-PRO-high", "local-preview", "no-such-model", ""]),
    st.text(max_size=40),
)
PROMPTS = st.one_of(
    st.sampled_from(["a red kite", "", "   ", "x" * 4001, "bad \x00 byte"]),
    st.text(max_size=60),
)
IMAGE_URLS = st.one_of(
    st.sampled_from(
        [
            "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==",
            "data:image/png;base64,!!!",
            "data:text/html;base64,PGgxPg==",
            "http://127.0.0.1/x.png",
            "http://169.254.169.254/latest/meta-data/",
            "file:///etc/passwd",
            "ftp://example.com/a.png",
            "http://[::1]/a.png",
            "",
        ]
    ),
    DIGITS.map(lambda n: f"http://127.0.0.1:{n}/a.png"),
    DIGITS.map(lambda n: f"http://{n}/a.png"),
    st.text(alphabet=st.characters(blacklist_characters=":"), max_size=40),
)
# JSON values of any type, for fields that want a string.
JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=6,
)
IDEMPOTENCY_KEYS = st.one_of(
    st.none(),
    st.text("abcXYZ0123456789._:-", min_size=1, max_size=300),
    DIGITS,
)
VIDEO_IDS = st.one_of(
    st.just("vid_" + "0" * 26),
    DIGITS,
    st.text(alphabet=st.characters(blacklist_characters=".", codec="utf-8"), min_size=1, max_size=40),
)


@st.composite
def json_bodies(draw: st.DrawFn) -> bytes:
    """A JSON document as bytes, numbers written by hand: ``json`` itself refuses past 4300 digits."""
    fields: dict[str, str] = {}
    if draw(st.integers(0, 5)) > 0:
        fields["prompt"] = json.dumps(draw(st.one_of(PROMPTS, JSON_VALUES)))
    for name, text in (("seconds", NUMBER_TEXT), ("size", SIZES), ("model", MODELS)):
        if draw(st.booleans()):
            fields[name] = draw(
                st.one_of(
                    text.map(json.dumps),
                    DIGITS,  # a bare JSON number, however long
                    JSON_VALUES.map(json.dumps),
                )
            )
    if draw(st.integers(0, 3)) == 0:
        fields["input_reference"] = draw(
            st.one_of(
                IMAGE_URLS.map(lambda url: json.dumps({"image_url": url})),
                JSON_VALUES.map(json.dumps),
            )
        )
    if draw(st.integers(0, 4)) == 0:
        fields[draw(st.text(max_size=10))] = json.dumps(draw(JSON_VALUES))
    document = "{" + ", ".join(f"{json.dumps(name)}: {value}" for name, value in fields.items()) + "}"
    if draw(st.integers(0, 9)) == 0:  # not an object, or not JSON at all
        document = draw(st.sampled_from(["[]", "null", '"x"', "{", document[:-1], "\ufeff" + document]))
    return document.encode()


@st.composite
def form_fields(draw: st.DrawFn) -> list[tuple[str, str]]:
    """Text fields of a form (repeats and strangers included)."""
    fields: list[tuple[str, str]] = []
    if draw(st.integers(0, 5)) > 0:
        fields.append(("prompt", draw(PROMPTS)))
    for name, values in (("seconds", NUMBER_TEXT), ("size", SIZES), ("model", MODELS)):
        if draw(st.booleans()):
            fields.append((name, draw(values)))
    if draw(st.integers(0, 4)) == 0:
        fields.append(("input_reference[image_url]", draw(IMAGE_URLS)))
    if draw(st.integers(0, 6)) == 0:
        fields.append(("input_reference[detail]", "high"))
    extra = draw(st.integers(0, 25) if draw(st.integers(0, 5)) == 0 else st.just(0))  # past max_fields=20
    fields += [(draw(st.text(min_size=1, max_size=8)), draw(st.text(max_size=8))) for _ in range(extra)]
    return fields


UPLOADS = st.tuples(
    st.sampled_from(["input_reference", "input_reference", "image", "file"]),
    st.sampled_from(["a.png", "", "../../etc/passwd", "x" * 300]),
    st.one_of(
        st.just(bytes.fromhex("89504e470d0a1a0a") + bytes(range(64))),  # a PNG signature, then noise
        st.binary(max_size=256),
    ),
    st.sampled_from(["image/png", "image/jpeg", "image/webp", "text/plain", "application/octet-stream", ""]),
)

# -- what the API answers ----------------------------------------------------------------------------------

VIDEO_STATUSES = {"queued", "in_progress", "completed", "failed"}
ANSWERS: Counter[str] = Counter()  # requests by outcome: "2xx", "4xx", "5xx"


def assert_readable_error(response: httpx.Response) -> None:
    """A 4xx carries OpenAI's error object, or a problem document from in front of the routes."""
    kind = response.headers.get("content-type", "")
    body = response.json()
    if kind.startswith("application/problem+json"):
        assert body["status"] == response.status_code and body["code"] and body["title"], body
        assert isinstance(body["detail"], str) and body["type"].startswith("https://"), body
        return
    assert kind.startswith("application/json"), (response.status_code, kind, response.text[:500])
    error = body["error"]
    assert isinstance(error["message"], str) and error["message"], body
    assert isinstance(error["code"], str) and error["code"], body
    assert error["type"] in ("invalid_request_error", "authentication_error", "insufficient_quota"), body
    assert error["param"] is None or isinstance(error["param"], str), body


def assert_video(video: dict[str, Any]) -> None:
    assert video["object"] == "video" and video["id"].startswith("vid_"), video
    assert video["status"] in VIDEO_STATUSES and 0 <= video["progress"] <= 100, video
    assert re.fullmatch(r"[1-9][0-9]?", video["seconds"]) and re.fullmatch(r"\d+x\d+", video["size"]), video


def answered(response: httpx.Response) -> httpx.Response:
    """Count the answer and check its shape: never a 5xx, a readable error on a 4xx."""
    ANSWERS[f"{response.status_code // 100}xx"] += 1
    assert response.status_code < 500, (response.request.method, response.request.url, response.text[:1000])
    if response.status_code >= 400:
        assert_readable_error(response)
    return response


class OpenAIVideosMachine(RuleBasedStateMachine):
    stack: Stack  # set by the test before the machine runs

    videos = Bundle("videos")

    def __init__(self) -> None:
        super().__init__()
        self.client = httpx.Client(
            base_url=self.stack.api_url,
            headers={"Authorization": f"Bearer {self.stack.dev_key}"},
            timeout=30,
        )

    def teardown(self) -> None:
        self.client.close()

    def _created(self, response: httpx.Response) -> MultipleResults[str]:
        """The new video's id for later rules; nothing when the create was refused."""
        answered(response)
        assert response.status_code in (200, 400, 402, 404, 409, 413, 422), response.text[:1000]
        if response.status_code != 200:
            return multiple()
        video = response.json()
        assert_video(video)
        return multiple(str(video["id"]))

    @initialize(target=videos)
    def create_a_valid_video(self) -> str:
        response = answered(self.client.post("/v1/videos", json={"prompt": "a kite", "seconds": "1"}))
        assert response.status_code == 200, response.text
        assert_video(response.json())
        return str(response.json()["id"])

    @rule(target=videos, body=json_bodies(), key=IDEMPOTENCY_KEYS)
    def create_with_json(self, body: bytes, key: str | None) -> MultipleResults[str]:
        headers = {"Content-Type": "application/json"} | ({"Idempotency-Key": key} if key else {})
        return self._created(self.client.post("/v1/videos", content=body, headers=headers))

    @rule(target=videos, fields=form_fields(), upload=st.none() | UPLOADS, key=IDEMPOTENCY_KEYS)
    def create_with_multipart(
        self, fields: list[tuple[str, str]], upload: tuple[str, str, bytes, str] | None, key: str | None
    ) -> MultipleResults[str]:
        files: list[tuple[str, Any]] = [(name, (None, value)) for name, value in fields]
        if upload is not None:
            name, filename, data, content_type = upload
            files.append((name, (filename, data, content_type)))
        if not files:
            files.append(("prompt", (None, "")))
        headers = {"Idempotency-Key": key} if key else {}
        return self._created(self.client.post("/v1/videos", files=files, headers=headers))

    @rule(target=videos, fields=form_fields())
    def create_with_urlencoded_form(self, fields: list[tuple[str, str]]) -> MultipleResults[str]:
        return self._created(self.client.post("/v1/videos", data=dict(fields)))

    @rule(
        target=videos, content=st.binary(max_size=300), kind=st.sampled_from(["text/plain", "", "image/png"])
    )
    def create_with_any_bytes(self, content: bytes, kind: str) -> MultipleResults[str]:
        return self._created(self.client.post("/v1/videos", content=content, headers={"Content-Type": kind}))

    @rule(video_id=videos | VIDEO_IDS)
    def retrieve(self, video_id: str) -> None:
        response = answered(self.client.get(f"/v1/videos/{quote(video_id, safe='')}"))
        assert response.status_code in (200, 404), response.text[:1000]
        if response.status_code == 200:
            assert_video(response.json())

    @rule(
        after=st.none() | videos | VIDEO_IDS,
        limit=st.none() | NUMBER_TEXT,
        order=st.none() | st.sampled_from(["asc", "desc", "ASC", ""]) | st.text(max_size=5),
    )
    def list_videos(self, after: str | None, limit: str | None, order: str | None) -> None:
        query = {
            name: value for name, value in (("after", after), ("limit", limit), ("order", order)) if value
        }
        response = answered(self.client.get("/v1/videos", params=query))
        assert response.status_code in (200, 400, 404), response.text[:1000]
        if response.status_code == 200:
            page = response.json()
            assert page["object"] == "list" and isinstance(page["has_more"], bool), page
            for video in page["data"]:
                assert_video(video)

    @rule(
        video_id=videos | VIDEO_IDS, variant=st.none() | st.sampled_from(["video", "thumbnail", "x"]) | DIGITS
    )
    def download_content(self, video_id: str, variant: str | None) -> None:
        params = {"variant": variant} if variant is not None else {}
        response = answered(self.client.get(f"/v1/videos/{quote(video_id, safe='')}/content", params=params))
        # No worker: every real video is still queued (409); anything else does not exist (404).
        assert response.status_code in (400, 404, 409), response.text[:1000]

    @rule(video_id=videos | VIDEO_IDS)
    def delete(self, video_id: str) -> None:
        response = answered(self.client.delete(f"/v1/videos/{quote(video_id, safe='')}"))
        assert response.status_code in (404, 409), response.text[:1000]


@pytest.fixture(scope="module")
def api_only_stack(
    temporal_server: TemporalServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    with started_stack(
        temporal_server,
        tmp_path_factory.mktemp("openai-properties"),
        ("api",),
        INFRAI_STATUS_QUERY_TIMEOUT_SECONDS="0.2",
    ) as stack:
        yield stack


def test_the_openai_compatible_api_never_answers_5xx_and_its_errors_are_readable(
    api_only_stack: Stack,
) -> None:
    OpenAIVideosMachine.stack = api_only_stack
    ANSWERS.clear()
    run_state_machine_as_test(OpenAIVideosMachine, settings=MACHINE_SETTINGS)
    cases = sum(ANSWERS.values())
    print(f"hypothesis (openai-compatible): {cases} cases, {ANSWERS['5xx']} 5xx ({dict(ANSWERS)})")
    assert cases >= 200 and ANSWERS["5xx"] == 0
    assert ANSWERS["2xx"] and ANSWERS["4xx"]
