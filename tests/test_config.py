"""The typed config base: YAML loading, overrides and errors naming field and range."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field, field_validator

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


class Inner(ConfigBase):
    gamma: float = Field(0.99, gt=0, le=1)
    steps: int = Field(100, ge=1)


class Tuned(ConfigBase):
    lr: float = Field(1e-3, gt=0, le=1)
    hidden: int = Field(64, ge=1)
    inner: Inner = Inner()


class Outer(ConfigBase):
    """An enclosing config whose default section differs from the section class's defaults."""

    agent: Tuned = Field(default_factory=lambda: Tuned(hidden=256, inner=Inner(steps=7)))
    fractions: tuple[float, ...] = (0.1,)

    @field_validator("fractions")
    @classmethod
    def _small(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if any(f > 0.3 for f in v):
            raise ValueError("every fraction must be at most 0.3")
        return v


def test_partial_nested_section_keeps_the_enclosing_defaults(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("agent:\n  lr: 0.5\n  inner:\n    gamma: 0.9\n")
    cfg = Outer.from_yaml(path)
    assert cfg.agent == Tuned(lr=0.5, hidden=256, inner=Inner(gamma=0.9, steps=7))
    assert Outer.validate_dict({"agent": {"lr": 0.5}}).agent.hidden == 256
    # a section given as an object is taken as it is
    assert Outer(agent=Tuned(lr=0.5)).agent.hidden == 64
    # overrides and a full dump still round-trip
    assert (
        Outer.validate_dict(cfg.model_dump())
        == cfg
        == Outer().with_overrides({"agent.lr": 0.5, "agent.inner.gamma": 0.9})
    )


def test_nested_unknown_field_lists_the_section_fields_and_validator_rules_read_well() -> None:
    known = r"'agent.lrr' in Outer \(known fields: hidden, inner, lr\)"
    with pytest.raises(ConfigError, match=known):
        Outer.validate_dict({"agent": {"lrr": 1.0}})
    with pytest.raises(
        ConfigError,
        match=r"The 'fractions' field of Outer is invalid: every fraction must be at most 0.3\. "
        r"Got \[0.5\] instead\.",
    ):
        Outer.validate_dict({"fractions": [0.5]})
