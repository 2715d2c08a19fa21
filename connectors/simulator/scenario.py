"""Scenario files: the YAML that describes one simulated world, validated by pydantic.

A scenario names a seed, a clock start and default speed, and one or more tenants. Each tenant
holds its apps (credentials, flags), its Power BI / Fabric / ADF / Synapse estate, sign-in
noise and optionally a ``generate:`` block for a large synthetic estate (the parts are in
``scenario_specs.py``). Unknown keys are errors (``extra="forbid"``) so a typo never silently
changes a run. Ids may be omitted: they are then derived from the seed and the name.
"""

from __future__ import annotations

from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from connectors.simulator.scenario_specs import (
    GUID_PATTERN,
    AppSpec,
    DurationText,
    FabricWorkspaceSpec,
    GenerateSpec,
    PowerBISpec,
    SignInNoiseSpec,
    Strict,
    SubscriptionSpec,
    SynapseWorkspaceSpec,
)


class TenantSpec(Strict):
    id: str
    domain: str
    name: str = ""
    entra_premium: bool = True  # False: Graph sign-ins answer 403 (no P1/P2 licence)
    apps: list[AppSpec] = Field(default_factory=list)
    powerbi: PowerBISpec = PowerBISpec()
    fabric: list[FabricWorkspaceSpec] = Field(default_factory=list)
    subscriptions: list[SubscriptionSpec] = Field(default_factory=list)
    synapse: list[SynapseWorkspaceSpec] = Field(default_factory=list)
    signins: SignInNoiseSpec = SignInNoiseSpec()
    generate: GenerateSpec | None = None

    @field_validator("id")
    @classmethod
    def _guid(cls, value: str) -> str:
        if not GUID_PATTERN.match(value):
            raise ValueError(f"tenant id must be a GUID, got {value!r}")
        return value.lower()


class ClockSpec(Strict):
    start: datetime
    speed: float = Field(default=1.0, ge=0)
    history: DurationText = "7d"  # how long items have been running before the clock start

    @field_validator("start")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("clock.start must carry a zone, e.g. 2025-04-02T06:00:00Z")
        return value


class PagingSpec(Strict):
    fabric: int = Field(default=100, ge=1)
    adf: int = Field(default=100, ge=1)
    arm: int = Field(default=100, ge=1)


class FaultSpec(Strict):
    api: str
    kind: Literal[
        "throttle",
        "error5xx",
        "slow",
        "truncated",
        "malformed",
        "expired_token",
        "down",
        "forbidden",
        "loop",
        "flood",
    ]
    rate: float = Field(default=1.0, ge=0, le=1)
    count: int | None = Field(default=None, ge=1)
    retry_after: float = Field(default=1.0, ge=0)
    delay_ms: int = Field(default=0, ge=0)
    path_contains: str | None = None
    status: int | None = None
    rows: int = Field(default=100_000, ge=1)


class Scenario(Strict):
    name: str
    description: str = ""
    seed: int
    clock: ClockSpec
    tenants: list[TenantSpec] = Field(min_length=1)
    paging: PagingSpec = PagingSpec()
    faults: list[FaultSpec] = Field(default_factory=list)
    msi_header: str = "sim-identity-header"
    token_lifetime: int = Field(default=3599, ge=1)

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        client_ids = [app.client_id for tenant in self.tenants for app in tenant.apps]
        if len(client_ids) != len(set(client_ids)):
            raise ValueError("client ids must be unique across tenants")
        if len({t.id for t in self.tenants}) != len(self.tenants):
            raise ValueError("tenant ids must be unique")
        if sum(1 for t in self.tenants if t.generate) > 1:
            raise ValueError("only one tenant may have a generate: block")
        for tenant in self.tenants:
            _check_members(tenant)
        return self


def _check_members(tenant: TenantSpec) -> None:
    known = {app.client_id for app in tenant.apps}
    lists: list[tuple[str, list[str] | None]] = [
        (f"powerbi workspace {w.name!r}", w.members) for w in tenant.powerbi.workspaces
    ]
    lists += [(f"fabric workspace {w.name!r}", w.members) for w in tenant.fabric]
    lists += [
        (f"factory {f.name!r} readers", f.readers)
        for s in tenant.subscriptions
        for g in s.resource_groups
        for f in g.factories
    ]
    for where, members in lists:
        unknown = [m for m in members or [] if m.lower() not in known]
        if unknown:
            raise ValueError(f"{where} names unknown client ids {unknown} (tenant {tenant.domain})")
    capacities = {c.name for c in tenant.powerbi.capacities}
    wanted = [(w.name, w.capacity) for w in tenant.powerbi.workspaces]
    wanted += [(w.name, w.capacity) for w in tenant.fabric]
    for name, capacity in wanted:
        if capacity is not None and capacity not in capacities:
            raise ValueError(f"workspace {name!r} names unknown capacity {capacity!r}")


class ScenarioError(ValueError):
    """A scenario could not be found or is invalid; the message names the place and the reason."""


def _format_errors(source: str, error: ValidationError) -> str:
    lines = [f"invalid scenario {source}:"]
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "(top level)"
        lines.append(f"  {where}: {item['msg']}")
    return "\n".join(lines)


def parse_scenario(data: object, source: str = "<data>") -> Scenario:
    try:
        return Scenario.model_validate(data)
    except ValidationError as error:
        raise ScenarioError(_format_errors(source, error)) from None


def bundled_scenarios() -> list[str]:
    folder = resources.files("connectors.simulator").joinpath("scenarios")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_scenario(scenario: str | Path | Scenario) -> Scenario:
    """A bundled scenario by name (``demo``, ``scale``), a YAML path, or a Scenario as is."""
    if isinstance(scenario, Scenario):
        return scenario
    path = Path(scenario)
    if path.suffix in {".yaml", ".yml"} or path.exists():
        if not path.is_file():
            raise ScenarioError(f"scenario file not found: {path}")
        text, source = path.read_text(encoding="utf-8"), str(path)
    else:
        bundled = resources.files("connectors.simulator").joinpath("scenarios", f"{scenario}.yaml")
        if not bundled.is_file():
            names = ", ".join(bundled_scenarios())
            raise ScenarioError(f"unknown scenario {scenario!r}: bundled ones are {names}")
        text, source = bundled.read_text(encoding="utf-8"), f"{scenario}.yaml"
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ScenarioError(f"scenario {source} is not valid YAML: {error}") from None
    return parse_scenario(data, source)
