"""deep.config: strict, frozen, typed configurations; RunConfig built on it; the stored form round-trips."""
import dataclasses
import doctest
import json
from dataclasses import dataclass, field
from typing import Literal

import pytest

from deep import config as C
from deep.config import UserError, as_dict, check, from_signature, strict, strict_choice
from numerics import validation

pytestmark = pytest.mark.deep


def test_doctests():
    failures, tried = doctest.testmod(C)
    assert tried >= 4 and failures == 0


@dataclass(frozen=True, kw_only=True)
class Inner:
    width: int = field(default=3, metadata=check(validation.positive_int))


@dataclass(frozen=True, kw_only=True)
class Outer:
    RENAMED = {"colour": "it is 'color' now"}
    name: Literal["a", "b"] = "a"
    rate: float = field(default=0.5, metadata=check(validation.positive))
    sizes: tuple[int, ...] = ()
    label: str | None = None
    flag: bool = False
    inner: Inner = field(default_factory=Inner)
    table: dict = field(default_factory=dict)
    color: str = "red"


@pytest.mark.parametrize("mapping, message", [
    ({"rat": 1.0}, r"outer has an unknown key 'rat' \(did you mean 'rate'\?\); valid keys: name, rate, sizes"),
    ({"colour": "blue"}, "outer key 'colour' was renamed: it is 'color' now"),
    ({"name": "c"}, "outer.name must be one of 'a', 'b'; got 'c'"),
    ({"rate": "1"}, "outer.rate must be a number; got '1'"),
    ({"rate": True}, "outer.rate must be a number; got True"),
    ({"rate": 10 ** 400}, "outer.rate must be a finite number"),
    ({"rate": float("nan")}, "outer.rate must be a finite number > 0; got nan"),
    ({"sizes": 3}, "outer.sizes must be a list; got 3"),
    ({"sizes": [1, 2.5]}, r"outer.sizes\[1\] must be an integer; got 2.5"),
    ({"label": 3}, "outer.label must be a string; got 3"),
    ({"flag": 1}, "outer.flag must be true or false; got 1"),
    ({"inner": {"width": 0}}, "outer.inner.width must be an integer >= 1; got 0"),
    ({"inner": {"wdth": 2}}, r"outer.inner has an unknown key 'wdth' \(did you mean 'width'\?\)"),
    ({"inner": 3}, "outer.inner must be a table; got 3"),
    ({"table": [1]}, "outer.table must be a table"),
])
def test_strict_refuses_and_names(mapping, message):
    with pytest.raises(UserError, match=message):
        strict(Outer, mapping, where="outer")


def test_strict_converts_and_round_trips():
    config = strict(Outer, {"rate": 2, "sizes": [1, 2], "inner": {"width": 4.0}, "table": {"x": [1]}})
    assert config.rate == 2.0 and isinstance(config.rate, float) and config.sizes == (1, 2)
    assert config.inner == Inner(width=4) and isinstance(config.inner.width, int)
    assert strict(Outer, as_dict(config)) == config
    assert json.loads(json.dumps(as_dict(config))) == as_dict(config)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.rate = 3.0


def test_a_family_names_the_member_a_key_belongs_to():
    @dataclass(frozen=True, kw_only=True)
    class A:
        name: Literal["a"] = "a"
        shared: int = 0

    @dataclass(frozen=True, kw_only=True)
    class B(A):
        name: Literal["b"] = "b"
        only_b: int = 1
    family = {"a": A, "b": B}
    assert strict_choice(family, {"only_b": 2, "name": "b"}) == B(only_b=2)
    assert strict_choice(family, {}, default="a") == A()
    with pytest.raises(UserError, match="thing has the key 'only_b', a parameter of the 'b' kind only, which 'a' "
                                        "does not use"):
        strict_choice(family, {"name": "a", "only_b": 2}, where="thing", what="kind")
    with pytest.raises(UserError, match=r"thing.name must be one of 'a', 'b'; got 'c'"):
        strict_choice(family, {"name": "c"}, where="thing")


def test_from_signature_keeps_the_defaults_of_the_function():
    def make(n: int, scale: float = 2.0, *, mode: str | None = None, **rest):
        return n

    cls = from_signature(make, "MakeConfig", checks={"n": validation.positive_int})
    assert [f.name for f in dataclasses.fields(cls)] == ["n", "scale", "mode"]
    assert as_dict(strict(cls, {"n": 3})) == {"n": 3, "scale": 2.0, "mode": None}
    with pytest.raises(UserError, match="make needs the key 'n'"):
        strict(cls, {}, where="make")
    with pytest.raises(UserError, match="make.n must be an integer >= 1; got 0"):
        strict(cls, {"n": 0}, where="make")


def test_writable_paths(tmp_path):
    (tmp_path / "f").write_text("")
    assert C.writable_dir(tmp_path / "new" / "deeper", "--out") == tmp_path / "new" / "deeper"
    assert not (tmp_path / "new").exists()  # nothing is made
    with pytest.raises(UserError, match="--out must be a folder; .* is a file"):
        C.writable_dir(tmp_path / "f", "--out")
    with pytest.raises(UserError, match="--out must be a folder; .* on its path is a file"):
        C.writable_dir(tmp_path / "f" / "sub", "--out")
    assert C.writable_file(tmp_path / "g.json", "--json") == tmp_path / "g.json"
    with pytest.raises(UserError, match="--json must be a file; .* is a folder"):
        C.writable_file(tmp_path, "--json")


def test_run_config_is_frozen_strict_and_its_stored_form_round_trips():
    from deep.train import RunConfig

    spec = {"data": {"name": "digits", "subset": 100}, "model": {"architecture": "mlp", "m": 2, "hidden": [8]},
            "objective": {"name": "lambda", "fixed_exponent": 2}, "steps": 5, "evaluation": {"samples": 64}}
    config = RunConfig.from_dict(spec)
    stored = config.to_dict()
    assert RunConfig.from_dict(stored) == config and RunConfig.from_dict(json.loads(json.dumps(stored))) == config
    assert stored["objective"] == {"name": "lambda", "beta": 1.0, "warmup_steps": 0, "warmup_start": 0,
                                   "delta": None, "fixed_exponent": 2.0, "ema_decay": 0.9, "update_every": 100,
                                   "ramp_steps": 0, "lambda_max": 20.0}
    assert stored["evaluation"]["samples"] == 64 and stored["batch_size"] == 64
    assert RunConfig.from_dict({**stored, "init_from": {"path": "x", "step": 3}}) == config  # a stored config.json
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.steps = 6
    for bad, message in [({"epochs": 3}, r"run config has an unknown key 'epochs'"),
                         ({"steps": 0}, "steps must be an integer >= 1; got 0"),
                         ({"seed": -1}, "seed must be an integer >= 0"),
                         ({"evaluation": {"sample": 5}}, r"evaluation has an unknown key 'sample' \(did you mean "
                                                         r"'samples' or 'chen_samples'\?\)"),
                         ({"evaluation": {"samples": 0}}, "evaluation.samples must be an integer >= 1"),
                         ({"model": {"m": 10 ** 6}}, "model.m must be at most")]:
        with pytest.raises(UserError, match=message):
            RunConfig.from_dict({**spec, **bad})
