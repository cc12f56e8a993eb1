"""Compile the generated feature C with a host compiler and run it on raw windows."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np

MAIN = r"""
#include <stdio.h>
#include <stdlib.h>
#include "%(header)s"
int main(int argc, char **argv) {
  FILE *in, *fo, *qo;
  if (argc != 4) return 2;
  in = fopen(argv[1], "rb"); fo = fopen(argv[2], "wb"); qo = fopen(argv[3], "wb");
  static float raw[%(macro)s_INPUT_LENGTH], out[%(macro)s_OUTPUT_LENGTH];
  static int8_t q[%(macro)s_OUTPUT_LENGTH];
  if (!in || !fo || !qo) return 2;
  while (fread(raw, sizeof(float), %(macro)s_INPUT_LENGTH, in) == %(macro)s_INPUT_LENGTH) {
    %(float)s(raw, out);
    %(func)s(raw, q);
    fwrite(out, sizeof(float), %(macro)s_OUTPUT_LENGTH, fo);
    fwrite(q, 1, %(macro)s_OUTPUT_LENGTH, qo);
  }
  fclose(in); fclose(fo); fclose(qo);
  return 0;
}
"""

CFLAGS = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic"]


def run_c(files: dict[str, bytes], raw: np.ndarray, workdir: Path, *, name: str = "model"
          ) -> tuple[np.ndarray, np.ndarray]:
    from edgeml.export.features_c import feature_file_names, feature_symbols

    names, sym = feature_file_names(name), feature_symbols(name)
    for rel, data in files.items():
        (workdir / rel).write_bytes(data)
    (workdir / "main.c").write_text(MAIN % {"header": names["header"], **sym})
    exe = workdir / "features"
    cc = shutil.which("gcc") or shutil.which("cc")
    subprocess.run([cc, *CFLAGS, "-o", str(exe), str(workdir / names["source"]),
                    str(workdir / "main.c"), "-lm"], check=True, capture_output=True, text=True)
    raw = np.ascontiguousarray(raw, dtype=np.float32).reshape(len(raw), -1)
    (workdir / "raw.bin").write_bytes(raw.tobytes())
    subprocess.run([str(exe), str(workdir / "raw.bin"), str(workdir / "f.bin"),
                    str(workdir / "q.bin")], check=True)
    f = np.fromfile(workdir / "f.bin", dtype=np.float32).reshape(len(raw), -1)
    q = np.fromfile(workdir / "q.bin", dtype=np.int8).reshape(len(raw), -1)
    return f, q
