"""The README stays honest: its commands are the real ones and its requests hit real routes. (The settings
table and the links are checked in tests/test_docs.py.)"""

from __future__ import annotations

import re
from pathlib import Path

from api.app import create_app
from core.settings import Settings
from tests.doc_pages import README, REPO, code_blocks

TEXT = README.read_text()


def _dev_subcommands() -> set[str]:
    """The commands the ``dev`` script's ``case`` accepts."""
    return set(re.findall(r"^\s+([a-z]+)\)", (REPO / "dev").read_text(), re.MULTILINE))


def _dev_invocations() -> list[str]:
    shell = "\n".join(code_blocks(README, "sh"))
    return re.findall(r"(?:^|`|\s)\./dev ([a-z]+)", shell + "\n" + TEXT)


def test_the_readme_names_both_commands_and_ci_runs_the_second() -> None:
    assert "./dev up" in TEXT and "./dev test" in TEXT
    assert "./dev test" in (REPO / ".ci" / "run").read_text()


def test_every_dev_command_in_the_readme_is_one_the_script_has() -> None:
    used = set(_dev_invocations())
    assert {"up", "test"} <= used
    assert used <= _dev_subcommands()


def test_files_the_readme_names_exist() -> None:
    named = set(re.findall(r"`[^`]*?((?:tests|docs|sdks|bench|api|vendors|localvendor)/[\w./-]+\.\w+)", TEXT))
    missing = [path for path in named if not (REPO / path).exists()]
    assert named and missing == []


def test_the_readme_requests_hit_real_routes(tmp_path: Path) -> None:
    paths = create_app(Settings(data_dir=tmp_path)).openapi()["paths"]
    routes = [re.compile("^" + re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(p)) + "$") for p in paths]
    shell = "\n".join(code_blocks(README, "sh"))
    used = re.findall(r"http://127\.0\.0\.1:8000(/v1/[^\s\"'?]*)", shell)
    assert used
    assert [path for path in used if not any(r.match(path) for r in routes)] == []


def test_the_python_example_compiles() -> None:
    (example,) = code_blocks(README, "python")
    compile(example, "README.md", "exec")


def test_the_readme_stays_short() -> None:
    # Issue 14: the README is the front door (what it is, two commands, one video, the map); detail
    # belongs in docs/.
    assert len(TEXT.splitlines()) <= 200
