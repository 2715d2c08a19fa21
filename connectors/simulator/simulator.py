"""``Simulator``: the Azure APIs of a scenario, served over HTTPS on loopback.

Usage::

    with Simulator(scenario="demo", port=0, speed=60) as sim:
        credential = ClientSecretCredential(tenant, client, secret, authority=sim.base_url,
                                            disable_instance_discovery=True,
                                            connection_verify=str(sim.ca_path))

The certificate authority is generated per simulator and written to ``ca_path`` when the
simulator is created, so clients can be configured before ``start()``. ``stop()`` shuts the
listener and cuts idle keep-alive connections; it returns within a second and may be called
twice. A state directory the simulator created itself is removed on stop, so a stopped
simulator does not start again.
"""

from __future__ import annotations

import dataclasses
import errno
import shutil
import ssl
import tempfile
import threading
import uuid
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from types import TracebackType

from connectors.simulator.api_arm import ArmApi
from connectors.simulator.api_entra import EntraApi
from connectors.simulator.api_fabric import FabricApi
from connectors.simulator.api_graph import GraphApi
from connectors.simulator.api_log_analytics import LogAnalyticsApi
from connectors.simulator.api_powerbi import PowerBIApi
from connectors.simulator.api_synapse import SynapseApi
from connectors.simulator.build import build_world
from connectors.simulator.clock import SimClock
from connectors.simulator.dispatch import Dispatcher
from connectors.simulator.faults import FaultRule, Faults
from connectors.simulator.http import Router, SimHTTPServer
from connectors.simulator.model import Secret
from connectors.simulator.scenario import Scenario, load_scenario
from connectors.simulator.state import State
from connectors.simulator.stats import Stats
from connectors.simulator.tls import CertificateAuthority, write_private
from connectors.simulator.tokens import TokenIssuer


class SimulatorStartError(RuntimeError):
    """The simulator cannot start here: its port is taken (``what`` is ``"port"``), or another
    simulator owns its state directory (``"state_dir"``)."""

    def __init__(self, message: str, what: str) -> None:
        super().__init__(message)
        self.what = what


class Simulator:
    def __init__(
        self,
        scenario: str | Path | Scenario = "demo",
        port: int = 0,
        speed: float | None = None,
        latency_ms: int = 0,
        seed: int | None = None,
        host: str = "127.0.0.1",
        state_dir: str | Path | None = None,
        *,
        page_sizes: Mapping[str, int] | None = None,
    ) -> None:
        loaded = load_scenario(scenario)
        if seed is not None:
            loaded = loaded.model_copy(update={"seed": seed})
        self.scenario = loaded
        self.clock = SimClock(loaded.clock.start, loaded.clock.speed if speed is None else speed)
        self.stats = Stats()
        self.faults = Faults(loaded.seed)
        for spec in loaded.faults:
            self.faults.add(FaultRule.from_spec(spec))
        paging = {**loaded.paging.model_dump(), **(page_sizes or {})}
        if set(paging) != set(loaded.paging.model_dump()) or min(paging.values()) < 1:
            raise ValueError(f"page_sizes takes positive sizes for {sorted(loaded.paging.model_dump())}")
        self._state = State(
            loaded, build_world(loaded), self.clock, TokenIssuer(loaded.token_lifetime), paging
        )
        self._host, self._port, self._latency_ms = host, port, latency_ms
        self._own_dir = state_dir is None
        self.state_dir = (
            Path(tempfile.mkdtemp(prefix="aadsts-sim-")) if state_dir is None else Path(state_dir)
        )
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._ca = CertificateAuthority()
        self.ca_path = self.state_dir / "simulator-ca.pem"
        self.ca_path.write_bytes(self._ca.pem)
        self._server: SimHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._stopped = False
        self._lock = threading.Lock()

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> Simulator:
        with self._lock:
            if self._server is not None:
                return self
            if self._stopped:
                raise RuntimeError("a stopped simulator cannot start again: create a new one")
            cert_pem, key_pem = self._ca.server_pem(["localhost", "127.0.0.1", "::1", self._host])
            cert_path = write_private(self.state_dir / "server-cert.pem", cert_pem)
            key_path = write_private(self.state_dir / "server-key.pem", key_pem)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert_path, key_path)
            router = Router()
            for api in (EntraApi, PowerBIApi, FabricApi, ArmApi, SynapseApi, GraphApi, LogAnalyticsApi):
                api(self._state).register(router)
            dispatcher = Dispatcher(
                self._state,
                router,
                stats=self.stats,
                faults=self.faults,
                latency_ms=self._latency_ms,
                stopping=self._stopping,
            )
            self._stopping.clear()
            server = _listen(self._host, self._port, dispatcher, context)
            self._state.base_url = f"https://localhost:{server.server_address[1]}"
            self._thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="azure-simulator",
                daemon=True,
            )
            self._server = server
            self._thread.start()
            return self

    def stop(self) -> None:
        """Stop serving (within a second) and remove the state directory if it is ours."""
        with self._lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
            self._stopped = True
            if server is not None:
                self._stopping.set()
                server.shutdown()
                server.close_connections()
                server.server_close()
                if thread is not None:
                    thread.join(timeout=1.0)
            if self._own_dir:
                shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    # -- what clients need ------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the simulator is not running: call start() first")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the simulator is not running: call start() first")
        return self._state.base_url

    @property
    def endpoints(self) -> dict[str, str]:
        base = self.base_url
        return {
            "authority": base,
            "powerbi": f"{base}/powerbi/v1.0/myorg",
            "fabric": f"{base}/fabric/v1",
            "arm": f"{base}/arm",
            "graph": f"{base}/graph",
            "synapse": f"{base}/synapse/{{workspace}}",
            "log_analytics": f"{base}/loganalytics",
            "msi": f"{base}/msi/token",
        }

    @property
    def msi_header(self) -> str:
        """The value clients must send as ``X-IDENTITY-HEADER`` (env ``IDENTITY_HEADER``)."""
        return self.scenario.msi_header

    def issue_client_certificate(self, client_id: str) -> Path:
        """Create a key and certificate, register the certificate on the app, return the PEM."""
        found = self._state.world.app(client_id)
        if found is None:
            raise KeyError(f"no app with client id {client_id} in scenario {self.scenario.name!r}")
        _, app = found
        pem, certificate = self._ca.client_pem(f"{app.name} ({app.client_id})")
        self._state.register_certificate(app.client_id, certificate)
        return write_private(
            self.state_dir / f"client-{app.client_id}-{certificate.thumbprint_hex[:8]}.pem", pem
        )

    def add_secret(self, client_id: str, display_name: str, value: str, ends: datetime) -> str:
        """Add a client secret to an app (a rotation, as the portal's "New client secret" does);
        its key id."""
        found = self._state.world.app(client_id)
        if found is None:
            raise KeyError(f"no app with client id {client_id} in scenario {self.scenario.name!r}")
        tenant, app = found
        key_id = str(uuid.uuid4())
        secret = Secret(value, key_id, display_name, self.clock.now(), ends)
        tenant.apps[app.client_id.lower()] = dataclasses.replace(app, secrets=(*app.secrets, secret))
        return key_id

    def add_search_results(self, workspace_id: str, tables: list[dict[str, object]]) -> str:
        """What the Log Analytics query API answers for ``workspace_id``; the results link to it."""
        self._state.search_results[workspace_id.lower()] = {"tables": tables}
        return f"{self.base_url}/loganalytics/v1/workspaces/{workspace_id}/query?query=example"

    def revoke_tokens(self, client_id: str | None = None) -> None:
        """Make every access token issued so far (to one app, or to all) count as expired."""
        self._state.issuer.revoke(client_id)


def _listen(host: str, port: int, dispatcher: Dispatcher, context: ssl.SSLContext) -> SimHTTPServer:
    try:
        return SimHTTPServer((host, port), dispatcher, context)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise SimulatorStartError(f"port {port} on {host} is already in use", "port") from None
        raise SimulatorStartError(f"cannot listen on {host}:{port}: {exc.strerror or exc}", "port") from None
