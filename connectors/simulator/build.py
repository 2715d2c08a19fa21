"""Build the ``World`` from a ``Scenario``: offsets become instants, names ids, schedules Jobs.

This runs once per simulator. Ids the YAML leaves out are derived from the seed and the names,
so they are stable across runs and machines.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

from connectors.simulator.generated import GeneratedPowerBI, generated_subscription
from connectors.simulator.ids import mix64, stable_int, stable_uuid
from connectors.simulator.model import (
    Activity,
    App,
    AppFail,
    Capacity,
    FabricItem,
    FabricWorkspace,
    Factory,
    FailureWindow,
    Federated,
    Job,
    PbiDataflow,
    PbiDataset,
    PbiWorkspace,
    Pipeline,
    Secret,
    Subscription,
    SynapseWorkspace,
)
from connectors.simulator.scenario import Scenario, TenantSpec
from connectors.simulator.scenario_specs import AppSpec, FailureSpec, JobSpec, PipelineSpec, ScheduleSpec
from connectors.simulator.schedule import WEEKDAYS, Schedule
from connectors.simulator.timefmt import parse_duration, parse_offset
from connectors.simulator.world import PowerBIEstate, Tenant, World

_FABRIC_JOB_TYPES = {
    "DataPipeline": "Pipeline",
    "Notebook": "RunNotebook",
    "SparkJobDefinition": "sparkjob",
    "CopyJob": "CopyJob",
    "Dataflow": "Refresh",
    "SemanticModel": "Refresh",
}


def default_kind(source: str, code: int | None, *, gateway: bool = False, item_type: str = "") -> str:
    """The message form a source uses when the scenario does not name one."""
    auth = code is not None
    if source == "powerbi":
        return ("gateway" if gateway else "oauth") if auth else "processing"
    if source == "dataflow":
        return "status_only"
    if source == "fabric":
        notebook = item_type in {"Notebook", "SparkJobDefinition"}
        return ("notebook" if notebook else "oauth") if auth else "generic"
    if source == "synapse":
        return "web_token" if auth else "sql"
    return "linked_service" if auth else "sql"


def build_world(scenario: Scenario) -> World:
    builder = _Builder(scenario)
    world = World(scenario.seed, builder.start, builder.not_before, [])
    for spec in scenario.tenants:
        world.tenants.append(builder.tenant(spec, world))
    return world


class _Builder:
    def __init__(self, scenario: Scenario) -> None:
        self.seed = scenario.seed
        self.start = scenario.clock.start.astimezone(UTC)
        self.start_ts = self.start.timestamp()
        self.not_before = self.start_ts - parse_duration(scenario.clock.history).total_seconds()
        self.numbers = itertools.count(1)

    # -- small conversions -------------------------------------------------------------------
    def at(self, offset: str | None) -> float | None:
        return None if offset is None else self.start_ts + parse_offset(offset).total_seconds()

    def moment(self, offset: str | None) -> datetime | None:
        return None if offset is None else self.start + parse_offset(offset)

    def uid(self, given: str | None, *parts: object) -> str:
        return (given or stable_uuid(self.seed, *parts)).lower()

    def created(self, key: object) -> datetime:
        h = mix64(stable_int(self.seed, key))
        return self.start - timedelta(
            days=30 + h % 700, seconds=(h >> 16) % 86_400, milliseconds=(h >> 40) % 1000
        )

    def schedule(self, spec: ScheduleSpec) -> Schedule:
        if spec.every is not None:
            every = int(parse_duration(spec.every).total_seconds())
            return Schedule(every=every, offset=int(parse_duration(spec.offset).total_seconds()))
        times = tuple(sorted(int(t[:2]) * 3600 + int(t[3:]) * 60 for t in spec.times or []))
        days = None if spec.days is None else frozenset(WEEKDAYS.index(d) for d in spec.days)
        return Schedule(times=times, days=days)

    def window(self, spec: FailureSpec, kind: str) -> FailureWindow:
        return FailureWindow(
            code=spec.code,
            kind=spec.kind or kind,
            start=self.at(spec.from_),
            end=self.at(spec.until),
            pattern=spec.pattern or "F",
            target=spec.target,
            principal=spec.principal,
        )

    def job(
        self,
        spec: JobSpec,
        key: str,
        source: str,
        *,
        gateway: bool = False,
        item_type: str = "",
        disable_after: int | None = None,
        dedupe: bool = False,
    ) -> Job | None:
        if spec.schedule is None:
            return None
        failures: tuple[FailureWindow, ...] = ()
        if spec.failure is not None:
            kind = default_kind(source, spec.failure.code, gateway=gateway, item_type=item_type)
            failures = (self.window(spec.failure, kind),)
        number = next(self.numbers)
        if number >= 1 << 16:
            raise ValueError("too many explicit items (max 65535); use generate: for scale")
        return Job(
            number=number,
            key=stable_int(self.seed, source, key),
            schedule=self.schedule(spec.schedule),
            duration=parse_duration(spec.duration).total_seconds(),
            not_before=self.not_before,
            failures=failures,
            disable_after=disable_after,
            dedupe=dedupe,
        )

    # -- tenants ---------------------------------------------------------------------------
    def tenant(self, spec: TenantSpec, world: World) -> Tenant:
        capacities = self.capacities(spec)
        generated = None
        if spec.generate is not None and spec.generate.workspaces:
            caps = list(capacities.values()) or [
                Capacity(
                    stable_uuid(self.seed, spec.id, "gen-capacity", i),
                    f"Capacity {i:02d}",
                    "F64",
                    "West Europe",
                )
                for i in range(spec.generate.capacities)
            ]
            generated = GeneratedPowerBI(
                spec.generate,
                self.seed,
                spec.id,
                capacities=caps,
                start=self.start_ts,
                not_before=self.not_before,
            )
        tenant = Tenant(
            id=spec.id,
            domain=spec.domain,
            name=spec.name or spec.domain,
            premium=spec.entra_premium,
            noise=spec.signins,
            apps={a.client_id: self.app(spec, a) for a in spec.apps},
            powerbi=PowerBIEstate(generated),
        )
        self.powerbi(spec, tenant, capacities)
        self.fabric(spec, tenant, capacities)
        self.adf(spec, tenant, world)
        for ws in spec.synapse:
            container = f"synapse:{ws.name}".lower()
            pipelines = tuple(self.pipeline(p, container, "synapse") for p in ws.pipelines)
            principals = tuple((k, v.lower()) for k, v in ws.service_principals.items())
            tenant.synapse[ws.name.lower()] = SynapseWorkspace(ws.name, pipelines, principals)
            world.pipelines_by_number.update((p.job.number, p) for p in pipelines if p.job)
        return tenant

    def app(self, tenant: TenantSpec, spec: AppSpec) -> App:
        secrets = tuple(
            Secret(
                value=s.value,
                key_id=s.key_id or stable_uuid(self.seed, spec.client_id, "secret", i),
                display_name=s.display_name,
                start=self.start + parse_offset(s.start),
                end=self.start + parse_offset(s.end),
            )
            for i, s in enumerate(spec.secrets)
        )
        certificates = tuple(
            (c.pem or Path(c.path or "").read_text(encoding="ascii")).encode() for c in spec.certificates
        )
        fail = None
        if spec.fail is not None:
            fail = AppFail(spec.fail.code, self.moment(spec.fail.from_), self.moment(spec.fail.until))
        return App(
            client_id=spec.client_id,
            name=spec.name,
            object_id=stable_uuid(self.seed, spec.client_id, "service-principal"),
            tenant_id=tenant.id,
            secrets=secrets,
            certificates=certificates,
            federated=tuple(Federated(f.issuer, f.subject, f.name) for f in spec.federated),
            admin_api=spec.admin_api,
            ca_policy_read=spec.ca_policy_read,
            application_read=spec.application_read,
            audit_log_read=spec.audit_log_read,
            disabled=spec.disabled,
            managed_identity=spec.managed_identity,
            fail=fail,
        )

    def capacities(self, tenant: TenantSpec) -> dict[str, Capacity]:
        return {
            c.name: Capacity(self.uid(c.id, tenant.id, "capacity", c.name), c.name, c.sku, c.region)
            for c in tenant.powerbi.capacities
        }

    @staticmethod
    def members(given: list[str] | None) -> frozenset[str] | None:
        return None if given is None else frozenset(m.lower() for m in given)

    def powerbi(self, spec: TenantSpec, tenant: Tenant, capacities: dict[str, Capacity]) -> None:
        for w in spec.powerbi.workspaces:
            ws = PbiWorkspace(
                id=self.uid(w.id, spec.id, "pbi-workspace", w.name),
                name=w.name,
                description=w.description,
                members=self.members(w.members),
                capacity=capacities.get(w.capacity or ""),
            )
            datasets = []
            for d in w.datasets:
                did = self.uid(d.id, ws.id, "dataset", d.name)
                # Push and DirectQuery datasets (isRefreshable false) never refresh.
                job = (
                    self.job(d, did, "powerbi", gateway=d.gateway, disable_after=4) if d.refreshable else None
                )
                by = d.configured_by or f"svc-bi@{spec.domain}"
                datasets.append(
                    PbiDataset(did, d.name, ws, job, d.gateway, d.refreshable, by, self.created(did))
                )
            dataflows = []
            for f in w.dataflows:
                fid = self.uid(f.id, ws.id, "dataflow", f.name)
                by = f.configured_by or f"svc-bi@{spec.domain}"
                dataflows.append(PbiDataflow(fid, f.name, ws, self.job(f, fid, "dataflow"), by))
            tenant.powerbi.add(ws, datasets, dataflows)

    def fabric(self, spec: TenantSpec, tenant: Tenant, capacities: dict[str, Capacity]) -> None:
        for w in spec.fabric:
            ws = FabricWorkspace(
                id=self.uid(w.id, spec.id, "fabric-workspace", w.name),
                name=w.name,
                description=w.description,
                members=self.members(w.members),
                capacity=capacities.get(w.capacity or ""),
            )
            items = []
            for i in w.items:
                iid = self.uid(i.id, ws.id, "fabric-item", i.name)
                job = self.job(i, iid, "fabric", item_type=i.type, dedupe=True)
                job_type = i.job_type or _FABRIC_JOB_TYPES.get(i.type, "DefaultJob")
                item = FabricItem(iid, i.name, i.type, i.description, ws, job, job_type)
                items.append(item)
            tenant.fabric.append(ws)
            tenant.fabric_items[ws.id] = items

    def adf(self, spec: TenantSpec, tenant: Tenant, world: World) -> None:
        for s in spec.subscriptions:
            sub_id = self.uid(s.id, spec.id, "subscription", s.name)
            factories = []
            for group in s.resource_groups:
                for f in group.factories:
                    container = f"adf:{sub_id}/{group.name}/{f.name}".lower()
                    pipelines = tuple(self.pipeline(p, container, "adf") for p in f.pipelines)
                    readers = frozenset(r.lower() for r in f.readers)
                    factories.append(
                        Factory(
                            f.name,
                            sub_id,
                            group.name,
                            f.location,
                            readers,
                            pipelines,
                            spec.id,
                            tuple((k, v.lower()) for k, v in f.service_principals.items()),
                        )
                    )
            tenant.subscriptions.append(Subscription(sub_id, s.name, tuple(factories)))
        if spec.generate is not None:
            generated = generated_subscription(
                spec.generate, self.seed, spec.id, self.start_ts, self.not_before
            )
            if generated is not None:
                tenant.subscriptions.append(generated)
        for sub in tenant.subscriptions:
            for factory in sub.factories:
                world.pipelines_by_number.update((p.job.number, p) for p in factory.pipelines if p.job)

    def pipeline(self, spec: PipelineSpec, container: str, source: str) -> Pipeline:
        job = self.job(spec, f"{container}/{spec.name}", source)
        activities = tuple(Activity(a.name, a.type, a.linked_service) for a in spec.activities)
        trigger = spec.trigger or ("Manual" if spec.schedule is None else f"trg_{spec.name}")
        return Pipeline(spec.name, job, activities, trigger, tuple(spec.parameters.items()), container)
