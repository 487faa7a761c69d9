"""Typed configuration base: pydantic v2 models loaded from YAML with clear errors.

Every config in qnetrl (env, agent, study) subclasses :class:`ConfigBase`. Unknown keys are
rejected, and a validation error names the dotted field path, its allowed range and the value
given, in the scikit-learn wording used across the package.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self, get_args

import annotated_types as at
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from pydantic.fields import FieldInfo

from qnetrl._validation import InvalidParameterError, format_range

__all__ = ["ConfigBase", "ConfigError", "describe_field", "field_bounds", "invalid_examples"]


class ConfigError(InvalidParameterError):
    """A configuration value is missing, unknown or outside its allowed range."""


def _field_info(model: type[BaseModel], loc: tuple[int | str, ...]) -> FieldInfo | None:
    """Follow a pydantic error location through nested models to the field it names."""
    current: Any = model
    info: FieldInfo | None = None
    for part in loc:
        if isinstance(part, int) or not (
            isinstance(current, type) and issubclass(current, BaseModel)
        ):
            # Step into a container or union (list[Model], Model | None) to find a model.
            inner = [
                a for a in get_args(current) if isinstance(a, type) and issubclass(a, BaseModel)
            ]
            if isinstance(part, int):
                current = inner[0] if inner else None
                continue
            if not inner:
                return info
            current = inner[0]
        if not isinstance(part, str) or part not in current.model_fields:
            return info
        info = current.model_fields[part]
        current = info.annotation
    return info


def _section_model(model: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The config class of the nested section at ``loc``, if it is one."""
    info = _field_info(model, loc)
    if info is None:
        return None
    candidates = [info.annotation, *get_args(info.annotation)]
    for ann in candidates:
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            return ann
    return None


def field_bounds(info: FieldInfo) -> tuple[Any, bool, Any, bool]:
    """The numeric bounds declared on a field: ``(low, low_inclusive, high, high_inclusive)``."""
    low = high = None
    low_inc = high_inc = True
    for meta in info.metadata:
        if isinstance(meta, at.Ge):
            low, low_inc = meta.ge, True
        elif isinstance(meta, at.Gt):
            low, low_inc = meta.gt, False
        elif isinstance(meta, at.Le):
            high, high_inc = meta.le, True
        elif isinstance(meta, at.Lt):
            high, high_inc = meta.lt, False
    return low, low_inc, high, high_inc


def invalid_examples(model: type[BaseModel], prefix: str = "") -> list[tuple[str, Any]]:
    """One out-of-range value per bounded numeric field, nested models included.

    Like scikit-learn's ``generate_invalid_param_val``: tests feed each value in and check the
    error names the field.
    """
    out: list[tuple[str, Any]] = []
    for name, info in model.model_fields.items():
        ann = info.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out += invalid_examples(ann, f"{prefix}{name}.")
            continue
        low, low_inc, high, high_inc = field_bounds(info)
        step = 1 if ann is int else 0.5
        if low is not None:
            out.append((prefix + name, low - step if low_inc else low))
        elif high is not None:
            out.append((prefix + name, high + step if high_inc else high))
    return out


def describe_field(info: FieldInfo | None) -> str:
    """Human-readable allowed values of a field: its type and numeric range."""
    if info is None:
        return "a valid value"
    low, low_inc, high, high_inc = field_bounds(info)
    ann = info.annotation
    name = getattr(ann, "__name__", None) or str(ann).replace("typing.", "")
    if low is None and high is None:
        return f"of type {name}"
    rng = format_range(low, high, low_inclusive=low_inc, high_inclusive=high_inc)
    article = "an" if name[:1] in "aeiou" else "a"
    return f"{article} {name} in the range {rng}"


class ConfigBase(BaseModel):
    """Base of every typed config: frozen, unknown keys rejected, YAML in and out."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    @model_validator(mode="before")
    @classmethod
    def _fill_partial_sections(cls, data: Any) -> Any:
        """A nested section given in part keeps this config's defaults for the rest.

        ``{"agent": {"lr": 5e-4}}`` changes only ``agent.lr``: the other agent fields keep the
        enclosing config's default agent (e.g. a study's tuned budget), not the agent class's
        own defaults. A section given as a config object is taken as it is.
        """
        if not isinstance(data, Mapping):
            return data
        out = dict(data)
        for name, value in data.items():
            info = cls.model_fields.get(name) if isinstance(name, str) else None
            if info is None or not isinstance(value, Mapping):
                continue
            default = info.get_default(call_default_factory=True)
            if isinstance(default, BaseModel):
                out[name] = _merge_into(default, value)
        return out

    @classmethod
    def validate_dict(cls, data: dict[str, Any], *, source: str = "config") -> Self:
        """Build the config from a dict, turning pydantic errors into a :class:`ConfigError`."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(_format_errors(cls, exc, source)) from None

    @classmethod
    def from_yaml(cls, path: str | Path) -> Self:
        """Load and validate a YAML file; errors name the file and the field."""
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except FileNotFoundError:
            raise ConfigError(f"Config file {str(path)!r} does not exist.") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"Config file {str(path)!r} is not valid YAML: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError(
                f"Config file {str(path)!r} must hold a mapping of fields, "
                f"got {type(data).__name__}."
            )
        return cls.validate_dict(data, source=str(path))

    def with_overrides(self, overrides: dict[str, Any]) -> Self:
        """A copy with dotted-key overrides (``{"agent.lr": 1e-3}``), validated again."""
        data = self.model_dump()
        for key, value in overrides.items():
            node = data
            parts = key.split(".")
            for part in parts[:-1]:
                if not isinstance(node.get(part), dict):
                    raise ConfigError(f"Unknown config field {key!r} in {type(self).__name__}.")
                node = node[part]
            if parts[-1] not in node:
                raise ConfigError(f"Unknown config field {key!r} in {type(self).__name__}.")
            node[parts[-1]] = value
        return type(self).validate_dict(data, source="overrides")

    def to_yaml(self) -> str:
        """The resolved config as YAML text (what run directories store)."""
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


def _merge_into(default: BaseModel, given: Mapping[str, Any]) -> dict[str, Any]:
    """``default``'s fields as a dict with ``given`` on top, nested sections merged too."""
    out = default.model_dump()
    for key, value in given.items():
        current = getattr(default, key, None) if key in type(default).model_fields else None
        if isinstance(current, BaseModel) and isinstance(value, Mapping):
            out[key] = _merge_into(current, value)
        else:
            out[key] = value
    return out


def _format_errors(cls: type[BaseModel], exc: ValidationError, source: str) -> str:
    lines = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        dotted = ".".join(str(p) for p in loc) or "<root>"
        if err["type"] == "extra_forbidden":
            parent = cls if len(loc) == 1 else _section_model(cls, loc[:-1])
            allowed = ", ".join(sorted(parent.model_fields)) if parent else "see the docs"
            lines.append(f"Unknown field {dotted!r} in {cls.__name__} (known fields: {allowed}).")
            continue
        if err["type"] == "missing":
            lines.append(f"The {dotted!r} field of {cls.__name__} is required.")
            continue
        if err["type"] == "value_error":  # a field validator's own rule, stated by it
            rule = str(err["msg"]).removeprefix("Value error, ")
            if not loc:
                lines.append(f"Invalid {cls.__name__}: {rule}.")
                continue
            lines.append(
                f"The {dotted!r} field of {cls.__name__} is invalid: {rule}. "
                f"Got {err.get('input')!r} instead."
            )
            continue
        allowed = describe_field(_field_info(cls, loc))
        lines.append(
            f"The {dotted!r} field of {cls.__name__} must be {allowed}. "
            f"Got {err.get('input')!r} instead ({err['msg']})."
        )
    return f"Invalid {source}: " + " ".join(lines)
