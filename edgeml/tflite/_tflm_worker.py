"""Child process that runs the real TFLite Micro interpreter.

TFLM can abort or segfault instead of raising (tiny arenas, degenerate
quantization), so edgeml never runs it in its own process. The parent writes
``model.tflite``, an optional ``inputs.npy`` (int8, samples first) and
``request.json`` into a directory and runs ``python -m edgeml.tflite._tflm_worker DIR``.
This process imports only numpy and tflite_micro (no TensorFlow), so it can
``fork`` for each arena probe: a probe that crashes only kills its fork.

Requests: ``bisect`` (the smallest working arena, in 16-byte units),
``probe`` (does each given arena size allocate and invoke?), ``time`` (CPU
time per invoke) and ``batch`` (several models ``model_<i>.tflite``, each in
its own fork). Results go to ``result.json`` / ``result_<i>.json`` (and
``outputs.npy``).
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile

import numpy as np

_ALLOC = re.compile(r"Arena allocation (total|head|tail) (\d+) bytes")
_PART = re.compile(r"'([^']+)' used (\d+) bytes with alignment overhead \(requested (\d+) bytes for (\d+)")


def _interpreter(model: bytes, arena: int):
    from tflite_micro.python.tflite_micro import runtime

    return runtime.Interpreter.from_bytes(model, arena_size=int(arena))


def _zero_input(interp) -> None:
    d = interp.get_input_details(0)
    interp.set_input(np.zeros(tuple(d["shape"]), dtype=d["dtype"]), 0)


def _recorded(interp) -> dict:
    """Capture print_allocations() (written to the C-level stderr) and parse it."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            interp.print_allocations()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        tmp.seek(0)
        text = tmp.read().decode(errors="replace")
    out: dict = {"parts": {}}
    for key, value in _ALLOC.findall(text):
        out[key] = int(value)
    for name, used, requested, count in _PART.findall(text):
        out["parts"][name] = {"used": int(used), "requested": int(requested), "count": int(count)}
    return out


def _probe(model: bytes, arena: int) -> bool:
    """Does the model allocate and invoke in ``arena`` bytes? Runs in a fork."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # child: any crash stays here
        code = 1
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            interp = _interpreter(model, arena)
            _zero_input(interp)
            interp.invoke()
            code = 0
        except BaseException:
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


ALIGN = 16  # TFLM aligns the arena and its buffers to 16 bytes (MicroArenaBufferAlignment)


def _smallest_arena(model: bytes, total: int, big: int) -> int:
    """Smallest arena, in whole 16-byte units, that allocates and invokes.

    ``total`` is what the recording allocator reports after allocation (tail +
    head); no smaller arena can work. It is enough unless a temporary peak
    during allocation (kernel Prepare temporaries, or the memory planner's
    scratch space) is larger than the final head: then search upwards.
    """
    start = -(-total // ALIGN) * ALIGN
    if _probe(model, start):
        return start
    lo, step = start, 256
    hi = lo + step
    while not _probe(model, hi):
        lo, step = hi, step * 2
        hi = lo + step
        if hi >= big:
            return big
    while hi - lo > ALIGN:
        mid = (lo + hi) // 2 // ALIGN * ALIGN
        if _probe(model, mid):
            hi = mid
        else:
            lo = mid
    return hi


def _time_invoke(interp, reps: int) -> float:
    """Fastest per-invoke time over 5 rounds of ``reps`` invocations, in CPU seconds
    of this thread (other processes on a busy host do not inflate it)."""
    import time

    best = float("inf")
    for _ in range(5):
        t0 = time.thread_time()
        for _ in range(reps):
            interp.invoke()
        best = min(best, (time.thread_time() - t0) / reps)
    return best


def _run(workdir: str, req: dict, model: bytes, inputs_path: str) -> dict:
    big = int(req.get("arena", 0)) or max(len(model) * 4, 8 << 20)
    result: dict = {}
    interp = _interpreter(model, big)
    if os.path.exists(inputs_path):
        xs = np.load(inputs_path)
        outs = []
        for sample in xs:
            interp.set_input(sample[None, ...], 0)
            interp.invoke()
            outs.append(np.array(interp.get_output(0)).reshape(-1))
        np.save(os.path.join(workdir, "outputs.npy"), np.stack(outs))
    else:
        _zero_input(interp)
        interp.invoke()
    result["recorded"] = _recorded(interp)
    result["input"] = _details(interp.get_input_details(0))
    result["output"] = _details(interp.get_output_details(0))
    if req.get("probe"):
        result["probe"] = {str(n): _probe(model, int(n)) for n in req["probe"]}
    if int(req.get("time", 0)) > 0:
        result["invoke_seconds"] = _time_invoke(interp, int(req["time"]))
    if req.get("bisect"):
        total = int(result["recorded"].get("total", big))
        result["bisected"] = _smallest_arena(model, total, big)
        for delta in req.get("probe_around", []):
            n = result["bisected"] + int(delta)
            result.setdefault("probe", {})[str(n)] = _probe(model, n)
    return result


def _batch(workdir: str, req: dict) -> None:
    """Several models in one process (saves a Python start-up per model); each in a
    fork, so a model that crashes TFLM only loses its own result."""
    for i in range(int(req["batch"])):
        sys.stdout.flush()
        sys.stderr.flush()
        out_path = os.path.join(workdir, f"result_{i}.json")
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                with open(os.path.join(workdir, f"model_{i}.tflite"), "rb") as f:
                    model = f.read()
                res = _run(workdir, req, model, "")
                with open(out_path, "w") as f:
                    json.dump(res, f)
                code = 0
            except BaseException as exc:  # reported per model
                with open(out_path, "w") as f:
                    json.dump({"error": f"{type(exc).__name__}: {exc}"[:300]}, f)
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        if not os.path.exists(out_path):
            sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0
            with open(out_path, "w") as f:
                json.dump({"error": f"killed by signal {sig}", "signal": sig} if sig
                          else {"error": "no result"}, f)


def main(workdir: str) -> int:
    with open(os.path.join(workdir, "request.json")) as f:
        req = json.load(f)
    if req.get("batch"):
        _batch(workdir, req)
        return 0
    with open(os.path.join(workdir, "model.tflite"), "rb") as f:
        model = f.read()
    result = _run(workdir, req, model, os.path.join(workdir, "inputs.npy"))
    with open(os.path.join(workdir, "result.json"), "w") as f:
        json.dump(result, f)
    return 0


def _details(d: dict) -> dict:
    q = d.get("quantization_parameters", {})
    scales = [float(s) for s in np.asarray(q.get("scales", [])).reshape(-1)]
    zps = [int(z) for z in np.asarray(q.get("zero_points", [])).reshape(-1)]
    return {"shape": [int(s) for s in np.asarray(d["shape"]).reshape(-1)],
            "dtype": np.dtype(d["dtype"]).name, "scale": scales[0] if scales else None,
            "zero_point": zps[0] if zps else None}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
