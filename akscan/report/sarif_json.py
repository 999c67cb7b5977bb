"""sarif-om objects to plain JSON data, under the names the final SARIF 2.1.0 schema uses.

sarif-om's classes are attrs classes whose fields carry the schema name in their metadata
(`schema_property_name`). Two things of sarif-om 1.0.4 must be worked around here:
- its own serialiser drops every value equal to the field's default, and the defaults of
  `level` ("warning") are also meaningful values: `level` is always written;
- `Suppression.state` comes from a pre-release schema: the final schema calls it `status`
  and forbids other properties, so it is renamed.
"""

from __future__ import annotations

from typing import Any

import attr
import sarif_om

# Written even when equal to sarif-om's default: GitHub reads them and they must be explicit.
_ALWAYS_WRITTEN = frozenset({"level"})
_RENAMED = {(sarif_om.Suppression, "state"): "status"}


def to_data(value: Any) -> Any:
    """Dictionaries, lists and scalars, ready for `json.dumps`; `None` values are left out."""
    if attr.has(type(value)):
        return _object(value)
    if isinstance(value, dict):
        return {key: to_data(item) for key, item in value.items() if item is not None}
    if isinstance(value, (list, tuple)):
        return [to_data(item) for item in value]
    return value


def _object(value: Any) -> dict[str, Any]:
    cls = type(value)
    data: dict[str, Any] = {}
    for field in attr.fields(cls):
        item = getattr(value, field.name)
        name = field.metadata["schema_property_name"]
        if item is None or (name not in _ALWAYS_WRITTEN and item == _default(field)):
            continue
        data[_RENAMED.get((cls, name), name)] = to_data(item)
    return data


def _default(field: Any) -> Any:
    default = field.default
    if isinstance(default, attr.Factory):  # type: ignore[arg-type]
        return default.factory()
    return default
