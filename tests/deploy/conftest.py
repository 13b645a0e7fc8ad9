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
OVERLAYS = ("dev", "prod")

Manifest = dict[str, Any]


def render_overlay(overlay: str) -> list[Manifest]:
    """Render an overlay with the real kustomize (built into kubectl)."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip(
            "kubectl not found: the overlays cannot be rendered "
            "(install kubectl; Debian: apt-get install kubectl)"
        )
    result = subprocess.run(
        [kubectl, "kustomize", str(K8S / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"kubectl kustomize {overlay} failed:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[Manifest]]:
    return {overlay: render_overlay(overlay) for overlay in OVERLAYS}


def by_kind(manifests: list[Manifest], kind: str) -> dict[str, Manifest]:
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] == kind}
