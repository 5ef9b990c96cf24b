"""JSON Schema from attrs models, and request bodies checked against exactly that schema.

Request and response models are attrs classes (``models.py``). This module turns them into
JSON Schema (draft 2020-12, as OpenAPI 3.1 uses) for the OpenAPI document, and validates
incoming JSON against the same generated schema before cattrs structures it: the document
and the server cannot disagree about what a valid body is. Unknown fields are rejected by
name (``additionalProperties: false``).

Field constraints live in attrs metadata: ``attrs.field(metadata=spec(maxLength=200))``.
"""

from __future__ import annotations

import functools
import json
import types
import typing
from collections.abc import Mapping
from enum import Enum
from typing import Any

import attrs
import cattrs
from cattrs.preconf.json import make_converter
from cattrs.strategies import configure_union_passthrough
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError as SchemaError

from smdh.domain.shared.ids import Identifier
from smdh.entrypoints.http.core import ApiProblem

REF_PREFIX = "#/components/schemas/"
_PRIMITIVES: Mapping[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}
_MAX_MESSAGE = 200


def spec(description: str = "", *, nullable: bool = True, **schema: Any) -> dict[str, Any]:
    """attrs field metadata: extra JSON Schema keywords and a description.

    ``nullable=False`` on an ``X | None = None`` field means "may be left out, may not be
    null" (PATCH bodies: absent keeps the current value).
    """
    meta: dict[str, Any] = {"schema": schema, "nullable": nullable}
    if description:
        meta["description"] = description
    return meta


class SchemaRegistry:
    """Collects component schemas while generating; ``schemas`` ends up in the document."""

    def __init__(self) -> None:
        self.schemas: dict[str, dict[str, Any]] = {}

    def ref(self, cls: type) -> dict[str, Any]:
        name = cls.__name__
        if name not in self.schemas:
            self.schemas[name] = {}  # placeholder: allows recursive models
            self.schemas[name] = self._object_schema(cls)
        return {"$ref": REF_PREFIX + name}

    def for_type(self, tp: Any, *, nullable: bool = True) -> dict[str, Any]:
        if tp is Any or tp is object:
            return {}
        if tp in _PRIMITIVES:
            return {"type": _PRIMITIVES[tp]}
        if tp is type(None):
            return {"type": "null"}
        if isinstance(tp, type) and issubclass(tp, Identifier):
            return {"type": "string", "pattern": f"^{tp.pattern.pattern}$"}
        if isinstance(tp, type) and issubclass(tp, Enum):
            return {"type": "string", "enum": [member.value for member in tp]}
        if attrs.has(tp):
            return self.ref(tp)
        origin, args = typing.get_origin(tp), typing.get_args(tp)
        if origin is typing.Literal:
            return {"enum": list(args)}
        if origin in (typing.Union, types.UnionType):
            return self._union(args, nullable=nullable)
        if origin in (tuple, list):
            return {"type": "array", "items": self.for_type(args[0]) if args else {}}
        if origin in (dict, Mapping) or origin is getattr(typing, "Mapping", None):
            value = self.for_type(args[1]) if len(args) == 2 else {}
            return {"type": "object", "additionalProperties": value}
        if isinstance(origin, type) and issubclass(origin, Mapping):
            value = self.for_type(args[1]) if len(args) == 2 else {}
            return {"type": "object", "additionalProperties": value}
        raise TypeError(f"no JSON Schema for {tp!r}")

    def _union(self, args: tuple[Any, ...], *, nullable: bool) -> dict[str, Any]:
        members = [a for a in args if nullable or a is not type(None)]
        if len(members) == 1:
            return self.for_type(members[0])
        if all(a in _PRIMITIVES or a is type(None) for a in members):
            names = [_PRIMITIVES.get(a, "null") for a in members]
            if "number" in names and "integer" in names:
                names.remove("integer")
            return {"type": names}
        return {"anyOf": [self.for_type(a) for a in members]}

    def _object_schema(self, cls: type) -> dict[str, Any]:
        hints = typing.get_type_hints(cls)
        properties: dict[str, Any] = {}
        required: list[str] = []
        for field in attrs.fields(cls):
            meta = field.metadata
            prop = self.for_type(hints[field.name], nullable=meta.get("nullable", True))
            if meta.get("schema"):
                prop = {**prop, **meta["schema"]} if "$ref" not in prop else prop
            if "description" in meta:
                prop = {**prop, "description": meta["description"]}
            properties[field.name] = prop
            if field.default is attrs.NOTHING:
                required.append(field.name)
        schema: dict[str, Any] = {
            "type": "object",
            "properties": properties,
            "additionalProperties": False,
        }
        if required:
            schema["required"] = required
        doc = (cls.__doc__ or "").strip().split("\n\n")[0]
        if doc:
            schema["description"] = " ".join(doc.split())
        return schema


def _make_request_converter() -> cattrs.Converter:
    converter = make_converter(forbid_extra_keys=True)
    configure_union_passthrough(str | int | float | bool | None, converter)
    converter.register_structure_hook_func(
        lambda t: isinstance(t, type) and issubclass(t, Identifier),
        lambda value, t: t(value),
    )
    return converter


request_converter = _make_request_converter()


@functools.cache
def _validator(model: type) -> Draft202012Validator:
    registry = SchemaRegistry()
    root = registry.ref(model)
    document = {**root, "components": {"schemas": registry.schemas}}
    return Draft202012Validator(document)


def _shorten(text: str) -> str:
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 3] + "..."


def _describe(error: SchemaError) -> str:
    where = error.json_path
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        unknown = sorted(str(k) for k in error.instance if k not in allowed)
        return _shorten(f"{where}: unknown field(s): {', '.join(unknown)}")
    if error.validator in ("maxLength", "pattern", "enum", "type", "minLength"):
        return _shorten(f"{where}: {error.validator} check failed ({error.validator_value!r})")
    return _shorten(f"{where}: {error.message}")


def parse_json(raw: bytes) -> Any:
    """JSON text to Python values; NaN/Infinity and invalid UTF-8 are refused (400)."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not valid JSON")

    try:
        return json.loads(raw.decode("utf-8"), parse_constant=refuse)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ApiProblem(400, "malformed-json", f"the body is not valid JSON: {exc}") from None


def structure_body(value: Any, model: type) -> Any:
    """Validate ``value`` against ``model``'s generated schema, then structure it (400s)."""
    errors = sorted(_validator(model).iter_errors(value), key=lambda e: list(e.absolute_path))
    if errors:
        messages = [_describe(e) for e in errors[:10]]
        raise ApiProblem(400, "invalid-body", "; ".join(messages), extra={"errors": messages})
    try:
        return request_converter.structure(value, model)
    except Exception as exc:  # the schema passed, so this is a domain-level refusal
        messages = (
            [_shorten(m) for m in cattrs.transform_error(exc)]
            if isinstance(exc, cattrs.BaseValidationError)
            else [_shorten(str(exc))]
        )
        raise ApiProblem(
            400, "invalid-body", "; ".join(messages), extra={"errors": messages}
        ) from None
