"""Linked services that sign in as a service principal, in ADF factories and Synapse workspaces.

Both services describe a linked service the same way (``LinkedServiceResource``): ``name`` and
``properties.typeProperties``, where a service principal sign-in names ``servicePrincipalId`` and
``tenant``. The credential expiry watch reads these to look after an app before its first failure.
A ``servicePrincipalId`` that is an expression or a parameter (an object, or anything but a GUID)
names no app we could read, so it is skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from connectors.base import as_dict
from connectors.records import Source

_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)


@dataclass(frozen=True)
class LinkedPrincipal:
    """A linked service that signs in as an app: the app's client id, its tenant, who uses it."""

    client_id: str
    tenant: str
    source: Source
    container_name: str
    container_id: str
    linked_service: str


def principals_in(
    pages: Iterable[Any], source: Source, container_name: str, container_id: str
) -> list[LinkedPrincipal]:
    """The service principal linked services of a listing's pages (``value`` arrays)."""
    found = []
    for page in pages:
        for raw in as_dict(page).get("value") or []:
            props = as_dict(as_dict(as_dict(raw).get("properties")).get("typeProperties"))
            client_id, tenant = props.get("servicePrincipalId"), props.get("tenant")
            if isinstance(client_id, str) and _GUID.match(client_id):
                found.append(
                    LinkedPrincipal(
                        client_id.lower(),
                        tenant if isinstance(tenant, str) else "",
                        source,
                        container_name,
                        container_id,
                        str(as_dict(raw).get("name") or ""),
                    )
                )
    return found
