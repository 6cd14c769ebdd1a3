"""Schema validation of the workflow config with one readable line per error.

jsonschema's own messages name the offending value but not always its key, and never the keys or
values that would be allowed; Snakemake's ``validate`` then prints the whole sub-schema. This module
reports every error at once as ``key.path: what is wrong; allowed: ...`` before any job runs.
"""

from functools import cache, reduce
from operator import getitem
from pathlib import Path

import jsonschema
import yaml

from admixlib.configcheck import ConfigError


@cache
def _validator(schema_path: str | Path) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(yaml.safe_load(Path(schema_path).read_text()))


def _key(path) -> str:
    parts = [f"[{part}]" if isinstance(part, int) else f".{part}" for part in path]
    return "".join(parts).lstrip(".") or "(top level)"


def _describe(error: jsonschema.ValidationError) -> str:
    key, value, schema = _key(error.absolute_path), error.instance, error.schema
    if error.validator == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        unknown = sorted(set(value) - set(allowed))
        where = f"{key}." if error.absolute_path else ""
        return f"unknown key {', '.join(where + u for u in unknown)}; allowed keys: {', '.join(allowed)}"
    if error.validator == "enum":
        return f"{key} is {value!r}; allowed values: {', '.join(map(str, schema['enum']))}"
    if error.validator == "type":
        return f"{key} is {value!r}, which is not of type {error.validator_value}"
    if error.validator == "required":
        return f"{key} lacks a required key: {error.message}"
    if error.validator in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        bound = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}
        return f"{key} is {value!r}; allowed: {bound[error.validator]} {error.validator_value}"
    if error.validator == "minItems":
        return f"{key} is {value!r}; it needs at least {error.validator_value} item(s)"
    return f"{key}: {error.message}"


def coerce_command_line_strings(config: dict, schema_path: str | Path) -> None:
    """Give typed values back to strings that ``snakemake --config`` left in nested keys, in place.

    ``--config 'run={seeds: [7, 8]}'`` reaches the workflow as ``['7', '8']``. Where the schema wants
    a number, an integer, a boolean (``true``/``false``) or null, or one of an enum's numbers, and a string
    reads (as YAML) as such a value, the value replaces the string; any other string is left for
    validation to report.
    """
    validator = _validator(schema_path)
    errors = list(validator.iter_errors(config))
    errors += [sub for error in errors for sub in (error.context or [])]
    for error in errors:
        if error.validator not in ("type", "enum") or not isinstance(error.instance, str):
            continue
        value = _typed(error.instance)
        if value is _UNTYPED or not error.absolute_path:
            continue
        if error.validator == "enum":
            fits = value in error.validator_value
        else:
            types = (
                error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
            )
            fits = any(validator.is_type(value, t) for t in types)
        if fits:
            *parents, last = error.absolute_path
            reduce(getitem, parents, config)[last] = value


_UNTYPED = object()


def _typed(text: str):
    """The number, boolean or null that ``text`` reads as in YAML, or ``_UNTYPED``."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return _UNTYPED
    if isinstance(value, bool) and text.lower() not in ("true", "false"):
        return _UNTYPED  # YAML 1.1 also reads yes/no/on/off as booleans; a typed config would not
    return value if value is None or isinstance(value, (bool, int, float)) else _UNTYPED


def schema_errors(config: dict, schema_path: str | Path) -> list[str]:
    """Every violation of the JSON schema at ``schema_path`` (YAML) by ``config``, one line each,
    sorted by key; an empty list when ``config`` is valid."""
    errors = []
    for error in _validator(schema_path).iter_errors(config):
        if error.context:  # anyOf / oneOf: the branch that came closest says most
            error = jsonschema.exceptions.best_match(error.context)
        errors.append(_describe(error))
    return sorted(set(errors))


def check_schema(config: dict, schema_path: str | Path) -> None:
    """Raise :class:`ConfigError` listing every schema violation of ``config`` (see :func:`schema_errors`),
    after :func:`coerce_command_line_strings`."""
    coerce_command_line_strings(config, schema_path)
    errors = schema_errors(config, schema_path)
    if errors:
        raise ConfigError(f"invalid config ({schema_path}):\n  - " + "\n  - ".join(errors))
