"""Keyword spotting from WAV files: words spoken by espeak-ng in several voices and pitches
(a Speech-Commands folder: one subfolder per word) -> log-mel / MFCC features + model search
for an ESP32-S3 -> ESP-IDF component.

    python examples/keyword_spotting/run.py --out /tmp/kws [--trials 4 --epochs 20]

Needs espeak-ng (`apt-get install espeak-ng`). To use your own recordings, point
`edgeml search --data` at a folder with one subfolder of WAV files per word.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

WORDS = ("yes", "no", "up", "down", "stop", "go")
VOICES = ("en", "en-us", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-gb-x-gbclan")
PITCHES = (30, 45, 60, 75)


def speak(root: Path) -> Path:
    exe = shutil.which("espeak-ng")
    if exe is None:
        sys.exit("install espeak-ng to synthesize the words: apt-get install espeak-ng")
    for word in WORDS:
        (root / word).mkdir(parents=True, exist_ok=True)
        for voice in VOICES:
            for pitch in PITCHES:
                subprocess.run([exe, "-v", voice, "-p", str(pitch), "-w",
                                str(root / word / f"{voice}_{pitch}.wav"), word], check=True)
    return root


def edgeml(*args: str) -> None:
    print("$ edgeml " + " ".join(args), flush=True)
    subprocess.run([sys.executable, "-m", "edgeml", *args], check=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="kws-example")
    p.add_argument("--trials", type=int, default=4)
    p.add_argument("--epochs", type=int, default=20)
    a = p.parse_args()
    out = Path(a.out)
    speech = speak(out / "speech")
    edgeml("features", str(speech), "--target", "esp32s3", "--out", str(out / "feats.npz"),
           "--force")
    edgeml("search", "--target", "esp32s3", "--data", str(speech), "--trials", str(a.trials),
           "--epochs", str(a.epochs), "--out", str(out / "run"))
    edgeml("export", str(out / "run"), "--format", "esp-idf", "--out", str(out / "firmware"),
           "--force")


if __name__ == "__main__":
    main()
