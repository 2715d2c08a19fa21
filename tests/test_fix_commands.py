"""Fix commands fit the item they are shown for: every knowledge-base entry with a command, rendered
for every item type, names no other product's API."""

from __future__ import annotations

import re
from functools import cache

import pytest

from connectors.records import RunRecord, RunStatus, Source
from enricher.core.commands import ITEM_COMMANDS
from enricher.core.detect import detect
from enricher.core.enrich import enrich
from enricher.core.knowledge import KnowledgeBase, load_knowledge

#: the API each product's commands name; a command may name its own product's, never another's
PRODUCT_API = {
    "powerbi": re.compile(r"api\.powerbi\.com|analysis\.windows\.net/powerbi"),
    "fabric": re.compile(r"api\.fabric\.microsoft\.com"),
    "adf": re.compile(r"Microsoft\.DataFactory|az datafactory"),
    "synapse": re.compile(r"azuresynapse|az synapse"),
}
FABRIC_KINDS = ("DataPipeline", "Notebook", "SparkJobDefinition", "Dataflow", "CopyJob", "SemanticModel")
#: (source, item type, the product whose API it may name, words its commands must not contain)
ITEMS = [
    (Source.POWERBI, "dataset", "powerbi", ("/dataflows/",)),
    (Source.POWERBI_DATAFLOW, "dataflow", "powerbi", ("/datasets/",)),
    *[(Source.FABRIC, kind, "fabric", ()) for kind in FABRIC_KINDS],
    (Source.ADF, "pipeline", "adf", ()),
    (Source.SYNAPSE, "pipeline", "synapse", ()),
    (Source.SELF, "token", None, ()),
]


@cache
def kb() -> KnowledgeBase:
    return load_knowledge([])


def rich_codes() -> list[str]:
    return sorted(e.code for e in kb().entries.values() if any(f.command for f in e.fixes))


def run(source: Source, item_type: str) -> RunRecord:
    return RunRecord(
        source=source,
        tenant="t",
        container_id="ws-1",
        container_name="adf-1" if source is Source.ADF else "ws",
        item_id="item-1",
        item_name="item one",
        item_type=item_type,
        run_id="r1",
        status=RunStatus.FAILED,
        extra={"job_type": "Pipeline", "resource_group": "rg", "linked_service": "ls"},
    )


def test_there_are_rich_entries_and_item_commands() -> None:
    assert len(rich_codes()) > 100
    used = {
        name
        for entry in kb().entries.values()
        for fix in entry.fixes
        for name in ITEM_COMMANDS
        if fix.command and f"{{{name}}}" in fix.command
    }
    assert used == set(ITEM_COMMANDS)


@pytest.mark.parametrize(("source", "item_type", "product", "banned"), ITEMS, ids=str)
def test_no_command_names_another_products_api(
    source: Source, item_type: str, product: str | None, banned: tuple[str, ...]
) -> None:
    wrong = []
    for code in rich_codes():
        alert = enrich(run(source, item_type), detect(f"AADSTS{code}: failed"), kb())
        assert alert is not None and alert.code == code
        for fix in alert.fixes:
            command = fix.command or ""
            others = [p for p, rx in PRODUCT_API.items() if p != product and rx.search(command)]
            if others or any(word in command for word in banned) or "_command" in command:
                wrong.append((code, command[:120]))
    assert wrong == []


@pytest.mark.parametrize(
    ("source", "item_type", "expected"),
    [
        (Source.POWERBI, "dataset", "myorg/groups/ws-1/datasets/item-1/refreshes"),
        (Source.POWERBI_DATAFLOW, "dataflow", "myorg/groups/ws-1/dataflows/item-1/refreshes"),
        (Source.FABRIC, "DataPipeline", "v1/workspaces/ws-1/items/item-1/jobs/instances?jobType=Pipeline"),
        (
            Source.ADF,
            "pipeline",
            "az datafactory pipeline create-run --factory-name adf-1 --resource-group rg",
        ),
        (Source.SYNAPSE, "pipeline", "az synapse pipeline create-run --workspace-name ws --name item one"),
    ],
)
def test_the_rerun_step_runs_this_item(source: Source, item_type: str, expected: str) -> None:
    """50173's "start one run by hand" step, for a Fabric pipeline too (the issue's example)."""
    alert = enrich(run(source, item_type), detect("AADSTS50173: revoked"), kb())
    assert alert is not None
    rerun = [f.command for f in alert.fixes if f.step.startswith("Start one run")]
    assert len(rerun) == 1 and rerun[0] is not None and expected in rerun[0]


def test_own_sign_in_has_no_rerun_command() -> None:
    alert = enrich(run(Source.SELF, "token"), detect("AADSTS700082: expired"), kb())
    assert alert is not None
    steps = [f for f in alert.fixes if f.step.startswith("Start one run")]
    assert steps and steps[0].command is None


def test_explain_shows_the_variant_of_the_context_or_all_of_them_labelled() -> None:
    from enricher.core.render import Style, entry_text

    entry = kb().get("700082")
    assert entry is not None
    fabric = entry_text(entry, Style(False), context="fabric")
    assert "api.fabric.microsoft.com" in fabric and "api.powerbi.com/v1.0/myorg/groups" not in fabric
    every = entry_text(entry, Style(False))
    assert all(f"$ [{family}] " in every for family in ("dataset", "dataflow", "fabric", "adf", "synapse"))
    assert "{rerun_command}" not in every
