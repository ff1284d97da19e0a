"""Writing results: atomic files (text, bytes, JSON, TOML), CSV tables and PNG figures.

Every file the package writes goes through :func:`atomic`: the content is written to a
temporary file in the target's folder and renamed over the target, so that a killed process
never leaves half a file and a reader never sees one. JSON is compact (no indentation) unless
asked otherwise, and gzip-compressed when the name ends in ``.gz`` (with a fixed header, so
that the same content gives the same bytes). :func:`figure` sets matplotlib up for files (the
Agg backend) and :func:`save_figure` stores a figure as a 256-colour PNG (about a third of
the size of matplotlib's RGBA output; the stored results must stay small).

This module imports neither torch nor anything above ``numerics``: any layer may use it.
"""
from __future__ import annotations

import csv
import dataclasses
import gzip
import io
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path


def atomic(path, write: Callable[[Path], object], *, keep_as=None) -> Path:
    """Call ``write(tmp)`` on a temporary file next to ``path``, then rename it to ``path``.

    The folder is made when missing; the temporary file is removed when ``write`` fails.
    ``keep_as``: the file that ``path`` replaces is first renamed to ``keep_as`` (a killed
    process leaves either the old pair or the new one, never less than one complete file).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        if keep_as is not None and path.exists():
            os.replace(path, keep_as)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def remove_temporaries(path) -> None:
    """Delete the temporary files of :func:`atomic` for ``path`` that a killed process left behind."""
    path = Path(path)
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        tmp.unlink(missing_ok=True)


def write_bytes(path, data: bytes) -> Path:
    """``data`` written to ``path`` atomically."""
    return atomic(path, lambda tmp: tmp.write_bytes(data))


def write_text(path, text: str) -> Path:
    """``text`` written to ``path`` atomically (UTF-8)."""
    return write_bytes(path, text.encode())


def dumps(data, *, indent: int | None = None) -> str:
    """JSON text: compact unless ``indent``; configurations as tables, numpy values as numbers and lists,
    other objects by ``str``."""
    separators = (",", ":") if indent is None else (",", ": ")
    return json.dumps(data, indent=indent, separators=separators, ensure_ascii=False, default=_plain)


def _plain(value):
    if dataclasses.is_dataclass(value) and not isinstance(value, type):   # a configuration
        return dataclasses.asdict(value)
    item = getattr(value, "item", None)     # a numpy scalar
    if callable(item):
        return item()
    tolist = getattr(value, "tolist", None)   # a numpy array
    if callable(tolist):
        return tolist()
    return str(value)


def plain(value):
    """``value`` as it reads back from JSON (tuples become lists, numpy scalars numbers)."""
    return json.loads(dumps(value))


def write_json(path, data, *, indent: int | None = None) -> Path:
    """``data`` as JSON, atomically; gzip-compressed when ``path`` ends in ``.gz``."""
    text = dumps(data, indent=indent) + ("\n" if indent is not None else "")
    raw = text.encode()
    if str(path).endswith(".gz"):
        raw = gzip.compress(raw, compresslevel=9, mtime=0)
    return write_bytes(path, raw)


def read_json(path):
    """The JSON content of ``path`` (gunzipped when it ends in ``.gz``)."""
    path = Path(path)
    raw = path.read_bytes()
    if path.name.endswith(".gz"):
        raw = gzip.decompress(raw)
    return json.loads(raw)


def write_csv(path, rows: Iterable[Mapping], columns: list[str] | None = None) -> Path:
    """A CSV table of ``rows`` (mappings; missing cells empty), atomically. ``columns`` default to the
    keys of every row, in order of first appearance."""
    rows = list(rows)
    columns = columns or list(dict.fromkeys(k for row in rows for k in row))
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return write_text(path, buffer.getvalue())


def write_rows(path, header: list[str], rows: Iterable[Iterable]) -> Path:
    """A CSV table of ``rows`` (sequences) under ``header``, atomically."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return write_text(path, buffer.getvalue())


def figure(*args, **kwargs):
    """``matplotlib.pyplot.subplots(*args, **kwargs)`` on the file-only Agg backend: (figure, axes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(*args, **kwargs)


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (for its colour maps and helpers)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path, *, dpi: int = 110, close: bool = True) -> Path:
    """``fig`` as a 256-colour PNG at ``path``, atomically; the figure is closed unless ``close`` is False."""
    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=dpi, format="png")
    if close:
        pyplot().close(fig)
    image = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    out = io.BytesIO()
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(out, format="PNG", optimize=True)
    return write_bytes(path, out.getvalue())


def toml(data: Mapping) -> str:
    """``data`` (tables, lists, strings, numbers, booleans) as TOML text that ``tomllib`` reads back equal.

    ValueError naming the key for a value TOML cannot hold (None, a non-finite float)."""
    lines: list[str] = []
    _table(data, [], lines)
    return "\n".join(lines).lstrip("\n") + "\n"


def _key(key: str) -> str:
    return key if key and all(c.isalnum() or c in "-_" for c in key) else json.dumps(key)


def _value(value, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where} is {value}, which TOML cannot hold here")
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v, f"{where}[{i}]") for i, v in enumerate(value)) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_key(str(k))} = {_value(v, f'{where}.{k}')}" for k, v in value.items()) + "}"
    raise ValueError(f"{where} is {value!r}, which TOML cannot hold")


def _table(data: Mapping, path: list[str], lines: list[str]) -> None:
    tables = {k: v for k, v in data.items() if isinstance(v, Mapping) and v}
    for key, value in data.items():
        if key not in tables:
            lines.append(f"{_key(str(key))} = {_value(value, '.'.join([*path, str(key)]))}")
    for key, value in tables.items():
        lines.extend(["", f"[{'.'.join(_key(p) for p in [*path, str(key)])}]"])
        _table(value, [*path, str(key)], lines)


def write_toml(path, data: Mapping) -> Path:
    """``data`` as a TOML file, atomically (:func:`toml`)."""
    return write_text(path, toml(data))
