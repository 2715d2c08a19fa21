"""The wheel holds every package and the knowledge base, and works from any directory."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    shutil.rmtree(REPO / "build", ignore_errors=True)  # setuptools reuses a stale build/lib otherwise
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    return next(out.glob("aadsts_enricher-*.whl"))


def test_every_package_is_in_the_wheel(wheel: Path) -> None:
    """packages are listed by hand in pyproject.toml (for the knowledge mapping): none may be missing."""
    names = set(zipfile.ZipFile(wheel).namelist())
    for init in [*REPO.glob("enricher/**/__init__.py"), *REPO.glob("connectors/**/__init__.py")]:
        assert str(init.relative_to(REPO)) in names, f"{init.parent.relative_to(REPO)} is not in the wheel"
    assert sum(n.startswith("enricher/_knowledge/codes/") for n in names) >= 345
    assert "connectors/simulator/scenarios/demo.yaml" in names
    assert any(n.startswith("enricher/dashboard/static/") for n in names)


def test_the_installed_wheel_works_from_anywhere(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = (
        "import enricher, json; from enricher.cli import main; "
        f"assert enricher.__file__.startswith({str(site)!r}); main(['kb', 'stats', '--json'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert '"coverage_percent": 100.0' in result.stdout
