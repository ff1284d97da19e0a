"""Strict, frozen, typed configurations from plain mappings, and the error a user can act on.

A configuration is a frozen dataclass. :func:`strict` builds one from a mapping (a TOML
table, a JSON object, command-line arguments) and refuses what a silent default would
hide: an unknown key is an error naming it and the closest valid keys (``difflib``), a
value of the wrong type or outside its range is an error naming its dotted path, a key
that was renamed says its new name. :func:`as_dict` turns a configuration back into the
JSON-able mapping (every field, defaults included), and ``strict(cls, as_dict(c)) == c``.

Fields are declared as usual; what :func:`strict` understands of their annotations:
``bool``, ``int`` (an integral float such as 3.0 is accepted), ``float`` (an int is
accepted), ``str``, ``X | None``, ``Literal[...]``, ``tuple[X, ...]`` (from a list),
``dict`` (a free JSON table, copied) and nested configuration dataclasses; anything else
(``Any``, no annotation) is taken as it is. A range check goes in the field's metadata
with :func:`check`; a check that involves several fields goes in ``__post_init__``.
Either raises ``ValueError`` with a message that starts with the field's name; the
message is re-raised as :class:`UserError` with the field's dotted path in front.

>>> from dataclasses import dataclass, field
>>> from numerics import validation
>>> @dataclass(frozen=True)
... class Adam:
...     steps: int = field(metadata=check(validation.positive_int))
...     lr: float = field(default=1e-4, metadata=check(validation.positive))
>>> strict(Adam, {"steps": 10, "lr": 1e-3})
Adam(steps=10, lr=0.001)
>>> strict(Adam, {"steps": 10, "lrr": 1e-3}, where="optimiser")
Traceback (most recent call last):
...
deep.config.UserError: optimiser has an unknown key 'lrr' (did you mean 'lr'?); valid keys: steps, lr
>>> strict(Adam, {"steps": 0}, where="optimiser")
Traceback (most recent call last):
...
deep.config.UserError: optimiser.steps must be an integer >= 1; got 0

A family of configurations chosen by one key (the objectives by ``name``) is read with
:func:`strict_choice`, which also says when a key belongs to another member of the family
("a parameter of the lambda-beta objective, which this objective does not use").
:func:`from_signature` makes a configuration class from a function's keyword arguments
(the options of a data set's constructor, of the final evaluation), so their defaults
stay in one place.

:func:`writable_dir` and :func:`writable_file` check an output path before any work.

This module imports neither torch nor anything above ``numerics``: any layer may use it.
"""
from __future__ import annotations

import dataclasses
import difflib
import inspect
import math
import os
import sys
import types
import typing
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path


class UserError(ValueError):
    """An error in what the user gave (an argument, a configuration, a file) that the user can fix.

    Its message is one line naming the argument, key or file and the violated condition;
    the command line prints it without a traceback and exits with status 2.
    """


class RunWarning(UserWarning):
    """Something the user should know that did not stop the work (a damaged file fallen back from)."""


def one_line_warnings(prefix: str) -> None:
    """Show every :class:`RunWarning` (each time) as one line ``<prefix>: warning: <message>`` on stderr."""
    warnings.filterwarnings("always", category=RunWarning)
    original = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, RunWarning):
            print(f"{prefix}: warning: {message}", file=sys.stderr)
        else:
            original(message, category, filename, lineno, file, line)
    warnings.showwarning = show


def writable_dir(path, name: str) -> Path:
    """``path`` checked as a folder to write into: it exists or can be made (nothing is made here)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"{name} must be a folder; {path} is a file")
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UserError(f"{name} must be a folder; {existing} on its path is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(f"{name} must be writable; {existing} is not")
    return path


def writable_file(path, name: str) -> Path:
    """``path`` checked as a file to write: not a folder, in an existing writable folder."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{name} must be a file; {path} is a folder")
    if not path.parent.is_dir():
        raise UserError(f"{name} must be in an existing folder; {path.parent} does not exist")
    if not os.access(path.parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UserError(f"{name} must be writable; {path} is not")
    return path


def checked(name: str, function: Callable, *args, **kwargs):
    """``function(name, *args, **kwargs)`` (a check of ``numerics.validation``) with its ValueError as a UserError."""
    try:
        return function(name, *args, **kwargs)
    except UserError:
        raise
    except ValueError as err:
        raise UserError(str(err)) from None


def check(function: Callable) -> dict:
    """Field metadata that range-checks the value with ``function(name, value)`` (e.g. ``validation.positive``).

    The function returns the (possibly converted) value or raises ValueError naming ``name``.
    """
    return {"check": function}


def _fail(where: str, message: str):
    raise UserError(f"{where} {message}" if where else message)


def _closest(key: str, valid) -> str:
    close = difflib.get_close_matches(key, list(valid), n=3, cutoff=0.6)
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""


def unknown_keys(keys, valid, *, where: str, renamed: Mapping[str, str] | None = None,
                 elsewhere: Callable[[str], str | None] | None = None) -> None:
    """Raise :class:`UserError` for the first key of ``keys`` not in ``valid``.

    ``renamed`` maps old names to a sentence giving the new ones; ``elsewhere(key)`` may
    say where an unknown key does belong (another member of a family).
    """
    valid = list(valid)
    for key in keys:
        if key in valid:
            continue
        if renamed and key in renamed:
            _fail(where, f"key {key!r} was renamed: {renamed[key]}")
        home = elsewhere(key) if elsewhere else None
        if home:
            _fail(where, f"has the key {key!r}, {home}; valid keys: {', '.join(valid)}")
        _fail(where, f"has an unknown key {key!r}{_closest(str(key), valid)}; valid keys: {', '.join(valid)}")


def _type_name(tp) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(tp, value, path: str):
    """``value`` converted to the annotation ``tp``, or UserError naming ``path``."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is typing.Any or tp is inspect.Parameter.empty:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        errors = []
        for option in options:
            try:
                return _coerce(option, value, path)
            except UserError as err:
                errors.append(err)
        if len(errors) == 1:
            raise errors[0]
        _fail(path, f"must be {' or '.join(_type_name(o) for o in options)}"
                    f"{' or null' if type(None) in args else ''}; got {value!r}")
    if origin is typing.Literal:
        if value not in args or isinstance(value, bool) != any(isinstance(a, bool) for a in args):
            _fail(path, f"must be one of {', '.join(repr(a) for a in args)}; got {value!r}")
        return value
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            _fail(path, f"must be a table; got {value!r}")
        return strict(tp, value, where=path)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            _fail(path, f"must be a list; got {value!r}")
        item = args[0] if args else typing.Any
        return tuple(_coerce(item, v, f"{path}[{i}]") for i, v in enumerate(value))
    if tp is dict or origin is dict:
        if not isinstance(value, Mapping):
            _fail(path, f"must be a table; got {value!r}")
        return dict(value)
    if tp is bool:
        if not isinstance(value, bool):
            _fail(path, f"must be true or false; got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                isinstance(value, float) and not (math.isfinite(value) and value.is_integer())):
            _fail(path, f"must be an integer; got {value!r}")
        return int(value)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            _fail(path, f"must be a number; got {value!r}")
        try:
            return float(value)
        except OverflowError:
            _fail(path, f"must be a finite number; got {value!r}")
    if tp is str:
        if not isinstance(value, str):
            _fail(path, f"must be a string; got {value!r}")
        return value
    return value


def _hints(cls) -> dict:
    return typing.get_type_hints(cls, include_extras=False)


def strict(cls, mapping: Mapping, *, where: str = ""):
    """An instance of the configuration dataclass ``cls`` from ``mapping``, checked strictly.

    Parameters
    ----------
    cls : a frozen dataclass
        Optionally with the class attributes ``RENAMED`` ({old key: sentence naming the new
        ones}) and ``WHAT`` (what to call it in messages when ``where`` is empty).
    mapping : Mapping
        Keys are field names; missing keys take the field's default.
    where : str
        The dotted path of this configuration in the user's file, for messages.

    Raises
    ------
    UserError
        An unknown, renamed or missing key; a value of the wrong type; a failed check.
    """
    where_ = where or getattr(cls, "WHAT", cls.__name__)
    if not isinstance(mapping, Mapping):
        _fail(where_, f"must be a table; got {mapping!r}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown_keys(mapping, fields, where=where_, renamed=getattr(cls, "RENAMED", None))
    hints = _hints(cls)
    values = {}
    for name, f in fields.items():
        path = f"{where}.{name}" if where else name
        if name not in mapping:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                _fail(where_, f"needs the key {name!r}")
            continue
        value = _coerce(hints.get(name, typing.Any), mapping[name], path)
        if "check" in f.metadata and value is not None:
            try:
                value = f.metadata["check"](path, value)
            except ValueError as err:
                raise UserError(str(err)) from None
        values[name] = value
    try:
        return cls(**values)
    except UserError:
        raise
    except ValueError as err:
        _fail("", f"{where_}: {err}")


def strict_choice(family: Mapping[str, type], mapping: Mapping, *, key: str = "name", default: str | None = None,
                  where: str = "", what: str = ""):
    """A member of a family of configurations chosen by ``mapping[key]`` (e.g. an objective by its name).

    Each class in ``family`` has the field ``key``. A key the chosen member does not have but
    another member does is named as such: a parameter the chosen member does not use is an
    error, never ignored.
    """
    if not isinstance(mapping, Mapping):
        _fail(where, f"must be a table; got {mapping!r}")
    choice = mapping.get(key, default)
    if choice not in family:
        _fail(f"{where}.{key}" if where else key, f"must be one of {', '.join(map(repr, family))}; got {choice!r}")
    cls = family[choice]
    valid = [f.name for f in dataclasses.fields(cls) if f.init]

    def elsewhere(k):
        owners = [name for name, other in family.items() if k in {f.name for f in dataclasses.fields(other)}]
        if owners:
            return (f"a parameter of the {' and '.join(repr(o) for o in owners)} {what or key} only, "
                    f"which {choice!r} does not use")
        return None
    unknown_keys(mapping, valid, where=where or cls.__name__, renamed=getattr(cls, "RENAMED", None),
                 elsewhere=elsewhere)
    return strict(cls, {**mapping, key: choice}, where=where)


def as_dict(config) -> dict:
    """The JSON-able mapping of a configuration: every field, tuples as lists, nested configurations as tables."""
    def plain(value):
        if dataclasses.is_dataclass(value):
            return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value
    return plain(config)


def from_signature(function: Callable, name: str, *, skip=(), checks: Mapping[str, Callable] | None = None,
                   extra: list | None = None) -> type:
    """A frozen configuration class whose fields are ``function``'s keyword arguments (their annotations
    and defaults), less ``skip``; ``checks`` adds range checks by field name, ``extra`` adds fields
    (``dataclasses.make_dataclass`` tuples) in front.

    Keeps the defaults in one place, e.g. a data set's options are its constructor's.
    """
    try:
        hints = typing.get_type_hints(function)
    except (NameError, TypeError):
        hints = {}
    checks = checks or {}
    fields = list(extra or [])
    for p in inspect.signature(function).parameters.values():
        if p.name in skip or p.name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        default = p.default
        if default is p.empty:
            spec = dataclasses.field(metadata=check(checks[p.name]) if p.name in checks else {})
        else:
            default = _frozen(default)
            spec = dataclasses.field(default=default, metadata=check(checks[p.name]) if p.name in checks else {})
        fields.append((p.name, hints.get(p.name, typing.Any), spec))
    return dataclasses.make_dataclass(name, fields, frozen=True, kw_only=True)


def _frozen(value):
    """A default made hashable (lists and nested lists become tuples)."""
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(v) for v in value)
    return value
