"""Linked services as ADF (ARM) and Synapse (data plane) list them: ``LinkedServiceResource``."""

from __future__ import annotations

from collections.abc import Mapping

from connectors.simulator.ids import stable_uuid
from connectors.simulator.model import Pipeline


def linked_service(
    parent_id: str, name: str, principals: Mapping[str, str], tenant_id: str
) -> dict[str, object]:
    """One resource; a service principal one names its app and tenant, its key masked as the
    services return it."""
    principal = principals.get(name)
    props: dict[str, object] = (
        {
            "servicePrincipalId": principal,
            "tenant": tenant_id,
            "servicePrincipalKey": {"type": "SecureString", "value": "**********"},
        }
        if principal
        else {"connectionString": f"Integrated Security=False;Data Source={name}.example;"}
    )
    return {
        "id": f"{parent_id}/linkedservices/{name}",
        "name": name,
        "type": "Microsoft.DataFactory/factories/linkedservices",
        "etag": stable_uuid("etag", parent_id, name),
        "properties": {"type": "AzureSqlDatabase", "typeProperties": props},
    }


def used_names(pipelines: tuple[Pipeline, ...], principals: Mapping[str, str]) -> list[str]:
    """Every linked service the pipelines' activities use or the scenario names, sorted."""
    used = {a.linked_service for p in pipelines for a in p.activities if a.linked_service}
    return sorted(used | set(principals))
