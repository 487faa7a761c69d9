"""The typed config base: YAML loading, overrides and errors naming field and range."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field

from qnetrl._validation import InvalidParameterError
from qnetrl.config import ConfigBase, ConfigError, invalid_examples


class Agent(ConfigBase):
    lr: float = Field(1e-3, gt=0, le=1, description="Learning rate.")
    hidden: int = Field(64, ge=1, le=4096, description="Hidden units.")


class Study(ConfigBase):
    seeds: int = Field(10, ge=1, description="Number of seeds.")
    agent: Agent = Agent()
    name: str = "edge"


def test_defaults_and_yaml_round_trip(tmp_path: Path) -> None:
    cfg = Study().with_overrides({"agent.lr": 0.5, "seeds": 3})
    path = tmp_path / "c.yaml"
    path.write_text(cfg.to_yaml())
    assert Study.from_yaml(path) == cfg
    assert cfg.agent.lr == 0.5 and cfg.seeds == 3


@pytest.mark.parametrize(("field", "bad"), invalid_examples(Study))
def test_every_bounded_field_rejects_out_of_range(field: str, bad: object) -> None:
    with pytest.raises(ConfigError, match=f"'{field}' field of Study must be .* in the range"):
        Study().with_overrides({field: bad})


def test_invalid_examples_cover_nested_fields() -> None:
    assert {f for f, _ in invalid_examples(Study)} == {"seeds", "agent.lr", "agent.hidden"}


def test_error_names_range_and_value(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("agent:\n  lr: 5\n")
    with pytest.raises(ConfigError) as info:
        Study.from_yaml(path)
    msg = str(info.value)
    assert "'agent.lr'" in msg and "(0, 1]" in msg and "Got 5" in msg and str(path) in msg
    assert isinstance(info.value, InvalidParameterError)
    assert isinstance(info.value, ValueError) and isinstance(info.value, TypeError)


def test_unknown_field_listed_with_known_fields(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("sedes: 3\n")
    with pytest.raises(ConfigError, match=r"Unknown field 'sedes'.*agent, name, seeds"):
        Study.from_yaml(path)


def test_unknown_override_key() -> None:
    with pytest.raises(ConfigError, match=r"Unknown config field 'agent\.momentum'"):
        Study().with_overrides({"agent.momentum": 0.9})


def test_bad_yaml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("seeds: [1,\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        Study.from_yaml(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        Study.from_yaml(tmp_path / "missing.yaml")
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("3\n")
    with pytest.raises(ConfigError, match="mapping"):
        Study.from_yaml(scalar)


def test_configs_are_frozen() -> None:
    cfg = Study()
    with pytest.raises(ValueError, match="frozen"):
        cfg.seeds = 4  # type: ignore[misc]
