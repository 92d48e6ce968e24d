"""One package list: pyproject.toml's setuptools ``include`` says what ``pip install .`` ships; the image is
``pip install .`` of the build context and mypy checks the same packages (plus bench)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from tests.fixtures.compose import (
    DOCKERFILE,
    REPO,
    clean_host_env,
    copy_build_context,
    image_source_dirs,
    listed_packages,
    package_patterns,
)

ENTRY_POINTS = ["api.app", "worker.runner", "localvendor.server", "storage.ensure_bucket"]
ENTRY_POINTS += ["observability.probe"]


def test_the_list_names_the_worker_and_the_jobs_layer() -> None:
    assert "worker" in listed_packages()
    assert "jobs*" in package_patterns()  # the Temporal client layer, once it lands


def test_mypy_checks_the_listed_packages_and_bench() -> None:
    mypy = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["mypy"]
    assert sorted(mypy["packages"]) == sorted([*listed_packages(), "bench"])


def test_the_image_installs_the_project_instead_of_copying_folders() -> None:
    text = DOCKERFILE.read_text()
    assert "pip install --no-deps --no-build-isolation /src" in text
    copies = [line for line in text.splitlines() if line.startswith("COPY ")]
    assert all(line.startswith(("COPY --from=", "COPY . /src", "COPY requirements.lock")) for line in copies)


def test_pip_install_of_the_build_context_ships_the_image_packages(tmp_path: Path) -> None:
    context = copy_build_context(tmp_path / "context")
    site = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation"]
    install = subprocess.run(
        [*pip, "--target", str(site), str(context)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr
    installed = sorted(p.name for p in site.iterdir() if (p / "__init__.py").exists())
    assert installed == image_source_dirs()
    for data in ["api/static/index.html", "vendors/catalog.toml", "accounts/migrations/script.py.mako"]:
        assert (site / data).exists(), data

    # From outside the repository, with the installed copy first on the path: the code it imports is the
    # installed one (the shared venv supplies only the dependencies).
    probe = "; ".join(f"import {m}" for m in ENTRY_POINTS)
    probe += "; print(api.app.__file__, worker.runner.__file__)"
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env={**clean_host_env(), "PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert all(path.startswith(str(site)) for path in result.stdout.split()), result.stdout
