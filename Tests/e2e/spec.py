"""openapi.yaml as tests read it: the document, and validators for its component schemas.

`validator("Run")` checks a JSON value against `#/components/schemas/Run` with the spec's own
references resolved (OpenAPI 3.1's schema dialect, JSON Schema 2020-12), so a test can hold a
real response to the contract, not only to what a generated client happens to parse.
"""

from functools import lru_cache
from pathlib import Path

import yaml
from jsonschema.exceptions import best_match
from openapi_schema_validator import OAS31Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

ROOT = Path(__file__).resolve().parent.parent.parent
SPEC = yaml.safe_load((ROOT / "openapi.yaml").read_text())
_REGISTRY = Registry().with_resource("urn:openapi", Resource.from_contents(SPEC, default_specification=DRAFT202012))


@lru_cache(maxsize=None)
def validator(schema_name):
    return OAS31Validator({"$ref": f"urn:openapi#/components/schemas/{schema_name}"}, registry=_REGISTRY)


def schema_errors(schema_name, value):
    """How `value` breaks the named schema: empty when it fits, else the most telling error
    first (inside a `oneOf`, the branch that came closest), then the count of the others."""
    errors = list(validator(schema_name).iter_errors(value))
    if not errors:
        return []
    mapping = SPEC["components"]["schemas"][schema_name].get("discriminator", {}).get("mapping", {})
    if isinstance(value, dict) and value.get("pattern") in mapping:
        # A discriminated union: the branch the value names says what is wrong with it.
        branch = mapping[value["pattern"]].rsplit("/", 1)[1]
        errors = list(validator(branch).iter_errors(value)) or errors
    best = best_match(errors)
    where = "/".join(map(str, best.absolute_path)) or "(root)"
    return [f"{where}: {best.message[:300]}"] + ([f"and {len(errors) - 1} more"] if len(errors) > 1 else [])
