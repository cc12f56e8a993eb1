"""Compile generated C on the host with gcc and run it on float inputs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

MAIN = r"""
#include <stdint.h>
#include <stdio.h>
int32_t %(fn)s(const float *x, float *scores);
int main(void) {
  float x[%(f)d], scores[%(k)d];
  while (fread(x, sizeof(float), %(f)d, stdin) == %(f)d) {
    const int32_t c = %(fn)s(x, scores);
    printf("%%d", (int)c);
    for (int i = 0; i < %(k)d; ++i) printf(" %%.9g", scores[i]);
    printf("\n");
  }
  return 0;
}
"""


def gcc() -> str:
    path = shutil.which("gcc")
    if path is None:
        pytest.skip("gcc is not installed")
    return path


def run_c(tmp: Path, sources: dict[str, str], fn: str, x: np.ndarray, n_classes: int,
          *, includes: tuple[Path, ...] = (), cxx: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Compile ``sources`` (name -> text) with a main that calls ``fn`` on each row of ``x``;
    return (classes, scores)."""
    x = np.asarray(x, np.float32).reshape(len(x), -1)
    for name, text in sources.items():
        (tmp / name).write_text(text)
    (tmp / "main.c").write_text(MAIN % {"fn": fn, "f": x.shape[1], "k": n_classes})
    exe = tmp / "predict"
    cfiles = [str(tmp / n) for n in sources if n.endswith((".c", ".cc"))]
    cmd = [gcc(), "-std=c99", "-O2", "-ffp-contract=off", "-Wall", "-Werror",
           *(f"-I{p}" for p in includes), "-o", str(exe), str(tmp / "main.c"), *cfiles, "-lm"]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    out = subprocess.run([str(exe)], input=x.tobytes(), capture_output=True, check=True).stdout
    rows = [line.split() for line in out.decode().splitlines()]
    classes = np.asarray([int(r[0]) for r in rows])
    scores = np.asarray([[float(v) for v in r[1:]] for r in rows])
    return classes, scores
