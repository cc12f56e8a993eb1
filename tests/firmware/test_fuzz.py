"""Fuzzing the protocol core under AddressSanitizer + UndefinedBehaviorSanitizer.

``test_seeded_streams`` runs in CI: N seeded random and mutated command streams
through the core built with ``-fsanitize=address,undefined`` (clang), failing
on any sanitizer report, a crash, or a command without its ``m-ready``. The
libFuzzer target ``firmware/tests/fuzz_protocol.c`` is built and run briefly
here as well (longer runs by hand: see its header comment). The runner is the
echo test double (firmware/tests/echo_runner.c).
"""

from __future__ import annotations

import random
import subprocess
import zlib

import pytest
from fw_core import COMMON, FW_TESTS, SANITIZE, db_lines, model_load, require_tool, run_stream

ECHO = b"ECHO\x08" + bytes(range(40))
GOOD = [b"name%", b"profile%", b"timestamp%", b"edgeml%", b"results%", b"ops%", b"arena%",
        b"db print%", b"db load 8%", b"db 0102030405060708%", b"infer 3 1%", b"infer 1 0%",
        model_load(ECHO, chunk=9), b"model load 20 00000000%", b"model load 99999 12345678%",
        model_load(b"FAIL" + bytes(30)), b"db 00%", b"db zz%", b"db 123%", b"x" * 120 + b"%",
        b"\r\n", b"\0", b"db load 300%", b"infer 99999999999%", b"model load 8 %08x%%" %
        zlib.crc32(b"ECHO\x02abc") + db_lines(b"ECHO\x02abc")]
ALPHABET = b"%db load model infer 0123456789abcdefABCDEFxyz\r\n\0 \xff"


def _stream(rnd: random.Random) -> bytes:
    parts = [rnd.choice(GOOD) for _ in range(rnd.randint(1, 30))]
    out = bytearray(b"".join(parts))
    for _ in range(rnd.randint(0, 12)):  # mutate: flip, insert, delete, splice
        op = rnd.random()
        pos = rnd.randrange(len(out) + 1)
        if op < 0.3 and out:
            out[min(pos, len(out) - 1)] = rnd.randrange(256)
        elif op < 0.6:
            out[pos:pos] = bytes(rnd.choice(ALPHABET) for _ in range(rnd.randint(1, 90)))
        elif op < 0.8 and out:
            del out[pos:pos + rnd.randint(1, 40)]
        else:
            out[pos:pos] = rnd.choice(GOOD)
    return bytes(out)


def test_seeded_streams(asan_driver):
    rnd = random.Random(20261201)
    for i in range(300):
        data = _stream(rnd) + b"%name%"
        args = () if i % 3 else (str(rnd.randint(0, 64)), str(rnd.randint(0, 300)))
        lines, stderr = run_stream(asan_driver, data, *args)
        assert "runtime error" not in stderr and "Sanitizer" not in stderr, stderr
        # every '%' (plus the boot) gets exactly one m-ready, and the board still answers
        assert lines.count("m-ready") == data.count(b"%") + 1, (i, data)
        assert lines[-2:] == ["m-name-dut-[stream-driver]", "m-ready"], (i, data)


def test_libfuzzer_target_runs(tmp_path):
    clang = require_tool("clang")
    exe = tmp_path / "fuzz_protocol"
    cmd = [clang, "-g", "-O1", "-std=c99", "-Wall", "-Wextra", "-Werror",
           "-fsanitize=fuzzer,address,undefined", *SANITIZE[1:], f"-I{COMMON}",
           str(FW_TESTS / "fuzz_protocol.c"), str(FW_TESTS / "echo_runner.c"),
           *sorted(str(p) for p in COMMON.glob("*.c")), "-o", str(exe)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 and "fuzzer" in proc.stderr and "cannot find" in proc.stderr:
        pytest.skip("this clang has no libFuzzer runtime")
    assert proc.returncode == 0, proc.stderr
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for p in (FW_TESTS / "fuzz_corpus").iterdir():
        (corpus / p.name).write_bytes(p.read_bytes())
    run = subprocess.run([str(exe), "-runs=20000", "-seed=1", "-max_len=2048", str(corpus)],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Done 20000 runs" in run.stderr
