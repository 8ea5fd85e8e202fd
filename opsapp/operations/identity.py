"""Identity inputs: declared per run type, normalised, and hashed into run_identity_hash.

The hash is sha256 over (tenant_id, type, canonical JSON of the normalised inputs): keys sorted,
id lists sorted and de-duplicated, defaults filled in. The initiator is never part of it, so two
admins clicking the same button share one run.

Kinds: "id" (positive integer), "id_list", "str_list", "bool", "datetime" (UTC ISO 8601), and the
scalars "str" (stripped, NFC, at most `max_length` characters, optional `choices`) and "int"
(a non-negative integer). Changing how an existing kind normalises changes the hashes of runs
already stored — a unit test pins one — so add a kind instead of altering one.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, get_args

FieldKind = Literal["id", "id_list", "str_list", "bool", "datetime", "str", "int"]
FIELD_KINDS: tuple[str, ...] = get_args(FieldKind)

STR_MAX_LENGTH = 200  # the default bound of a "str" input
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

_MISSING: Any = object()


class InvalidInputs(ValueError):
    """The identity inputs of a start request are unusable; the message says why."""


@dataclass(frozen=True)
class IdentityField:
    name: str
    kind: FieldKind
    # A value, or a zero-argument callable producing one; _MISSING makes the field required.
    default: Any = _MISSING
    choices: tuple[str, ...] | None = None  # allowed values of a str_list / str
    allow_empty: bool = False  # may an id_list / str_list / str be empty after normalising?
    description: str = ""
    empty_message: str = ""  # what to say when an empty value is refused (default: generic)
    max_length: int = STR_MAX_LENGTH  # longest "str" value accepted (after stripping)

    def __post_init__(self) -> None:
        if self.kind not in FIELD_KINDS:
            raise ValueError(f"identity field '{self.name}': unknown kind '{self.kind}'")
        if self.choices is not None and self.kind not in ("str", "str_list"):
            raise ValueError(f"identity field '{self.name}': choices need a str or str_list")

    @property
    def required(self) -> bool:
        return self.default is _MISSING

    def default_value(self) -> Any:
        return self.default() if callable(self.default) else self.default


def _as_positive_int(name: str, value: Any) -> int:
    # bool is an int subclass; True must not pass as id 1.
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidInputs(f"'{name}' must be a positive integer id")
    try:
        number = int(value)
    except ValueError:
        raise InvalidInputs(f"'{name}' must be a positive integer id") from None
    if number <= 0:
        raise InvalidInputs(f"'{name}' must be a positive integer id")
    return number


def _as_non_negative_int(name: str, value: Any) -> int:
    message = f"'{name}' must be a whole number (0 or more)"
    # bool is an int subclass (True is not 1 here); 2.5 and "2.5" are not whole numbers.
    if isinstance(value, bool):
        raise InvalidInputs(message)
    if isinstance(value, float):
        if not value.is_integer():
            raise InvalidInputs(message)
        value = int(value)
    if isinstance(value, str):
        text = value.strip()
        if not text.isascii() or not text.isdigit():
            raise InvalidInputs(message)
        value = int(text)
    if not isinstance(value, int) or value < 0:
        raise InvalidInputs(message)
    return value


def _as_str(spec: IdentityField, value: Any) -> str | None:
    if not isinstance(value, str):
        raise InvalidInputs(f"'{spec.name}' must be a string")
    text = unicodedata.normalize("NFC", value.strip())
    if not text:
        if spec.allow_empty:
            return ""
        if spec.required:
            raise InvalidInputs(spec.empty_message or f"'{spec.name}' must not be empty")
        default = spec.default_value()  # an empty value means "not given": the default
        if default is None or (isinstance(default, str) and not default.strip()):
            return None if default is None else ""
        return _as_str(spec, default)
    if len(text) > spec.max_length:
        raise InvalidInputs(f"'{spec.name}' must be at most {spec.max_length} characters")
    if _CONTROL.search(text):
        raise InvalidInputs(f"'{spec.name}' must not contain control characters")
    if spec.choices is not None and text not in spec.choices:
        allowed = ", ".join(spec.choices[:10])
        raise InvalidInputs(f"'{spec.name}' must be one of: {allowed}")
    return text


def _normalise_value(spec: IdentityField, value: Any) -> Any:
    if spec.kind == "id":
        return _as_positive_int(spec.name, value)
    if spec.kind == "int":
        return _as_non_negative_int(spec.name, value)
    if spec.kind == "str":
        return _as_str(spec, value)
    if spec.kind == "bool":
        if not isinstance(value, bool):
            raise InvalidInputs(f"'{spec.name}' must be true or false")
        return value
    if spec.kind == "datetime":
        return _normalise_datetime(spec.name, value)
    if not isinstance(value, list | tuple | set | frozenset):
        raise InvalidInputs(f"'{spec.name}' must be a list")
    if spec.kind == "id_list":
        items: list[Any] = sorted({_as_positive_int(spec.name, v) for v in value})
    else:
        if not all(isinstance(v, str) and v for v in value):
            raise InvalidInputs(f"'{spec.name}' must be a list of non-empty strings")
        items = sorted(set(value))
        unknown = [v for v in items if spec.choices is not None and v not in spec.choices]
        if unknown:
            raise InvalidInputs(f"'{spec.name}' has unsupported values: {', '.join(unknown[:5])}")
    if not items and not spec.allow_empty:
        raise InvalidInputs(spec.empty_message or f"'{spec.name}' must not be empty")
    return items


def _normalise_datetime(name: str, value: Any) -> str:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidInputs(f"'{name}' must be an ISO 8601 date-time") from None
    if not isinstance(value, datetime):
        raise InvalidInputs(f"'{name}' must be an ISO 8601 date-time")
    if value.tzinfo is None:
        raise InvalidInputs(f"'{name}' must carry a timezone offset")
    return value.astimezone(UTC).replace(microsecond=0).isoformat()


@dataclass(frozen=True)
class IdentitySchema:
    fields: tuple[IdentityField, ...] = ()
    # Optional check across fields after normalising (raise InvalidInputs).
    validate: Callable[[dict[str, Any]], None] | None = field(default=None, compare=False)

    def normalise(self, inputs: Mapping[str, Any] | None) -> dict[str, Any]:
        """Return the canonical inputs: known keys only, defaults filled, lists sorted/unique."""
        inputs = dict(inputs or {})
        known = {f.name for f in self.fields}
        unknown = sorted(set(inputs) - known)
        if unknown:
            allowed = ", ".join(sorted(known)) or "none"
            raise InvalidInputs(f"unknown input(s) {', '.join(unknown)}; allowed: {allowed}")
        result: dict[str, Any] = {}
        for spec in self.fields:
            if spec.name in inputs and inputs[spec.name] is not None:
                result[spec.name] = _normalise_value(spec, inputs[spec.name])
            elif spec.required:
                raise InvalidInputs(f"'{spec.name}' is required")
            else:
                default = spec.default_value()
                result[spec.name] = None if default is None else _normalise_value(spec, default)
        if self.validate:
            self.validate(result)
        return result


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def identity_hash(*, tenant_id: int, run_type: str, normalised_inputs: Mapping[str, Any]) -> str:
    """sha256 hex of (tenant, type, canonical inputs). Inputs must already be normalised."""
    payload = canonical_json([int(tenant_id), run_type, dict(normalised_inputs)])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()
