"""A faithful, self-contained simulator of the Azure APIs that aadsts-enricher polls.

It serves, over HTTPS on loopback, the Entra authority (OIDC discovery, the v2.0 token
endpoint, App Service managed identity), Power BI, Fabric, ARM / Data Factory, Synapse and
Microsoft Graph, for a seeded, deterministic world described by a scenario YAML file
(``scenarios/demo.yaml``, ``scenarios/scale.yaml``). Contracts:
``../shared/reference/azure-apis.md`` and its ``samples/``. It imports nothing from
``enricher`` or from the other connectors (stdlib, cryptography, PyYAML, pydantic only).

Public API::

    from connectors.simulator import Simulator, load_scenario, serve, FaultRule, SimClock

Where the reference is silent, the simulator chooses (the modules say more where it matters):

* Runs exist from ``clock.start - clock.history`` (7 days by default). A run starts 0.4-19 s
  after its schedule slot; authentication failures end 8-60 s after the start; successful runs
  last the nominal duration +-25%. ADF never reports ``Queued``; Fabric shows ``NotStarted``
  for the first 2 s and ``Deduped`` for about 1 run in 23.
* Membership: a workspace without ``members:`` admits every app of its tenant; every app may
  read every subscription and Synapse workspace of its tenant; an app listed in a factory's
  ``readers`` holds only the Reader role there (403 on the run-query POSTs).
* ``refreshable: false`` datasets (push, DirectQuery) have no refreshes at all.
* The token endpoint answers AADSTS90002 with ``invalid_tenant`` (as OIDC discovery does in
  the recorded sample), 50000 with ``temporarily_unavailable``, federated-credential
  mismatches with ``invalid_client`` (so 401), and always puts ``error_uri`` on the public
  ``login.microsoftonline.com`` host. The correlation id is the client's ``client-request-id``.
* Power BI refreshables list every refreshable dataset on a capacity (also one without a
  refresh in the 7-day window) and derive ``averageDuration``/``medianDuration`` from the
  dataset's nominal duration. ``$filter=refreshFailures gt 0`` is honoured.
* The deep Power BI variant keeps a top-level ``errorCode`` (rule 11.1) and puts the AADSTS
  text only in ``error.pbi.error.details[].detail.value``.
* Graph: user-credential failures are ``interactiveUser`` sign-ins (on v1.0, like the
  samples); app-credential failures and this simulator's own token-endpoint refusals are
  ``servicePrincipal`` sign-ins (beta with ``signInEventTypes/any(...)`` only).
* Continuation tokens (Fabric, ADF/Synapse, ARM lists, Graph) carry the simulated instant of
  the first page, so later pages are computed at that instant and never repeat or skip a run.
* ``@odata.context`` URLs name the real service hosts; every followable link (``nextLink``,
  ``continuationUri``, ``@odata.nextLink``) points at the simulator.
* Access tokens expire in real time (``token_lifetime``, default 3599 s); ``revoke_tokens``
  and ``expired_token`` faults make an API answer exactly as for an expired token.
"""

from connectors.simulator.clock import SimClock
from connectors.simulator.faults import FaultRule
from connectors.simulator.scenario import Scenario, ScenarioError, load_scenario
from connectors.simulator.serve import serve, starting_at
from connectors.simulator.simulator import Simulator, SimulatorStartError

__all__ = [
    "FaultRule",
    "Scenario",
    "ScenarioError",
    "SimClock",
    "Simulator",
    "SimulatorStartError",
    "load_scenario",
    "serve",
    "starting_at",
]
