"""A folder of WAV recordings in the Speech Commands layout: one subfolder per word.

Every file becomes one mono float32 clip in [-1, 1] at one sampling rate:

* stereo (multi-channel) files are downmixed to the mean of their channels (reported);
* files at another rate are resampled (polyphase, ``scipy.signal.resample_poly``) to
  ``rate`` (given) or else the lowest rate among the files, at most 16 kHz (reported);
* clips are ``clip_s`` seconds long (default: the longest recording); shorter ones are
  padded with silence at the end (reported, as Speech Commands pads its own clips); a
  recording longer than a given ``clip_s`` is an error naming it.

Files named ``SPEAKER_nohash_N.wav`` (Speech Commands) are grouped by speaker, so a
speaker's recordings stay on one side of a split. Subfolders starting with ``_`` or ``.`` (``_background_noise_``) are skipped and the
skip is reported. Empty folders, unreadable files and a single class are one-line errors.
"""

from __future__ import annotations

import wave
from math import gcd
from pathlib import Path

import numpy as np

from ..errors import DataError
from .recordings import Recordings

__all__ = ["load_wav_folder", "is_wav_folder", "read_wav", "MAX_RATE_HZ"]

MAX_RATE_HZ = 16000


def is_wav_folder(root: Path) -> bool:
    return root.is_dir() and any(root.glob("*/*.wav"))


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """(samples (T, C) float32 in [-1, 1], rate) of a PCM WAV file."""
    from scipy.io import wavfile

    try:
        rate, a = wavfile.read(path)
    except (ValueError, OSError, EOFError, wave.Error) as exc:
        raise DataError(f"{path} is not a readable WAV file ({exc})",
                        hint="save it as PCM WAV (8/16/32-bit integer or float)") from exc
    if a.dtype == np.uint8:
        x = (a.astype(np.float32) - 128.0) / 128.0
    elif a.dtype.kind == "i":
        x = a.astype(np.float32) / float(2 ** (8 * a.dtype.itemsize - 1))
    else:
        x = a.astype(np.float32)
    if x.ndim == 1:
        x = x[:, None]
    if len(x) == 0:
        raise DataError(f"{path} has no samples", hint="remove it or record it again")
    return x, int(rate)


def load_wav_folder(root: str | Path, *, rate: float | None = None,
                    clip_s: float | None = None) -> Recordings:
    from scipy.signal import resample_poly

    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root} is not a folder", hint="pass a folder with one subfolder per word")
    fixes: list[str] = []
    skipped = sorted(d.name for d in root.iterdir() if d.is_dir() and d.name.startswith(("_", ".")))
    if skipped:
        fixes.append(f"{root}: skipped folder(s) {', '.join(skipped)} (names starting with _ or .)")
    words = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith(("_", ".")))
    if not words:
        raise DataError(f"{root} has no word subfolders",
                        hint="put each word's WAV files in a subfolder named after it")
    files: list[tuple[Path, str]] = []
    for d in words:
        wavs = sorted(d.glob("*.wav"))
        if not wavs:
            raise DataError(f"word folder {d} has no .wav files",
                            hint="add recordings or remove the folder")
        files += [(f, d.name) for f in wavs]
    if len(words) < 2:
        raise DataError(f"{root} has a single word ({words[0].name!r})",
                        hint="a classifier needs at least two words (subfolders)")
    raw = [(read_wav(f), f, w) for f, w in files]
    rates = sorted({r for (_, r), _, _ in raw})
    target = int(rate) if rate else min(min(rates), MAX_RATE_HZ)
    stereo = [f for (x, _), f, _ in raw if x.shape[1] > 1]
    if stereo:
        fixes.append(f"{root}: downmixed {len(stereo)} multi-channel file(s) to mono "
                     f"(mean of the channels), e.g. {stereo[0]}")
    resampled = sorted({r for (_, r), _, _ in raw if r != target})
    if resampled:
        n = sum(1 for (_, r), _, _ in raw if r != target)
        fixes.append(f"{root}: resampled {n} file(s) from {'/'.join(map(str, resampled))} Hz "
                     f"to {target} Hz (polyphase)")
    clips: list[np.ndarray] = []
    for (x, r), _f, _w in raw:
        mono = x.mean(axis=1)
        if r != target:
            g = gcd(int(r), int(target))
            mono = resample_poly(mono, target // g, int(r) // g).astype(np.float32)
        clips.append(mono.astype(np.float32))
    longest = max(len(c) for c in clips)
    n_clip = int(round(clip_s * target)) if clip_s else longest
    too_long = [(len(c), f) for c, ((_, _), f, _) in zip(clips, raw, strict=True) if len(c) > n_clip]
    if too_long:
        n, f = too_long[0]
        raise DataError(f"{f} is {n / target:.3f} s long, longer than the {n_clip / target:.3f} s "
                        "clip", hint="trim it or pass a longer clip length")
    padded = sum(1 for c in clips if len(c) < n_clip)
    if padded:
        fixes.append(f"{root}: padded {padded} of {len(clips)} recording(s) shorter than "
                     f"{n_clip / target:.3f} s with silence at the end")
    signals = tuple(np.pad(c, (0, n_clip - len(c)))[:, None] for c in clips)
    classes = tuple(w.name for w in words)
    y = np.array([classes.index(w) for _, _, w in raw], dtype=np.int64)
    sources = tuple(str(f) for _, f, _ in raw)
    # Speech Commands names files SPEAKER_nohash_N.wav: a speaker stays on one side of a split.
    groups = tuple(f.name.split("_nohash_")[0] if "_nohash_" in f.name else str(f)
                   for _, f, _ in raw)
    return Recordings(name=root.name, kind="audio", signals=signals, y=y, labels=classes,
                      groups=groups, sources=sources, rate=float(target), channels=("audio",),
                      fixes=tuple(fixes))
