"""Where the checkout is, and the folders `make` fills in it."""

from __future__ import annotations

from pathlib import Path


def repo_root() -> Path:
    """The uv workspace root: the nearest parent holding both pyproject.toml and uv.lock."""
    for directory in (Path.cwd(), *Path.cwd().parents):
        if (directory / "pyproject.toml").is_file() and (directory / "uv.lock").is_file():
            return directory
    return Path.cwd()


def default_state_dir() -> Path:
    return repo_root() / ".run"


def tools_dir() -> Path:
    """What `make install` puts beside .venv (uv, Apache Kafka's jars) in the checkout this
    package is installed from (editable, as `make install` does), wherever the caller runs."""
    checkout = Path(__file__).resolve().parents[4]
    return checkout / ".tools"
