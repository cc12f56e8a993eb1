"""edgeml is ready to publish: license, package-index metadata, and a wheel that installs
and runs outside the checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_license_is_the_apache_text_pyproject_declares():
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.lstrip().startswith("Apache License\n")
    assert "Version 2.0, January 2004" in text and "END OF TERMS AND CONDITIONS" in text
    assert "Copyright 2026 The edgeml authors" in text and "[yyyy]" not in text
    assert 'license = "Apache-2.0"' in (ROOT / "pyproject.toml").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """``python -m build --wheel`` of this checkout. ``--no-isolation`` builds with the
    hatchling of the dev extra instead of downloading one, so it runs offline in a second."""
    pytest.importorskip("build", reason="the dev extra's `build` is not installed")
    pytest.importorskip("hatchling", reason="the dev extra's `hatchling` is not installed")
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir",
                    str(out), str(ROOT)], check=True, capture_output=True, text=True)
    wheels = list(out.glob("edgeml-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_wheel_has_the_targets_license_and_index_metadata(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        meta_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        meta = Parser().parsestr(zf.read(meta_name).decode())
    shipped = {Path(n).name for n in names if n.startswith("edgeml/_targets/")}
    assert {p.name for p in (ROOT / "targets").glob("*.toml")} <= shipped
    assert "esp32.toml" in shipped
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert meta["License-Expression"] == "Apache-2.0"
    assert meta["Description-Content-Type"] == "text/markdown"
    assert "## Python API" in meta.get_payload()  # the README is the long description
    assert any(c.startswith("Programming Language :: Python :: 3.1") for c in
               meta.get_all("Classifier"))
    assert {u.split(",")[0] for u in meta.get_all("Project-URL")} >= {"Homepage", "Source",
                                                                       "Issues"}
    assert meta["Keywords"]


def test_the_wheel_installs_and_runs_edgeml_targets_outside_the_checkout(wheel, tmp_path):
    """A fresh virtual environment gets only the wheel (``--no-deps``); its dependencies
    come from this test's own environment through a ``.pth`` line (what
    ``--system-site-packages`` would give if this environment were the system's). A path
    line in a ``.pth`` file does not run the ``.pth`` files of that folder, so an editable
    install of the checkout there stays invisible: the wheel's edgeml is the only one.
    Installing the dependencies instead would download about 2 GB (TensorFlow) for a
    command that needs none of it. Runs from ``tmp_path``, away from the checkout."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()"
                                "['purelib'])"], check=True, capture_output=True,
                               text=True).stdout.strip())
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "deps_of_the_test_env.pth").write_text("\n".join(sorted(ours)) + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps",
                    "--no-index", "--quiet", str(wheel)], check=True, env=env, cwd=tmp_path)
    where = subprocess.run([str(py), "-c", "import edgeml; print(edgeml.__file__)"], env=env,
                           cwd=tmp_path, check=True, capture_output=True, text=True).stdout
    assert Path(where.strip()).is_relative_to(venv), where
    done = subprocess.run([str(venv / "bin" / "edgeml"), "targets", "--json"], env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    import json

    names = {t["name"] for t in json.loads(done.stdout)}
    assert {"esp32", "nrf52840", "stm32f746"} <= names
