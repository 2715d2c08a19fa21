"""Where each API lives, per cloud. Every root can be overridden per tenant (sovereign clouds, the
bundled simulator); the defaults are the public cloud's."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Endpoints:
    authority: str = "https://login.microsoftonline.com"
    powerbi: str = "https://api.powerbi.com/v1.0/myorg"
    fabric: str = "https://api.fabric.microsoft.com/v1"
    arm: str = "https://management.azure.com"
    graph: str = "https://graph.microsoft.com"
    #: Synapse data plane per workspace; ``{workspace}`` is replaced by the workspace name.
    synapse: str = "https://{workspace}.dev.azuresynapse.net"
    #: Log Analytics query API: where an Azure Monitor log search alert's results link points.
    log_analytics: str = "https://api.loganalytics.io"
    # Token audiences (scopes are "<audience>/.default").
    powerbi_audience: str = "https://analysis.windows.net/powerbi/api"
    fabric_audience: str = "https://api.fabric.microsoft.com"
    arm_audience: str = "https://management.azure.com"
    graph_audience: str = "https://graph.microsoft.com"
    synapse_audience: str = "https://dev.azuresynapse.net"
    log_analytics_audience: str = "https://api.loganalytics.io"

    def with_overrides(self, **roots: str | None) -> Endpoints:
        return replace(self, **{k: v.rstrip("/") for k, v in roots.items() if v})

    def scope(self, api: str) -> str:
        return getattr(self, f"{api}_audience") + "/.default"


PUBLIC = Endpoints()
US_GOVERNMENT = Endpoints(
    authority="https://login.microsoftonline.us",
    powerbi="https://api.powerbigov.us/v1.0/myorg",
    arm="https://management.usgovcloudapi.net",
    graph="https://graph.microsoft.us",
    synapse="https://{workspace}.dev.azuresynapse.usgovcloudapi.net",
    log_analytics="https://api.loganalytics.us",
    powerbi_audience="https://analysis.usgovcloudapi.net/powerbi/api",
    arm_audience="https://management.usgovcloudapi.net",
    graph_audience="https://graph.microsoft.us",
    synapse_audience="https://dev.azuresynapse.usgovcloudapi.net",
    log_analytics_audience="https://api.loganalytics.us",
)
CHINA = Endpoints(
    authority="https://login.chinacloudapi.cn",
    powerbi="https://api.powerbi.cn/v1.0/myorg",
    arm="https://management.chinacloudapi.cn",
    graph="https://microsoftgraph.chinacloudapi.cn",
    synapse="https://{workspace}.dev.azuresynapse.azure.cn",
    log_analytics="https://api.loganalytics.azure.cn",
    powerbi_audience="https://analysis.chinacloudapi.cn/powerbi/api",
    arm_audience="https://management.chinacloudapi.cn",
    graph_audience="https://microsoftgraph.chinacloudapi.cn",
    synapse_audience="https://dev.azuresynapse.azure.cn",
    log_analytics_audience="https://api.loganalytics.azure.cn",
)
CLOUDS = {"public": PUBLIC, "usgovernment": US_GOVERNMENT, "china": CHINA}
