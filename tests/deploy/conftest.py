"""Shared fixtures of the deployment checks: repository paths and rendered overlays."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
# Built by `make test-deps` (the version the Makefile pins).
KUSTOMIZE = ROOT / ".tools" / "bin" / "kustomize"
OVERLAYS = ("dev", "prod")

Manifest = dict[str, Any]


def kustomize_command() -> list[str]:
    if KUSTOMIZE.exists():
        return [str(KUSTOMIZE), "build"]
    kubectl = shutil.which("kubectl")
    if kubectl is not None:
        return [kubectl, "kustomize"]
    pytest.skip(
        "kustomize not found: the overlays cannot be rendered "
        "(`make test-deps` builds .tools/bin/kustomize with Go)"
    )


def render_overlay(overlay: str) -> list[Manifest]:
    """Render an overlay with the real kustomize."""
    command = kustomize_command()
    result = subprocess.run(
        [*command, str(K8S / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"{' '.join(command)} {overlay} failed:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[Manifest]]:
    return {overlay: render_overlay(overlay) for overlay in OVERLAYS}


def by_kind(manifests: list[Manifest], kind: str) -> dict[str, Manifest]:
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] == kind}
