"""The README stays honest: every setting the code reads is documented there."""

from __future__ import annotations

from pathlib import Path

from core.settings import setting_env_names

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_every_setting_is_listed_in_the_readme() -> None:
    missing = [name for name in setting_env_names() if f"`{name}`" not in README]
    assert missing == []


def test_the_readme_names_both_commands_and_ci_runs_the_second() -> None:
    assert "./dev up" in README and "./dev test" in README
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    assert "./dev test" in ci
