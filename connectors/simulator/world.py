"""The world of one simulator: tenants and their estates (built by ``build.py``).

Lookups that a request needs (tenant by id or domain, workspace by id, the pipeline behind a
run id) are dictionaries here, or arithmetic for the generated part (``generated.py``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from connectors.simulator.generated import GeneratedPowerBI
from connectors.simulator.ids import uuid_index
from connectors.simulator.model import (
    App,
    FabricItem,
    FabricWorkspace,
    Factory,
    PbiDataflow,
    PbiDataset,
    PbiWorkspace,
    Pipeline,
    Subscription,
    SynapseWorkspace,
)
from connectors.simulator.scenario_specs import SignInNoiseSpec


class PowerBIEstate:
    """Explicit workspaces (from the YAML) followed by generated ones, behind one interface."""

    def __init__(self, generated: GeneratedPowerBI | None) -> None:
        self.explicit: list[PbiWorkspace] = []
        self._by_id: dict[str, PbiWorkspace] = {}
        self._datasets: dict[str, list[PbiDataset]] = {}
        self._dataflows: dict[str, list[PbiDataflow]] = {}
        self._dataset_by_id: dict[str, PbiDataset] = {}
        self.generated = generated

    def add(self, ws: PbiWorkspace, datasets: list[PbiDataset], dataflows: list[PbiDataflow]) -> None:
        self.explicit.append(ws)
        self._by_id[ws.id] = ws
        self._datasets[ws.id] = datasets
        self._dataflows[ws.id] = dataflows
        self._dataset_by_id.update((d.id, d) for d in datasets)

    def workspaces(self, skip: int = 0) -> Iterator[PbiWorkspace]:
        yield from self.explicit[skip:]
        if self.generated:
            for i in range(max(0, skip - len(self.explicit)), self.generated.workspace_count):
                yield self.generated.workspace(i)

    def workspace(self, workspace_id: str) -> PbiWorkspace | None:
        key = workspace_id.lower()
        found = self._by_id.get(key)
        if found is None and self.generated:
            found = self.generated.workspace_by_id(key)
        return found

    def datasets_in(self, ws: PbiWorkspace) -> list[PbiDataset]:
        if ws.id in self._datasets:
            return self._datasets[ws.id]
        gen = self.generated
        if gen is None:
            return []
        i = self._generated_index(ws)
        return [gen.dataset(j, ws) for j in gen.dataset_indexes(i)]

    def _generated_index(self, ws: PbiWorkspace) -> int:
        return uuid_index(ws.id) or 0

    def dataflows_in(self, ws: PbiWorkspace) -> list[PbiDataflow]:
        return self._dataflows.get(ws.id, [])

    def dataset(self, dataset_id: str) -> PbiDataset | None:
        key = dataset_id.lower()
        found = self._dataset_by_id.get(key)
        if found is None and self.generated:
            found = self.generated.dataset_by_id(key)
        return found

    def explicit_datasets(self) -> Iterator[PbiDataset]:
        for ws in self.explicit:
            yield from self._datasets[ws.id]

    def refreshables(self, skip: int, top: int) -> list[PbiDataset]:
        """Refreshable datasets on a capacity, in a stable order, ``[skip, skip + top)``."""
        mine = [d for d in self.explicit_datasets() if d.refreshable and d.workspace.capacity]
        page = mine[skip : skip + top]
        gen = self.generated
        if gen is not None and len(page) < top:
            indexes = itertools.islice(gen.refreshable_indexes(), max(0, skip - len(mine)), None)
            page += [gen.dataset(j) for j in itertools.islice(indexes, top - len(page))]
        return page

    def failing_datasets(self) -> Iterator[PbiDataset]:
        """Datasets that have failure windows (everything else never fails)."""
        yield from (d for d in self.explicit_datasets() if d.job and d.job.failures)
        if self.generated:
            yield from (self.generated.dataset(j) for j in self.generated.failing)

    def dataflows(self) -> Iterator[PbiDataflow]:
        for ws in self.explicit:
            yield from self._dataflows[ws.id]


@dataclass
class Tenant:
    id: str
    domain: str
    name: str
    premium: bool
    noise: SignInNoiseSpec
    apps: dict[str, App]
    powerbi: PowerBIEstate
    fabric: list[FabricWorkspace] = field(default_factory=list)
    fabric_items: dict[str, list[FabricItem]] = field(default_factory=dict)
    subscriptions: list[Subscription] = field(default_factory=list)
    synapse: dict[str, SynapseWorkspace] = field(default_factory=dict)

    def fabric_workspace(self, workspace_id: str) -> FabricWorkspace | None:
        return next((w for w in self.fabric if w.id == workspace_id.lower()), None)

    def factories(self) -> Iterator[Factory]:
        for sub in self.subscriptions:
            yield from sub.factories

    def factory(self, subscription_id: str, group: str, name: str) -> Factory | None:
        for f in self.factories():
            if (f.subscription_id, f.resource_group.lower(), f.name.lower()) == (
                subscription_id.lower(),
                group.lower(),
                name.lower(),
            ):
                return f
        return None

    def pipelines(self) -> Iterator[Pipeline]:
        for f in self.factories():
            yield from f.pipelines
        for ws in self.synapse.values():
            yield from ws.pipelines


@dataclass
class World:
    seed: int
    start: datetime
    history_start: float
    tenants: list[Tenant]
    pipelines_by_number: dict[int, Pipeline] = field(default_factory=dict)

    def tenant(self, ref: str) -> Tenant | None:
        key = ref.lower()
        return next((t for t in self.tenants if key in (t.id, t.domain.lower())), None)

    def tenant_by_id(self, tenant_id: str) -> Tenant | None:
        return next((t for t in self.tenants if t.id == tenant_id), None)

    def app(self, client_id: str) -> tuple[Tenant, App] | None:
        key = client_id.lower()
        for tenant in self.tenants:
            if key in tenant.apps:
                return tenant, tenant.apps[key]
        return None
