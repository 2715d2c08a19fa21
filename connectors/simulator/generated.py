"""The ``generate:`` block: a large synthetic estate derived from indexes, never stored.

Workspace ``i`` and dataset ``j`` are computed on demand; their ids carry the index
(``ids.indexed_uuid``), so looking one up by id is arithmetic plus one check. Which datasets
fail is decided once by a seeded sample (a few hundred indexes), so listing the failures does
not scan 100,000 datasets. Generated pipelines are few enough (thousands) to build eagerly.

Failures are correlated the way they are in a real tenant: one broken thing takes many items down.
The failing items of one code share one of ``causes_per_code`` causes (:func:`broken`): for an app
code, the service principal they sign in with; otherwise the data source (and so the gateway) a
dataset reads, or the linked service a pipeline uses.
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Iterator
from datetime import UTC, datetime

from connectors.simulator import aadsts
from connectors.simulator.ids import fast_indexed_uuid, mix64, stable_int, stable_uuid, uuid_index
from connectors.simulator.model import (
    Activity,
    Capacity,
    Factory,
    FailureWindow,
    Job,
    PbiDataset,
    PbiWorkspace,
    Pipeline,
    Subscription,
)
from connectors.simulator.scenario_specs import GenerateSpec
from connectors.simulator.schedule import Schedule
from connectors.simulator.timefmt import parse_offset

GEN_DATASET_BASE = 1 << 16  # job numbers of generated datasets start here
GEN_PIPELINE_BASE = GEN_DATASET_BASE + (1 << 19)


def broken(spec: GenerateSpec, seed: int, tenant_id: str, code: int, index: int) -> tuple[int, str | None]:
    """(shared slot, service principal) of a failing item: items failing with one code split over
    ``causes_per_code`` slots; an app code also names the app (client id) whose credential broke."""
    which = index % spec.causes_per_code
    slot = stable_int(seed, tenant_id, "broken", code, which)
    app = aadsts.lookup(code).principal == "app"
    return slot, stable_uuid(seed, tenant_id, "broken-app", code, which) if app else None


def _sample_failures(
    seed: int, label: str, count: int, *, spec: GenerateSpec, start: float
) -> dict[int, tuple[int, float]]:
    """index -> (AADSTS code, failing since) for ``failure_rate`` of ``count`` items."""
    rng = random.Random(stable_int(seed, "generate", label))
    chosen = rng.sample(range(count), round(count * spec.failure_rate)) if count else []
    codes, weights = list(spec.codes), list(spec.codes.values())
    since = start + parse_offset(spec.failing_since).total_seconds()
    return {i: (rng.choices(codes, weights)[0], since - rng.random() * 3600) for i in sorted(chosen)}


class GeneratedPowerBI:
    def __init__(
        self,
        spec: GenerateSpec,
        seed: int,
        tenant_id: str,
        *,
        capacities: list[Capacity],
        start: float,
        not_before: float,
    ) -> None:
        self.spec = spec
        self._seed = seed
        self._tenant = tenant_id
        self._capacities = capacities
        self._not_before = not_before
        self._start = start
        self.workspace_count = spec.workspaces
        self.dataset_count = spec.datasets
        self._per_ws = math.ceil(spec.datasets / spec.workspaces) if spec.workspaces else 0
        self._members = None if spec.members is None else frozenset(m.lower() for m in spec.members)
        self.failing = _sample_failures(seed, "datasets", spec.datasets, spec=spec, start=start)
        self._salt = stable_int(seed, tenant_id, "generated-powerbi")
        # Neighbouring datasets share a workspace; keep recently built ones.
        self.workspace = functools.lru_cache(maxsize=4096)(self._workspace)

    def _workspace(self, i: int) -> PbiWorkspace:
        return PbiWorkspace(
            id=fast_indexed_uuid(i, self._salt),
            name=f"Workspace {i:05d}",
            description="Generated workspace",
            members=self._members,
            capacity=self._capacities[i % len(self._capacities)],
        )

    def workspace_by_id(self, workspace_id: str) -> PbiWorkspace | None:
        i = uuid_index(workspace_id)
        if i is None or i >= self.workspace_count:
            return None
        ws = self.workspace(i)
        return ws if ws.id == workspace_id.lower() else None

    def dataset_indexes(self, workspace_index: int) -> range:
        first = workspace_index * self._per_ws
        return range(first, min(first + self._per_ws, self.dataset_count))

    def is_refreshable(self, j: int) -> bool:
        # Cheap on purpose: deep $skip pages test this for tens of thousands of indexes.
        return ((j * 0x9E3779B1) ^ self._salt) % 1009 < self.spec.refreshable_ratio * 1009

    def dataset(self, j: int, workspace: PbiWorkspace | None = None) -> PbiDataset:
        h = mix64(self._seed ^ (j * 0x9E3779B1))
        gateway = (h >> 16) % 5 == 0
        failures: tuple[FailureWindow, ...] = ()
        slot: int | None = None
        if j in self.failing:
            code, since = self.failing[j]
            slot, app = broken(self.spec, self._seed, self._tenant, code, j)
            kind = "gateway" if gateway else "oauth"
            failures = (FailureWindow(code, kind, start=since, principal=app),)
        refreshable = self.is_refreshable(j)
        job = (
            Job(
                number=GEN_DATASET_BASE + j,
                key=mix64(self._salt ^ (j << 1)),
                schedule=_daily(1 + h % 4, (h >> 8) % 48),
                duration=60.0 + (h >> 24) % 840,
                not_before=self._not_before,
                failures=failures,
                disable_after=4,
            )
            if refreshable
            else None
        )
        return PbiDataset(
            id=fast_indexed_uuid(j, self._salt ^ 0x5DEECE66D),
            name=f"Dataset {j:06d}",
            workspace=workspace or self.workspace(j // self._per_ws),
            job=job,
            gateway=gateway,
            refreshable=refreshable,
            configured_by="svc-bi@generated.example",
            created=datetime.fromtimestamp(self._start - 86_400 * (30 + (h >> 32) % 700), UTC),
            source_slot=slot,
        )

    def dataset_by_id(self, dataset_id: str) -> PbiDataset | None:
        j = uuid_index(dataset_id)
        if j is None or j >= self.dataset_count:
            return None
        ds = self.dataset(j)
        return ds if ds.id == dataset_id.lower() else None

    def refreshable_indexes(self) -> Iterator[int]:
        return (j for j in range(self.dataset_count) if self.is_refreshable(j))


@functools.lru_cache(maxsize=256)
def _daily(count: int, first_slot: int) -> Schedule:
    """``count`` refreshes a day, evenly spread over the half hours, starting at ``first_slot``."""
    step = 48 // count
    return Schedule(times=tuple(sorted({((first_slot + k * step) % 48) * 1800 for k in range(count)})))


def generated_subscription(
    spec: GenerateSpec, seed: int, tenant_id: str, start: float, not_before: float
) -> Subscription | None:
    """One subscription, one resource group, factories of ``pipelines_per_factory`` each."""
    if not spec.pipelines:
        return None
    sub_id = stable_uuid(seed, tenant_id, "gen-subscription")
    failing = _sample_failures(seed, "pipelines", spec.pipelines, spec=spec, start=start)
    factories: list[Factory] = []
    for f in range(math.ceil(spec.pipelines / spec.pipelines_per_factory)):
        name = f"adf-scale-{f:03d}"
        container = f"adf:{sub_id}/rg-scale-data/{name}".lower()
        first = f * spec.pipelines_per_factory
        last = min(first + spec.pipelines_per_factory, spec.pipelines)
        pipelines = tuple(
            _pipeline(
                p, spec, seed, tenant_id, container=container, not_before=not_before, failing=failing.get(p)
            )
            for p in range(first, last)
        )
        factories.append(
            Factory(name, sub_id, "rg-scale-data", "West Europe", frozenset(), pipelines, tenant_id)
        )
    return Subscription(sub_id, "Scale Data Platform", tuple(factories))


def _pipeline(
    p: int,
    spec: GenerateSpec,
    seed: int,
    tenant_id: str,
    *,
    container: str,
    not_before: float,
    failing: tuple[int, float] | None,
) -> Pipeline:
    h = mix64(seed ^ (p * 0x2545F491))
    linked = f"ls_gen_sql_{p % 40:02d}"
    failures: tuple[FailureWindow, ...] = ()
    if failing is not None:
        slot, app = broken(spec, seed, tenant_id, failing[0], p)
        linked = f"ls_gen_sql_{slot % 40:02d}"
        failures = (FailureWindow(failing[0], "linked_service", start=failing[1], principal=app),)
    job = Job(
        number=GEN_PIPELINE_BASE + p,
        key=stable_int(seed, tenant_id, "gen-pipeline", p),
        schedule=Schedule(every=3600, offset=60 * (h % 60)),
        duration=60.0 + (h >> 8) % 840,
        not_before=not_before,
        failures=failures,
    )
    activities = (Activity("Lookup_Watermark", "Lookup", linked), Activity("Copy_Data", "Copy", linked))
    return Pipeline(f"pl_gen_{p:05d}", job, activities, "trg_hourly", (), container)
