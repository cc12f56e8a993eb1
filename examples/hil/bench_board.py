"""Bench a model on a board from Python: the virtual board by default, a real one with --port.

    python examples/hil/bench_board.py                          # virtual board, esp32s3
    python examples/hil/bench_board.py --port /dev/ttyUSB0 --target esp32s3 --model model.tflite

It connects, says whether the board speaks edgeml's extension, benches the model
(MLPerf Tiny's windows, outputs checked against the host TFLite Micro interpreter),
prints the result next to edgeml's estimate and writes bench.json / bench.md.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from edgeml.hil import connect
from edgeml.hil.bench import BenchOptions, bench_model, write_bench
from edgeml.targets import load_target


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", default=None, help="the board's serial port [default: virtual board]")
    p.add_argument("--target", default="esp32s3")
    p.add_argument("--model", default=None, help=".tflite [default: a small CNN of edgeml's corpus]")
    p.add_argument("--window-s", type=float, default=None,
                   help="timed window [default: 10 s on a board, 0.2 s on the virtual board]")
    p.add_argument("--out", default="bench-example")
    args = p.parse_args()

    target = load_target(args.target)
    if args.model:
        model = Path(args.model).read_bytes()
    else:
        from edgeml.estimate.zoo import cached_model

        model = cached_model("corpus", "conv_pool_gap")

    board = None
    port = args.port
    if port is None:
        from edgeml.hil.virtual import VirtualBoard

        board = VirtualBoard(target=target)   # the firmware's C core + host TFLM, simulated clock
        port = board.start()
    try:
        with connect(port) as client:
            ext = client.extension()
            print(f"{client.name()} on {port}: "
                  + (f"edgeml extension v{ext.version}, timer={ext.timer}" if ext
                     else "MLPerf Tiny base protocol only"))
            window = args.window_s or (0.2 if board else 10.0)
            result = bench_model(client, model, target=target,
                                 options=BenchOptions(window_s=window))
    finally:
        if board is not None:
            board.stop()
    files = write_bench(result, args.out)
    print(json.dumps({k: result.as_dict()[k] for k in
                      ("latency_ms", "latency_spread_ms", "inferences", "energy_uj",
                       "outputs_match", "arena_bytes", "timing")}
                     | {"estimated_latency_ms": result.estimate["latency_ms"],
                        "bench_json": str(files["bench.json"])}, indent=2))


if __name__ == "__main__":
    main()
