"""Every option of every command, fuzzed: a value the command cannot take is one line
naming the option (and the unit or the accepted values), exit 2; a value it takes is
inside the documented range. Parsing only: nothing trains."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from relkit import assert_user_error, examples

from edgeml.cli import build_parser
from edgeml.cli._common import SEED_MAX, UsageError

# command -> the words that must come before the option, and a complete valid command line
BASE = {
    "search": ["search"],
    "compress": ["compress", "RUN"],
    "profile": ["profile", "m.tflite", "--target", "esp32"],
    "calibrate": ["calibrate", "--target", "esp32"],
    "export": ["export", "m.tflite", "--out", "x"],
    "targets": ["targets"],
}

# option -> (commands, integer?, low, high, low_open, high_open, unit)
NUMERIC = {
    "--trials": (("search",), True, 1, None, False, False, "trials"),
    "--epochs": (("search", "compress"), True, 1, None, False, False, "epochs"),
    "--seed": (("search",), True, 0, SEED_MAX, False, False, ""),
    "--accuracy-tolerance": (("search",), False, 0, 1, False, True, ""),
    "--max-ram-kb": (("search", "profile"), False, 0, None, True, False, "KB"),
    "--max-flash-kb": (("search", "profile"), False, 0, None, True, False, "KB"),
    "--max-latency-ms": (("search", "profile"), False, 0, None, True, False, "ms"),
    "--prune": (("search", "compress"), False, 0, 1, True, True, ""),
    "--structured": (("search", "compress"), False, 0, 1, True, True, ""),
    "--max-int8-drop": (("search", "compress"), False, 0, 100, False, False, "points"),
    "--mac-factor": (("calibrate",), False, 0, None, True, False, ""),
    "--other-factor": (("calibrate",), False, 0, None, True, False, ""),
}
CASES = [(cmd, opt) for opt, spec in NUMERIC.items() for cmd in spec[0]]

EDGE = ["-1", "0", "1", "-0", "0.5", "1.0", "1e-400", "1e309", "nan", "NaN", "inf", "-inf",
        "abc", "", " ", "0x10", "1_000", "4294967295", "4294967296", "-4294967296", "1e3",
        "99999999999999999999999", "٣", "½", "1,5", "--", "5KB", "\x00", "1.5e2"]
values = st.one_of(st.sampled_from(EDGE), st.text(max_size=12),
                   st.floats(allow_nan=True, allow_infinity=True).map(repr),
                   st.integers(min_value=-2**70, max_value=2**70).map(str))


def _in_range(value: float, integer: bool, low, high, low_open, high_open) -> bool:
    if not math.isfinite(value) or (integer and value != int(value)):
        return False
    if low is not None and (value < low or (low_open and value == low)):
        return False
    return high is None or (value < high if high_open else value <= high)


@pytest.mark.parametrize("command, option", CASES)
@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=values)
def test_numeric_options_parse_or_say_why_in_one_line(command, option, text):
    _, integer, low, high, low_open, high_open, unit = NUMERIC[option]
    parser = build_parser()
    argv = [*BASE[command], f"{option}={text}"]
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        msg = str(exc)
        assert "\n" not in msg and msg.startswith(option), msg
        assert "see edgeml" in msg, msg
        if unit and "must be" in msg:
            assert unit.rstrip("s") in msg, msg  # the unit is said, as the user wrote it
        return
    value = getattr(args, option.lstrip("-").replace("-", "_"))
    assert _in_range(value, integer, low, high, low_open, high_open), (text, value)


@pytest.mark.parametrize("argv, says", [
    (["search", "--max-ram-kb", "abc"], "--max-ram-kb takes a number of KB (got 'abc')"),
    (["search", "--max-ram-kb", "-5"], "--max-ram-kb must be more than 0 KB (got -5 KB)"),
    (["search", "--strategy", "unknown"], "--strategy: unknown value 'unknown'; use one of: "
                                          "random, bayesian, hyperband"),
    (["search", "--objective", "speed"], "use one of: accuracy, latency, energy, size"),
    (["search", "--seed", "-1"], "--seed must be from 0 to 4294967295 (got -1)"),
    (["search", "--seed", "4294967296"], "--seed must be from 0 to 4294967295"),
    (["search", "--trials", "0"], "--trials must be at least 1 trial (got 0 trials)"),
    (["search", "--epochs", "2.5"], "--epochs takes a whole number of epochs (got '2.5')"),
    (["profile", "m.tflite", "--target", "esp32", "--max-ram-kb", "nan"],
     "--max-ram-kb must be a finite number"),
    (["calibrate", "--target", "esp32", "--level", "all"], "--level: unknown value 'all'"),
    (["calibrate", "--target", "esp32", "--mac-factor", "0"], "--mac-factor must be more than 0"),
    (["compress", "RUN", "--prune", "1"], "--prune must be more than 0 and less than 1"),
    (["compress", "RUN", "--max-int8-drop", "-2"], "--max-int8-drop must be from 0 to 100 "
                                                   "points (got -2 points)"),
    (["targets", "remove"], "action: unknown value 'remove'; use one of: list, show"),
    (["profile"], "the following arguments are required: model, --target"),
    (["search", "--bogus"], "unrecognized arguments: --bogus"),
    (["nosuchcommand"], "unknown value 'nosuchcommand'"),
    (["export", "m.tflite"], "the following arguments are required: --out"),
])
def test_usage_errors_through_main_are_one_line(cli, argv, says):
    assert_user_error(cli(*argv), contains=says)


@settings(max_examples=examples(40), deadline=None)
@given(command=st.sampled_from(sorted(BASE)),
       junk=st.lists(st.one_of(st.sampled_from(["--", "-", "--out", "--target", "--force",
                                                "--json", "-h=1", "--seed"]),
                               st.text(min_size=1, max_size=8)), max_size=4))
def test_junk_arguments_never_raise_anything_but_a_usage_error(command, junk):
    """Any argument list either parses or is a one-line UsageError (argparse never exits
    or prints its usage block)."""
    parser = build_parser()
    junk = [j for j in junk if j not in ("-h", "--help", "--version") and not
            j.startswith(("-h", "--h", "--v"))]
    try:
        parser.parse_args([*BASE[command], *junk])
    except UsageError as exc:
        assert "\n" not in str(exc) and str(exc).strip(), str(exc)


def test_export_unknown_format_names_the_formats(cli, tmp_path):
    res = cli("export", tmp_path / "m.tflite", "--format", "zip", "--out", tmp_path / "o")
    assert_user_error(res, contains=("unknown export format 'zip'", "tflite, c, esp-idf"))
