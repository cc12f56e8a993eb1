"""The README's commands are the ones CI runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _readme_commands() -> list[str]:
    return re.findall(r"```bash\n(.+?)\n```", (ROOT / "README.md").read_text())


def test_readme_starts_with_the_two_commands():
    first, second = _readme_commands()[:2]
    assert first.endswith("edgeml search --target esp32") and "pip install" in first
    assert second.endswith("pytest") and "pip install -e '.[dev]'" in second


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert _readme_commands()[1] in ci


def test_ci_lints_and_installs_the_extras_its_tests_need():
    ci = [ln for ln in (ROOT / ".ci" / "run").read_text().splitlines()
          if ln.strip() and not ln.lstrip().startswith("#")]
    assert ci[-1] == _readme_commands()[1]  # the README's test command is the last step
    install = next(i for i, ln in enumerate(ci) if "pip install -e '.[dev,vela]'" in ln)
    assert install < ci.index("ruff check .") < len(ci) - 1
    assert any(ln.startswith("export ") and "EDGEML_REQUIRE_VELA=1" in ln for ln in ci[:-1])
