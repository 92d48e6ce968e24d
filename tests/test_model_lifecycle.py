"""Retired and renamed models: the catalog's lifecycle dates, successors and aliases, in the router and on the
real stack (a job pinned to a retired model is 410 naming the successor; a deprecated one starts with a
warning and Deprecation/Sunset headers; a job running on a model that retires meanwhile still finishes)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from core.errors import ErrorCode
from core.models import Prefer, Resolution, VideoSpec
from tests.emulators.server import EmulatorServer
from tests.fixtures.stack import Stack, started_stack
from tests.fixtures.temporal import TemporalServer
from tests.fixtures.vendor_emulators import emulator_environment
from tests.fixtures.vendor_stack import VENDOR_STACK_TIMINGS
from vendors.catalog import load_catalog, parse_catalog
from vendors.router import NoRouteError, plan_route

CATALOG = load_catalog()
RAY_2 = CATALOG.model("luma", "ray-2")
assert RAY_2 is not None and RAY_2.retired_on is not None and RAY_2.deprecated_on is not None
DEPRECATED_DAY = RAY_2.deprecated_on
RETIRED_DAY = RAY_2.retired_on
EVERY_VENDOR = {vendor.id for vendor in CATALOG.vendors}


def route(day: date, prefer: Prefer = Prefer.BALANCED, **pins: str) -> list[str]:
    spec = VideoSpec(prompt="a glacier", duration_seconds=5, resolution=Resolution.K4)
    candidates = plan_route(
        spec, prefer, pins.get("vendor"), pins.get("model"), CATALOG, EVERY_VENDOR, today=day
    )
    return [f"{c.vendor}/{c.model}" for c in candidates]


def test_the_catalog_gives_a_real_model_a_deprecation_with_a_successor() -> None:
    assert RAY_2 is not None
    assert RAY_2.deprecated_on is not None and RAY_2.deprecated_on < RETIRED_DAY
    assert RAY_2.successor is not None and CATALOG.model("luma", RAY_2.successor) is not None
    assert RAY_2.lifecycle(DEPRECATED_DAY) == "deprecated"
    assert RAY_2.lifecycle(RETIRED_DAY) == "retired"


@pytest.mark.parametrize("prefer", list(Prefer))
def test_prefer_routing_skips_a_retired_model_and_keeps_a_deprecated_one(prefer: Prefer) -> None:
    assert "luma/ray-2" in route(DEPRECATED_DAY, prefer)
    after = route(RETIRED_DAY, prefer)
    assert after and "luma/ray-2" not in after
    assert "luma/ray-2" not in route(RETIRED_DAY, prefer, vendor="luma")


def test_a_job_pinned_to_a_retired_model_is_model_retired_naming_the_successor() -> None:
    with pytest.raises(NoRouteError) as refused:
        route(RETIRED_DAY, vendor="luma", model="ray-2")
    assert refused.value.code == ErrorCode.MODEL_RETIRED
    assert refused.value.successor == "luma/ray-3.2"
    assert refused.value.retired_on == RETIRED_DAY
    assert route(DEPRECATED_DAY, vendor="luma", model="ray-2") == ["luma/ray-2"]


def test_an_alias_resolves_to_its_model() -> None:
    for alias, model, seconds in (("ray", "ray-3.2", 5), ("veo", "veo-3.1", 8)):
        spec = VideoSpec(prompt="a glacier", duration_seconds=seconds)
        candidates = plan_route(spec, Prefer.BALANCED, None, alias, CATALOG, EVERY_VENDOR)
        assert [c.model for c in candidates] == [model]


@pytest.mark.parametrize(
    ("extra", "complaint"),
    [
        ('aliases = ["b"]', "shadows a model id"),
        ('successor = "nope"', "is not another model"),
        ("deprecated_on = 2027-01-02\nretired_on = 2027-01-01", "retired_on is before deprecated_on"),
    ],
)
def test_the_catalog_refuses_inconsistent_lifecycles(extra: str, complaint: str) -> None:
    price = '[vendors.v.models.prices.720p]\nusd_per_second = "0.1"\nsource = "s"\nas_of = 2026-01-01\n'
    model = 'resolutions = ["720p"]\naspects = ["16:9"]\ndurations = [5]\nquality = 1\nquality_source = "q"\n'
    model += "typical_latency_seconds = 1\n"
    text = (
        'schema_version = 1\nupdated = 2026-01-01\n[vendors.v]\nname = "V"\nkey_env = []\ndocs_url = "u"\n'
        f'[[vendors.v.models]]\nid = "a"\nname = "A"\n{model}{extra}\n{price}'
        f'[[vendors.v.models]]\nid = "b"\nname = "B"\n{model}{price}'
    )
    with pytest.raises(ValueError, match=complaint):
        parse_catalog(text)


# -- on the real stack ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lifecycle_stack(
    temporal_server: TemporalServer,
    tmp_path_factory: pytest.TempPathFactory,
    vendor_emulators: dict[str, EmulatorServer],
) -> Iterator[Stack]:
    overrides = {
        **emulator_environment(vendor_emulators),
        **VENDOR_STACK_TIMINGS,
        "INFRAI_MODEL_LIFECYCLE_DATE": DEPRECATED_DAY.isoformat(),
    }
    with started_stack(temporal_server, tmp_path_factory.mktemp("lifecycle"), **overrides) as running:
        yield running


def test_a_job_on_a_model_retired_while_it_runs_still_finishes(
    lifecycle_stack: Stack, vendor_emulators: dict[str, EmulatorServer]
) -> None:
    stack, luma = lifecycle_stack, vendor_emulators["luma"]
    luma.reset()
    luma.steer("inflight", hold=True)
    response = stack.generate(
        prompt="a glacier calving [[inflight]]", vendor="luma", model="ray-2", duration_seconds=5
    )
    assert response.status_code == 202, response.text
    job = response.json()
    # Deprecated, still served, and the answer says so.
    assert [w["code"] for w in job["warnings"]] == ["model_deprecated"]
    assert "luma/ray-3.2" in job["warnings"][0]["message"]
    assert response.headers["Deprecation"].startswith("@")
    assert response.headers["Sunset"].endswith("GMT")
    stack.wait_for(job["job_id"], lambda j: j["stage"] == "generating" and j["eta_seconds"] is not None)

    # The model retires: API and worker restart on the day after.
    for name in ("api", "worker"):
        stack.stop(name)
    retired = {"INFRAI_MODEL_LIFECYCLE_DATE": RETIRED_DAY.isoformat()}
    stack.start("worker", **retired)
    stack.start("api", **retired)

    refused = stack.generate(prompt="another glacier", vendor="luma", model="ray-2", duration_seconds=5)
    assert refused.status_code == 410, refused.text
    problem = refused.json()
    assert problem["code"] == "model_retired"
    assert problem["successor"] == "luma/ray-3.2"
    assert refused.headers["content-type"].startswith("application/problem+json")
    with stack.client() as client:
        listed = client.get("/v1/video/models").json()["data"]
    ray_2 = next(item for item in listed if item["id"] == "luma/ray-2")
    assert ray_2["lifecycle"] == "retired" and ray_2["successor"] == "ray-3.2"
    assert ray_2["retired_on"] == RETIRED_DAY.isoformat()

    running = stack.job(job["job_id"])
    assert running["state"] == "running" and running["model"] == "ray-2"
    luma.steer("inflight")  # the vendor finishes the task
    final = stack.wait_final(job["job_id"])
    assert final["state"] == "succeeded", final
    assert final["model"] == "ray-2" and final["video_url"]


def test_an_alias_names_the_newest_model_on_the_stack(
    lifecycle_stack: Stack, vendor_emulators: dict[str, EmulatorServer]
) -> None:
    vendor_emulators["luma"].reset()
    lifecycle_stack.ensure_running()
    response = lifecycle_stack.generate(prompt="a fjord", vendor="luma", model="ray", duration_seconds=5)
    assert response.status_code == 202, response.text
    assert response.json()["model"] == "ray-3.2"
    assert response.json()["warnings"] == []
    assert lifecycle_stack.wait_final(response.json()["job_id"])["state"] == "succeeded"
