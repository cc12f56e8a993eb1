"""Helpers of the reliability suite (imported by its conftest and tests)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def examples(n: int) -> int:
    """``n`` fuzz examples, times EDGEML_FUZZ_EXAMPLES (default 1)."""
    return max(1, int(n * float(os.environ.get("EDGEML_FUZZ_EXAMPLES", "1"))))


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return [ln for ln in self.err.splitlines() if ln.strip()]


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` (hidden ones too) by relative path -> sha256."""
    out: dict[str, str] = {}
    if not root.exists():
        return out
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.is_symlink():
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def assert_user_error(res: Outcome, *, code: int = 2, contains: str | tuple[str, ...] = ()) -> str:
    """Exactly one line on stderr, starting ``edgeml: error:``, the exit code, no traceback,
    no numpy repr. Returns the line."""
    lines = res.err_lines
    assert res.code == code, (res.code, res.err)
    assert "Traceback" not in res.err, res.err
    assert len(lines) == 1, lines
    line = lines[0]
    assert line.startswith("edgeml: error: "), line
    assert "np.int" not in line and "np.float" not in line and "np.str" not in line, line
    for part in (contains,) if isinstance(contains, str) else contains:
        assert part in line, (part, line)
    return line


def run_subprocess(*args: str, cwd: Path, env: dict[str, str] | None = None,
                   preexec=None, timeout: float = 300) -> Outcome:
    """``python -m edgeml ARGS`` in a child (signals, resource limits)."""
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join([str(REPO), e.get("PYTHONPATH", "")])
    e.update(env or {})
    proc = subprocess.run([sys.executable, "-m", "edgeml", *map(str, args)], cwd=cwd, env=e,
                          capture_output=True, text=True, timeout=timeout, preexec_fn=preexec)
    return Outcome(proc.returncode, proc.stdout, proc.stderr)


def immutable_supported(tmp: Path) -> bool:
    """Can this process make a folder immutable (chattr +i: root on ext4/xfs/btrfs)?"""
    probe = tmp / "chattr-probe"
    probe.mkdir(exist_ok=True)
    try:
        ok = subprocess.run(["chattr", "+i", str(probe)], capture_output=True).returncode == 0
    except FileNotFoundError:
        return False
    if ok:
        subprocess.run(["chattr", "-i", str(probe)], capture_output=True)
    probe.rmdir()
    return ok
