"""The Kubernetes manifests (deploy/k8s) render with kustomize and pass `kubeconform -strict`
against the Kubernetes 1.37 JSON schemas of the `kubernetes-validate` package (PyPI, a dev
dependency; no network). KEDA's kinds have no schema there: they are skipped (-ignore-missing-schemas)
and their shape is asserted below. compose.yaml is parsed, and its healthchecks probe /readyz.

kubeconform and kustomize come from the Go module proxy: `make k8s-tools` (part of `make test`)."""

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
SCHEMAS = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / "v1.37.0-local-strict"
WORKER_ROLES = {
    "forecasting": ("bakeplan.forecasting", "bakeplan.forecasting.commands"),
    "production": ("bakeplan.production", "bakeplan.production.commands"),
    "procurement": ("bakeplan.procurement", "bakeplan.procurement.commands"),
    "channels": ("bakeplan.channels", "bakeplan.purchasing.orders"),
}


def _tool(name: str) -> str:
    for candidate in (ROOT / ".tools" / "bin" / name, Path(os.path.expanduser("~/go/bin")) / name):
        if candidate.exists():
            return str(candidate)
    path = shutil.which(name)
    assert path, f"{name} is not installed: run `make k8s-tools` (go install from the Go module proxy)"
    return path


def _inline(node: Any, definitions: dict[str, Any]) -> Any:
    """The schema with every `#/$defs/X` reference (into `_definitions.json`) replaced by X itself,
    and no `$id`: a reference would resolve against kubernetes.io otherwise, over the network."""
    if isinstance(node, dict):
        ref = node.get("$ref", "")
        if "#/$defs/" in ref:
            return _inline(definitions[ref.rsplit("/", 1)[1]], definitions)
        return {key: _inline(value, definitions) for key, value in node.items() if key not in ("$id", "$schema")}
    if isinstance(node, list):
        return [_inline(value, definitions) for value in node]
    return node


@pytest.fixture(scope="module")
def schema_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Standalone schemas of the kinds the manifests use (kubeconform compiles no cross-file refs)."""
    out = tmp_path_factory.mktemp("k8s-schemas")
    definitions = json.loads((SCHEMAS / "_definitions.json").read_text())["$defs"]
    for name in (
        "configmap-v1",
        "secret-v1",
        "service-v1",
        "deployment-apps-v1",
        "job-batch-v1",
        "poddisruptionbudget-policy-v1",
    ):
        schema = _inline(json.loads((SCHEMAS / f"{name}.json").read_text()), definitions)
        (out / f"{name}.json").write_text(json.dumps(schema))
    return out


def _render(path: Path) -> str:
    return subprocess.run([_tool("kustomize"), "build", str(path)], check=True, capture_output=True, text=True).stdout


def kubeconform(rendered: str, schema_dir: Path) -> subprocess.CompletedProcess[str]:
    location = f"{schema_dir}/{{{{ .ResourceKind }}}}{{{{ .KindSuffix }}}}.json"
    return subprocess.run(
        [
            _tool("kubeconform"),
            "-strict",
            "-summary",
            "-output",
            "json",
            "-ignore-missing-schemas",
            "-schema-location",
            location,
            "-",
        ],
        input=rendered,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("tree", ["base", "overlays/example"])
def test_the_manifests_pass_kubeconform_strict(tree: str, schema_dir: Path) -> None:
    rendered = _render(K8S / tree)
    result = kubeconform(rendered, schema_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(result.stdout)["summary"]
    kinds = [doc["kind"] for doc in yaml.safe_load_all(rendered)]
    keda = sum(kind in ("ScaledObject", "TriggerAuthentication") for kind in kinds)
    assert summary["valid"] == len(kinds) - keda > 0, summary  # every built-in kind was checked, none skipped
    assert summary["skipped"] == keda == 5


def test_an_invalid_field_fails_kubeconform(schema_dir: Path) -> None:
    broken = _render(K8S / "base").replace("terminationGracePeriodSeconds: 60", "terminationGracePeriodSecond: 60", 1)
    result = kubeconform(broken, schema_dir)
    assert result.returncode != 0
    assert "terminationGracePeriodSecond" in result.stdout


def test_each_role_has_probes_a_pdb_and_workers_scale_on_their_group_lag() -> None:
    docs = list(yaml.safe_load_all(_render(K8S / "overlays" / "example")))
    by = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    for role in ("orchestrator", *WORKER_ROLES):
        pod = by[("Deployment", f"bakeplan-{role}")]["spec"]["template"]
        container = pod["spec"]["containers"][0]
        assert container["command"] == ["bakeplan", "serve", "--role", role]
        assert container["image"] == "registry.example.com/bakeplan:1.0.0"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert pod["metadata"]["annotations"]["prometheus.io/port"] == "9464"
        assert ("PodDisruptionBudget", f"bakeplan-{role}") in by
    for role, (group, topic) in WORKER_ROLES.items():
        trigger = by[("ScaledObject", f"bakeplan-{role}")]["spec"]["triggers"][0]
        assert trigger["type"] == "kafka"
        assert (trigger["metadata"]["consumerGroup"], trigger["metadata"]["topic"]) == (
            f"example.{group}",
            f"example.{topic}",
        )
    assert ("Deployment", "bakeplan-console") in by
    assert ("Job", "bakeplan-migrate") in by


def test_compose_parses_and_every_role_is_health_checked_on_readyz() -> None:
    services = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    for role in ("orchestrator", *WORKER_ROLES):
        assert "/readyz" in " ".join(services[role]["healthcheck"]["test"]), role
    assert "console" in services
    assert services["console"]["healthcheck"]["test"]
