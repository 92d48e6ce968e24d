"""docker-compose.yml, the Dockerfile and the Temporal setup scripts, checked without Docker: against the
Compose specification, against our settings and entry points, and (the namespace setup) against a real
Temporal server."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import jsonschema
import pytest
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest

from core.settings import Settings, setting_env_names
from tests.fixtures.compose import (
    COMPOSE_FILE,
    REPO,
    clean_host_env,
    compose_cli,
    image_cmd,
    image_env,
    image_source_dirs,
    interpolate,
    load_compose,
    our_services,
    run_namespace_setup,
    service_env,
)
from tests.fixtures.temporal import TemporalServer
from workflows import search_attributes as sa
from workflows.connection import connect

SCHEMA = Path(__file__).parent / "data" / "compose-spec" / "compose-spec.json"


def test_compose_file_follows_the_compose_specification() -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator(schema).validate(load_compose())


def test_compose_schema_check_catches_a_broken_service() -> None:
    schema = json.loads(SCHEMA.read_text())
    broken = load_compose()
    broken["services"]["api"]["depends_on"]["postgres"]["condition"] = "service_ready"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(schema).validate(broken)


def test_docker_compose_accepts_the_file() -> None:
    cli = compose_cli()
    if cli is None:
        pytest.skip("no `docker compose` plugin nor Compose v2 binary here; the schema test covers the file")
    result = subprocess.run(
        [*cli, "-f", str(COMPOSE_FILE), "config", "--quiet"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=clean_host_env(),
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_interpolation_uses_defaults_and_the_environment() -> None:
    assert interpolate("a:${X:-1} b:${Y} c:$$HOME", {"Y": "two"}) == "a:1 b:two c:$HOME"
    assert interpolate("${X:-1}", {"X": "9"}) == "9"
    with pytest.raises(ValueError):
        interpolate("${X:?needed}", {})


def test_every_infrai_variable_the_stack_sets_is_a_setting() -> None:
    compose = load_compose()
    known = set(setting_env_names())
    used = set(image_env())
    for service in our_services(compose).values():
        used.update((service.get("environment") or {}).keys())
    # The namespace setup reads the same variable the API and workers do.
    used.update(k for k in compose["services"]["temporal-setup"]["environment"] if k.startswith("INFRAI_"))
    ours = {name for name in used if name.startswith("INFRAI_")}
    vendor_keys = {name for name in used if not name.startswith(("INFRAI_", "PYTHON", "PATH"))}
    assert ours - known == set()
    assert vendor_keys - known == set()
    assert len(ours) > 15


def test_our_services_run_python_modules_that_the_image_contains() -> None:
    copied = set(image_source_dirs())
    services = our_services(load_compose())
    assert {"api", "worker", "rehoster", "localvendor", "minio-setup"} <= set(services)
    for name, service in services.items():
        command = service["command"]
        assert command[:2] == ["python", "-m"], name
        module = command[2]
        assert module.split(".")[0] in copied, f"{name} runs {module}, which the image does not copy"
        path = REPO / Path(*module.split("."))
        assert (path / "__main__.py").exists() or path.with_suffix(".py").exists(), module
    assert services["api"]["command"] == image_cmd()


def test_the_image_source_folders_are_enough_to_import_every_entry_point(tmp_path: Path) -> None:
    for folder in image_source_dirs():
        shutil.copytree(REPO / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    modules = ["api.app", "worker.runner", "localvendor.server", "storage.ensure_bucket"]
    modules.append("observability.probe")
    result = subprocess.run(
        [sys.executable, "-c", "; ".join(f"import {m}" for m in modules)],
        cwd=tmp_path,
        env={**clean_host_env(), "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def test_services_wait_for_what_they_need() -> None:
    services = load_compose()["services"]
    for name in ("api", "worker", "rehoster"):
        needs = services[name]["depends_on"]
        assert needs["temporal-setup"]["condition"] == "service_completed_successfully", name
        assert needs["minio-setup"]["condition"] == "service_completed_successfully", name
        assert needs["postgres"]["condition"] == "service_healthy", name
        assert "healthcheck" in services[name], name
    temporal, setup = services["temporal"]["depends_on"], services["temporal-setup"]["depends_on"]
    assert temporal["temporal-schema"]["condition"] == "service_completed_successfully"
    assert setup["temporal"]["condition"] == "service_healthy"


def test_workers_are_split_by_role_and_scale_by_setting() -> None:
    services = load_compose()["services"]
    assert service_env(services["worker"])["INFRAI_WORKER_ROLES"] == "workflows,poll"
    assert service_env(services["rehoster"])["INFRAI_WORKER_ROLES"] == "rehost"
    scaled = load_compose({"INFRAI_WORKER_REPLICAS": "4"})["services"]
    assert str(scaled["worker"]["deploy"]["replicas"]) == "4"


def test_the_setup_registers_exactly_our_search_attributes() -> None:
    setup = load_compose()["services"]["temporal-setup"]["environment"]
    assert setup["SEARCH_ATTRIBUTES"].split() == [key.name for key in sa.ALL]
    assert (
        setup["INFRAI_TEMPORAL_NAMESPACE"]
        == service_env(load_compose()["services"]["api"])["INFRAI_TEMPORAL_NAMESPACE"]
    )


async def test_namespace_setup_creates_namespace_retention_and_search_attributes(
    temporal_server: TemporalServer,
) -> None:
    namespace = f"infrai-setup-{uuid.uuid4().hex[:8]}"
    first = run_namespace_setup(temporal_server.address, namespace)
    assert first.returncode == 0, first.stdout + first.stderr
    again = run_namespace_setup(temporal_server.address, namespace)  # a restarted stack runs it again
    assert again.returncode == 0, again.stdout + again.stderr

    client = await connect(Settings(temporal_address=temporal_server.address, temporal_namespace=namespace))
    described = await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace=namespace)
    )
    assert described.config.workflow_execution_retention_ttl.ToTimedelta().days == 30
    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    assert {key.name for key in sa.ALL} <= set(listed.custom_attributes)
