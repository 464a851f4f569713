"""The wheel: the example files init uses, the analyst folders, the licence and the project metadata."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from segmint.resources import TEMPLATES

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    [built] = list(out.glob("segmint-*.whl"))
    return zipfile.ZipFile(built)


@pytest.mark.parametrize("name", TEMPLATES)
def test_the_wheel_carries_each_example_file_as_it_is_at_the_top_level(
    wheel: zipfile.ZipFile, name: str
) -> None:
    assert wheel.read(f"segmint/_resources/templates/{name}") == (ROOT / name).read_bytes()


def test_the_wheel_carries_the_licence_and_the_flows(wheel: zipfile.ZipFile) -> None:
    names = wheel.namelist()
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), names
    assert "segmint/_resources/flows/nightly.py" in names
    assert "segmint/py.typed" in names
    metadata = next(wheel.read(n).decode() for n in names if n.endswith(".dist-info/METADATA"))
    assert "License-Expression: Apache-2.0" in metadata
    assert "Classifier: Environment :: Console" in metadata


def test_pyproject_licence_matches_the_licence_file() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "Apache-2.0"
    assert "Apache License" in (ROOT / "LICENSE").read_text().splitlines()[1]
    # Registry host names stay out of the metadata.
    assert "pypi" not in (ROOT / "pyproject.toml").read_text().lower()


@pytest.mark.parametrize("name", ["personas.toml", "catalogue.csv", "adjectives.csv"])
def test_the_wheel_carries_the_demo_generators_data_files(wheel: zipfile.ZipFile, name: str) -> None:
    assert wheel.read(f"segmint/synth/{name}") == (ROOT / "src" / "segmint" / "synth" / name).read_bytes()
