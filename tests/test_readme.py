"""The README stays honest: every setting the code reads is documented there."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices

from core.settings import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def _env_names() -> list[str]:
    names: list[str] = []
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names += [str(choice) for choice in alias.choices]
        elif isinstance(alias, str):
            names.append(alias)
        else:
            names.append(f"INFRAI_{name.upper()}")
    return names


def test_every_setting_is_listed_in_the_readme() -> None:
    missing = [name for name in _env_names() if f"`{name}`" not in README]
    assert missing == []


def test_the_readme_names_both_commands_and_ci_runs_the_second() -> None:
    assert "./dev up" in README and "./dev test" in README
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    assert "./dev test" in ci
