"""Typed settings: one frozen dataclass per concern, whose fields carry their own rules.

One definition serves three readers. Python code builds it directly (`GPTConfig(embed_dim=64)`);
a saved run's JSON is read back with `from_dict`, where a missing key takes its default (so a run
saved before a setting existed still loads) and an unknown key or a wrong type is refused; and
the command line gets one flag per field from `add_flags`. Every value is checked on
construction, and the error (`SettingError`) names the key, so each reader can say where the bad
value came from: `--lr must be ...` or `config.json: train.lr: must be ...`.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import types
import typing
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tinytorch.core.checks import is_int, is_number

S = TypeVar("S", bound="Settings")


@dataclass(frozen=True)
class Rule:
    """What a setting may hold beyond its type, and how the command line presents it."""

    help: str
    low: float | None = None  # smallest allowed value (numbers, and each number of a tuple)
    low_open: bool = False  # the bound itself is not allowed (lr > 0)
    high: float | None = None
    high_open: bool = False
    choices: Collection[Any] | None = None  # a live collection (e.g. a registry dict) is fine
    flag: bool = True  # offered on the command line
    metavar: str | None = None


def setting(default: Any, help: str, **rule: Any) -> Any:
    """A dataclass field with a default and a `Rule` (see `Rule` for the keywords)."""
    return field(default=default, metadata={"rule": Rule(help, **rule)})


class SettingError(ValueError):
    """A setting with a bad value; `key` names it and `problem` says what is wrong."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key, self.problem = key, problem


class Settings:
    """Base of the settings dataclasses: every field is checked (and normalised) on creation."""

    def __post_init__(self) -> None:
        hints = _type_hints(type(self))
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = _checked(f.name, getattr(self, f.name), hints[f.name], _rule(f))
            object.__setattr__(self, f.name, value)
        self.check_together()

    def check_together(self) -> None:
        """Rules between fields (e.g. min_lr <= lr); raise SettingError naming one of them."""

    @classmethod
    def from_dict(cls: type[S], data: Any) -> S:
        """Settings read back from JSON: missing keys take defaults, unknown keys are refused."""
        if not isinstance(data, Mapping):
            raise SettingError("(all)", f"must be a JSON object, got {type(data).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(str(key) for key in data if key not in names)
        if unknown:
            raise SettingError(unknown[0], f"unknown setting (known: {sorted(names)})")
        required = [
            f.name
            for f in dataclasses.fields(cls)  # type: ignore[arg-type]
            if f.default is dataclasses.MISSING and f.name not in data
        ]
        if required:
            raise SettingError(required[0], "is missing")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values (tuples become lists)."""
        return {
            f.name: _jsonable(getattr(self, f.name))
            for f in dataclasses.fields(self)  # type: ignore[arg-type]
        }

    @classmethod
    def add_flags(cls, parser: argparse.ArgumentParser | Any) -> None:
        """One `--flag` per field offered on the command line; a flag left out parses as None."""
        hints = _type_hints(cls)
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            rule = _rule(f)
            if rule is None or not rule.flag:
                continue
            kind, _ = _base_type(hints[f.name])
            options: dict[str, Any] = {"default": None, "dest": f.name, "metavar": rule.metavar}
            default = "" if f.default in (None, dataclasses.MISSING) else f" (default {f.default})"
            if kind is bool:
                options = {"dest": f.name, "action": argparse.BooleanOptionalAction}
            elif kind is tuple:
                options.update(type=float, nargs=2)
            else:
                choices = None if rule.choices is None else list(rule.choices)
                options.update(type=kind, choices=choices)
                if choices is not None:
                    options["metavar"] = "{" + ",".join(str(c) for c in choices) + "}"
            parser.add_argument(flag_name(f.name), help=rule.help + default, **options)

    @classmethod
    def given_flags(cls, arguments: argparse.Namespace) -> dict[str, Any]:
        """The fields whose flags appear on the command line, with their values."""
        return {
            f.name: getattr(arguments, f.name)
            for f in dataclasses.fields(cls)  # type: ignore[arg-type]
            if getattr(arguments, f.name, None) is not None
        }


def flag_name(key: str) -> str:
    return "--" + key.replace("_", "-")


# --------------------------------------------------------------------------- checking
def _rule(f: dataclasses.Field) -> Rule | None:
    return f.metadata.get("rule")


@typing.no_type_check
def _type_hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _base_type(hint: Any) -> tuple[type, bool]:
    """(the non-None type of a hint, whether None is allowed): `int | None` -> (int, True)."""
    optional = False
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional, hint = len(args) < len(typing.get_args(hint)), args[0]
    origin = typing.get_origin(hint)
    return (origin or hint), optional


def _checked(name: str, value: Any, hint: Any, rule: Rule | None) -> Any:
    kind, optional = _base_type(hint)
    if value is None and optional:
        return None
    if kind is bool:
        if not isinstance(value, bool):
            raise SettingError(name, f"must be true or false, got {value!r}")
        return value
    if kind is int:
        if not is_int(value) or not _in_range(value, rule):
            raise SettingError(name, f"must be {_describe('an integer', rule)}, got {value!r}")
        return int(value)
    if kind is float:
        if not is_number(value) or not math.isfinite(value) or not _in_range(value, rule):
            raise SettingError(name, f"must be {_describe('a number', rule)}, got {value!r}")
        return float(value)
    if kind is tuple:
        size = len(typing.get_args(hint))
        if (
            not isinstance(value, (list, tuple))
            or len(value) != size
            or not all(is_number(v) and math.isfinite(v) and _in_range(v, rule) for v in value)
        ):
            numbers = _describe(f"{size} numbers", rule)
            raise SettingError(name, f"must be {numbers}, got {value!r}")
        return tuple(float(v) for v in value)
    if kind is str:
        if not isinstance(value, str) or (rule and rule.choices and value not in rule.choices):
            allowed = f"one of {list(rule.choices)}" if rule and rule.choices else "a string"
            raise SettingError(name, f"must be {allowed}, got {value!r}")
        return value
    raise TypeError(f"setting {name!r} has an unsupported type {hint!r}")


def _in_range(value: float, rule: Rule | None) -> bool:
    if rule is None:
        return True
    if rule.low is not None and (value <= rule.low if rule.low_open else value < rule.low):
        return False
    return rule.high is None or (value < rule.high if rule.high_open else value <= rule.high)


def _describe(what: str, rule: Rule | None) -> str:
    """'an integer >= 1', 'a positive number', 'a number in [0, 1)', ..."""
    if rule is None or (rule.low is None and rule.high is None):
        return what
    if rule.high is None:
        if rule.low == 0 and rule.low_open:
            return what.replace("a number", "a positive number").replace(
                "an integer", "a positive integer"
            )
        return f"{what} {'>' if rule.low_open else '>='} {_number(rule.low)}"
    if rule.low is None:
        return f"{what} {'<' if rule.high_open else '<='} {_number(rule.high)}"
    left, right = "(" if rule.low_open else "[", ")" if rule.high_open else "]"
    return f"{what} in {left}{_number(rule.low)}, {_number(rule.high)}{right}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
