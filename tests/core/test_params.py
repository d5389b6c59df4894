import pytest
from hypothesis import given, strategies as st

from harness._core.errors import UserError
from harness._core.params import Param, ParamSet, parse_assignments


def test_parse_numbers_and_domains():
    p = Param("eta", 0.1, "float", low=0.0, open_low=True, theory=True)
    assert p.parse("0.5") == 0.5
    assert p.parse("theory") == "theory"
    for bad in ("0", "-1", "abc", "nan", "inf"):
        with pytest.raises(UserError, match="expected float in \\(0.0, inf\\) or 'theory'"):
            p.parse(bad)
    b = Param("b", 1, "int", low=1)
    assert b.parse("8") == 8 and b.parse("1e3") == 1000
    with pytest.raises(UserError):
        b.parse("2.5")
    with pytest.raises(UserError, match="cannot be chosen by theory"):
        b.parse("theory")


def test_bool_and_choice():
    assert Param("s", False, "bool").parse("true") is True
    assert Param("s", False, "bool").parse("0") is False
    with pytest.raises(UserError):
        Param("s", False, "bool").parse("maybe")
    c = Param("schedule", "constant", "choice", choices=("constant", "inv"))
    assert c.parse("inv") == "inv"
    with pytest.raises(UserError, match="one of constant, inv"):
        c.parse("cosine")


def test_paramset_resolve_unknown_has_suggestion():
    ps = ParamSet((Param("eta", 0.1), Param("b", 1, "int", low=1)))
    assert ps.resolve({"b": "4"}, "plugin x") == {"eta": 0.1, "b": 4}
    with pytest.raises(UserError, match="did you mean: eta"):
        ps.resolve({"etaa": 1}, "plugin x")


def test_parse_assignments():
    assert parse_assignments(["a=1", "b = x=y"]) == {"a": "1", "b": "x=y"}
    with pytest.raises(UserError):
        parse_assignments(["novalue"])


@given(st.floats(min_value=1e-6, max_value=1e6, allow_nan=False))
def test_float_roundtrip(x):
    assert Param("eta", 0.1, "float", low=0.0, open_low=True).parse(repr(x)) == x
