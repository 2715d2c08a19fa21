"""Fix commands that depend on what failed: "run it once by hand" is a different call for a Power BI
dataset, a dataflow, a Fabric item, a Data Factory pipeline and a Synapse pipeline.

A knowledge-base fix writes such a command as one placeholder, ``command: "{rerun_command}"``;
enrichment fills it with the variant for the run's item family and then fills that variant's own
placeholders. A family without a variant gets no command for that step (the step text stays), so
no alert ever shows a command for another product's API. Pure data and functions.
"""

from __future__ import annotations

from typing import Literal

from connectors.records import RunRecord, Source

Family = Literal["dataset", "dataflow", "fabric", "adf", "synapse"]
FAMILIES: tuple[Family, ...] = ("dataset", "dataflow", "fabric", "adf", "synapse")

_PBI = 'az rest --method {verb} --url "https://api.powerbi.com/v1.0/myorg/{path}" --resource https://analysis.windows.net/powerbi/api'
_FABRIC = 'az rest --method {verb} --url "https://api.fabric.microsoft.com/v1/{path}" --resource https://api.fabric.microsoft.com'

#: command placeholder -> item family -> command template (its placeholders are filled afterwards)
ITEM_COMMANDS: dict[str, dict[Family, str]] = {
    "rerun_command": {
        "dataset": _PBI.format(verb="post", path="groups/{workspace_id}/datasets/{item_id}/refreshes"),
        "dataflow": _PBI.format(verb="post", path="groups/{workspace_id}/dataflows/{item_id}/refreshes")
        + ' --body "{\\"notifyOption\\": \\"NoNotification\\"}"',
        "fabric": _FABRIC.format(
            verb="post", path="workspaces/{workspace_id}/items/{item_id}/jobs/instances?jobType={job_type}"
        ),
        "adf": "az datafactory pipeline create-run --factory-name {factory_name} "
        "--resource-group {resource_group} --name {item_name}",
        "synapse": "az synapse pipeline create-run --workspace-name {workspace_name} --name {item_name}",
    },
    "schedule_command": {
        "dataset": _PBI.format(verb="get", path="groups/{workspace_id}/datasets/{item_id}/refreshSchedule"),
        "fabric": _FABRIC.format(
            verb="get", path="workspaces/{workspace_id}/items/{item_id}/jobs/{job_type}/schedules"
        ),
        "adf": "az datafactory trigger list --factory-name {factory_name} --resource-group {resource_group} "
        '--query "[].{name:name, state:properties.runtimeState}" -o table',
        "synapse": 'az synapse trigger list --workspace-name {workspace_name} --query "[].name" -o table',
    },
    "linked_service_command": {
        "adf": "az datafactory linked-service show --factory-name {factory_name} "
        "--resource-group {resource_group} --name {linked_service}",
        "synapse": "az synapse linked-service show --workspace-name {workspace_name} --name {linked_service}",
    },
    "owner_items_command": {
        "dataset": _PBI.format(verb="get", path="admin/datasets")
        + " --query \"value[?configuredBy=='<upn>'].[id,name,workspaceId]\" -o table",
        "dataflow": _PBI.format(verb="get", path="admin/dataflows")
        + " --query \"value[?configuredBy=='<upn>'].[objectId,name,workspaceId]\" -o table",
    },
}

#: which family a knowledge-base context (``explain --context``) stands for
CONTEXT_FAMILY: dict[str, Family] = {
    "powerbi": "dataset",
    "gateway": "dataset",
    "fabric": "fabric",
    "adf": "adf",
    "synapse": "synapse",
}


def family_of(run: RunRecord) -> Family | None:
    """The item family of a run; None for the daemon's own sign-in (there is nothing to rerun)."""
    return {
        Source.POWERBI: "dataset",
        Source.POWERBI_DATAFLOW: "dataflow",
        Source.FABRIC: "fabric",
        Source.ADF: "adf",
        Source.SYNAPSE: "synapse",
    }.get(run.source)  # type: ignore[return-value]


def item_commands(family: Family | None) -> dict[str, str]:
    """The command placeholders this family has a variant for, as templates."""
    if family is None:
        return {}
    return {name: variants[family] for name, variants in ITEM_COMMANDS.items() if family in variants}


def whole_command(template: str) -> str | None:
    """The placeholder name when a command is exactly one item-command placeholder."""
    text = template.strip()
    if text.startswith("{") and text.endswith("}") and text[1:-1] in ITEM_COMMANDS:
        return text[1:-1]
    return None
