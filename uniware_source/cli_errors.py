"""How the command tells a failure: one line on stderr, not a traceback (with -v, the traceback
too). A missing setting and a setting of the wrong type are named in full, with their
environment variable; any other failure by the error worth showing in the chain dlt wrapped
around it."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from dlt.common.configuration.exceptions import (
    ConfigFieldMissingException,
    ConfigValueCannotBeCoercedException,
    LookupTrace,
    LookupTraces,
)

from uniware_source.api.errors import UniwareError
from uniware_source.settings import UniwareSourceConfiguration


def _root_cause(exc: BaseException) -> BaseException:
    """The error worth showing in the chain dlt wrapped around it: ours (or a missing setting) if
    there is one, else the innermost, which says what actually went wrong. Not past an OS error
    raised while another was handled: that one ended the work (a full disk, where a hard link
    across file systems had failed first and a copy was tried)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in chain):
        if isinstance(
            current, UniwareError | ConfigFieldMissingException | ConfigValueCannotBeCoercedException
        ):
            return current
        chain.append(current)
        if current.__cause__ is None and isinstance(current, OSError) and current.errno is not None:
            break  # (an OS error proper: a request's error, whose message holds its URL, goes on)
        current = current.__cause__ or current.__context__
    return chain[-1]


def report_failure(exc: Exception, verbose: bool, command: str = "run") -> None:
    """One clear line on stderr, not a traceback."""
    cause = _root_cause(exc)
    if isinstance(cause, ConfigFieldMissingException):
        missing = ", ".join(_missing_settings(cause.traces) or cause.fields)
        print(
            f"uniware: missing setting(s): {missing} (see .dlt/config.toml and secrets.toml)", file=sys.stderr
        )
        return
    if isinstance(cause, ConfigValueCannotBeCoercedException):
        print(f"uniware: {_unreadable_setting(cause)}", file=sys.stderr)
        return
    text = " ".join(str(cause).split())
    print(f"uniware: {command} failed: {type(cause).__name__}: {text[:500]}", file=sys.stderr)
    if verbose:
        logging.exception("details")


def _unreadable_setting(exc: ConfigValueCannotBeCoercedException) -> str:
    """A setting whose value is not of its type, named with its environment variable where it is
    one of the source's (`poll_interval` = `abc`); a secret's value is not shown."""
    name = exc.field_name
    kind = getattr(exc.hint, "__name__", str(exc.hint))
    expected = _EXPECTED.get(kind, f"a {kind}")
    where = (
        f"[sources.uniware] {name}, or SOURCES__UNIWARE__{name.upper()}"
        if name in UniwareSourceConfiguration.__annotations__
        else "its section of .dlt/config.toml or secrets.toml, or its environment variable"
    )
    secret = any(word in name.lower() for word in ("password", "secret", "token", "key"))
    value = "" if secret else f" {exc.field_value!r}"
    return f"setting {name}: the value{value} is not {expected} (set in {where})"


_EXPECTED = {
    "float": "a number",
    "int": "a whole number",
    "bool": "true or false",
    "list": "a list",
    "dict": "a table",
}


def _missing_settings(traces: Mapping[str, Sequence[Any]]) -> list[str]:
    """Each missing setting by its full name and its environment variable, from the lookups dlt
    made (`destination.postgres.credentials.password (DESTINATION__POSTGRES__CREDENTIALS__PASSWORD)`):
    a bare `credentials` reads like the Uniware user's when it is the destination's password. A
    field of a nested configuration is named by its own lookups; a field's most specific lookup
    (the most sections) names it."""
    out: list[str] = []
    for field, lookups in traces.items():
        for lookup in lookups:
            if isinstance(lookup, LookupTraces):  # a nested configuration with fields of its own missing
                out += _missing_settings(lookup.traces)
        plain = [lookup for lookup in lookups if isinstance(lookup, LookupTrace)]
        if plain:
            path = [*max(plain, key=lambda lookup: len(lookup.sections)).sections, field]
            out.append(f"{'.'.join(path)} ({'__'.join(part.upper() for part in path)})")
    return list(dict.fromkeys(out))
