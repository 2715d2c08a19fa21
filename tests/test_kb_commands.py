"""Every fix command in a rich entry names, in the entry's ``docs``, the reference its syntax was
checked against: the tool's page, and for ``az rest`` also the page of the API it calls.

A command with a tool or an API path this table does not know fails the test: whoever adds it
checks it against the documentation and adds the row.
"""

from __future__ import annotations

import re
from functools import cache

import pytest

from enricher.core.knowledge import KnowledgeBase, load_knowledge

CLI = "https://learn.microsoft.com/cli/azure/"
PS = "https://learn.microsoft.com/powershell/module/"
GRAPH = "https://learn.microsoft.com/graph/api/"

#: (a part of a command, the page that documents its syntax); a part is one command of a chain
TOOLS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^az rest\b"), CLI + "reference-index#az-rest"),
    (re.compile(r"^az login\b"), CLI + "reference-index#az-login"),
    (re.compile(r"^az version\b"), CLI + "reference-index#az-version"),
    (re.compile(r"^az account\b"), CLI + "account"),
    (re.compile(r"^az aks show\b"), CLI + "aks#az-aks-show"),
    (re.compile(r"^az cloud\b"), CLI + "cloud"),
    (re.compile(r"^az ad app credential\b"), CLI + "ad/app/credential"),
    (re.compile(r"^az ad app federated-credential\b"), CLI + "ad/app/federated-credential"),
    (re.compile(r"^az ad app permission\b"), CLI + "ad/app/permission"),
    (re.compile(r"^az ad app show\b"), CLI + "ad/app#az-ad-app-show"),
    (re.compile(r"^az ad app update\b"), CLI + "ad/app#az-ad-app-update"),
    (re.compile(r"^az ad sp\b"), CLI + "ad/sp"),
    (re.compile(r"^az ad user\b"), CLI + "ad/user"),
    (re.compile(r"^az identity federated-credential\b"), CLI + "identity/federated-credential"),
    (re.compile(r"^az keyvault secret\b"), CLI + "keyvault/secret"),
    (re.compile(r"^az keyvault certificate\b"), CLI + "keyvault/certificate"),
    (re.compile(r"^Get-MgUser\b"), PS + "microsoft.graph.users/get-mguser"),
    (re.compile(r"^Update-MgUser\b"), PS + "microsoft.graph.users/update-mguser"),
    (re.compile(r"^New-MgUserAppRoleAssignment\b"), PS + "microsoft.graph.users/new-mguserapproleassignment"),
    (re.compile(r"^Get-MgDevice\b"), PS + "microsoft.graph.identity.directorymanagement/get-mgdevice"),
    (re.compile(r"^New-MgInvitation\b"), PS + "microsoft.graph.identity.signins/new-mginvitation"),
    (
        re.compile(r"^Get-MgIdentityConditionalAccessPolicy\b"),
        PS + "microsoft.graph.identity.signins/get-mgidentityconditionalaccesspolicy",
    ),
    (re.compile(r"^Get-ADComputer\b"), PS + "activedirectory/get-adcomputer"),
    (re.compile(r"^Get-ADUser\b"), PS + "activedirectory/get-aduser"),
    (re.compile(r"^Get-ADDomainController\b"), PS + "activedirectory/get-addomaincontroller"),
    (re.compile(r"^Test-NetConnection\b"), PS + "nettcpip/test-netconnection"),
    (re.compile(r"^Set-ADAccountPassword\b"), PS + "activedirectory/set-adaccountpassword"),
    (re.compile(r"^Get-AdfsGlobalAuthenticationPolicy\b"), PS + "adfs/get-adfsglobalauthenticationpolicy"),
    (re.compile(r"^\(Get-AdfsProperties\)"), PS + "adfs/get-adfsproperties"),
    (
        re.compile(r"^(Import-Module .*AzureADSSO|New-AzureADSSOAuthenticationContext|Get-AzureADSSOStatus)"),
        "https://learn.microsoft.com/entra/identity/hybrid/connect/how-to-connect-sso-faq",
    ),
    (
        re.compile(r"^curl .*/oauth2/v2\.0/token"),
        "https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow",
    ),
    (
        re.compile(r"^curl .*/\.well-known/openid-configuration"),
        "https://learn.microsoft.com/entra/identity-platform/v2-protocols-oidc",
    ),
    (re.compile(r"^openssl x509\b"), "https://docs.openssl.org/master/man1/openssl-x509/"),
    (re.compile(r"^openssl s_client\b"), "https://docs.openssl.org/master/man1/openssl-s_client/"),
    (re.compile(r"^Get-ItemProperty\b"), PS + "microsoft.powershell.management/get-itemproperty"),
    (re.compile(r"^Resolve-DnsName\b"), PS + "dnsclient/resolve-dnsname"),
    (
        re.compile(r"^dsregcmd\b"),
        "https://learn.microsoft.com/entra/identity/devices/troubleshoot-device-dsregcmd",
    ),
]

#: (method and Graph path after the version, the API page) for ``az rest`` against Microsoft Graph
GRAPH_APIS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"get auditLogs/signIns\b"), GRAPH + "signin-list"),
    (re.compile(r"get auditLogs/directoryAudits\b"), GRAPH + "directoryaudit-list"),
    (re.compile(r"get directory/deletedItems/microsoft\.graph\.\w+"), GRAPH + "directory-deleteditems-list"),
    (re.compile(r"post directory/deletedItems/[^/]+/restore"), GRAPH + "directory-deleteditems-restore"),
    (re.compile(r"get identity/conditionalAccess/policies\b"), GRAPH + "conditionalaccessroot-list-policies"),
    (re.compile(r"get identity/identityProviders\b"), GRAPH + "identitycontainer-list-identityproviders"),
    (
        re.compile(r"get identityGovernance/appConsent/appConsentRequests\b"),
        GRAPH + "appconsentapprovalroute-list-appconsentrequests",
    ),
    (re.compile(r"get identityProtection/riskyUsers/[^/?]+$"), GRAPH + "riskyuser-get"),
    (re.compile(r"get identityProtection/riskyUsers\?"), GRAPH + "riskyuser-list"),
    (re.compile(r"get identityProtection/riskDetections\?"), GRAPH + "riskdetection-list"),
    (re.compile(r"get policies/authorizationPolicy\b"), GRAPH + "authorizationpolicy-get"),
    (
        re.compile(r"get policies/crossTenantAccessPolicy/partners\b"),
        GRAPH + "crosstenantaccesspolicy-list-partners",
    ),
    (
        re.compile(r"get policies/crossTenantAccessPolicy/default\b"),
        GRAPH + "crosstenantaccesspolicyconfigurationdefault-get",
    ),
    (
        re.compile(r"get policies/identitySecurityDefaultsEnforcementPolicy\b"),
        GRAPH + "identitysecuritydefaultsenforcementpolicy-get",
    ),
    (
        re.compile(r"get reports/authenticationMethods/userRegistrationDetails/[^/?]+$"),
        GRAPH + "userregistrationdetails-get",
    ),
    (
        re.compile(r"get servicePrincipals/[^/]+/appRoleAssignedTo\b"),
        GRAPH + "serviceprincipal-list-approleassignedto",
    ),
    (
        re.compile(r"get tenantRelationships/findTenantInformationByDomainName\("),
        GRAPH + "tenantrelationship-findtenantinformationbydomainname",
    ),
    (re.compile(r"get subscribedSkus\b"), GRAPH + "subscribedsku-list"),
    (re.compile(r"get users\?"), GRAPH + "user-list"),
    (re.compile(r"get users/[^/?]+(\?|$)"), GRAPH + "user-get"),
    (re.compile(r"get users/[^/]+/authentication/methods$"), GRAPH + "authentication-list-methods"),
    (
        re.compile(r"post users/[^/]+/authentication/temporaryAccessPassMethods$"),
        GRAPH + "authentication-post-temporaryaccesspassmethods",
    ),
    (re.compile(r"get applications\(appId="), GRAPH + "application-get"),
]

GRAPH_CALL = re.compile(r'--method (\w+) --url "https://graph\.microsoft\.com/(?:v1\.0|beta)/([^"]+)"')


@cache
def kb() -> KnowledgeBase:
    return load_knowledge()


def parts(command: str) -> list[str]:
    """The commands of a chain (``a && b``, ``a; b``); a pipe's right side belongs to its left."""
    return [p.strip() for p in re.split(r"&&|;\s", command) if p.strip()]


def required_docs(command: str) -> tuple[set[str], list[str]]:
    """The pages a command needs in ``docs``, and the parts no row knows."""
    needed: set[str] = set()
    unknown: list[str] = []
    if command.startswith("{") and command.endswith("}"):
        return needed, unknown  # an item command from enricher/core/commands.py, tested in test_fix_commands
    for part in parts(command):
        pages = [page for rx, page in TOOLS if rx.search(part)]
        if not pages:
            unknown.append(part[:80])
        needed |= set(pages)
        call = GRAPH_CALL.search(part)
        if part.startswith("az rest") and call:
            target = f"{call.group(1)} {call.group(2)}"
            apis = [page for rx, page in GRAPH_APIS if rx.search(target)]
            if not apis:
                unknown.append(target[:80])
            needed |= set(apis)
    return needed, unknown


def rich_codes() -> list[str]:
    return sorted(e.code for e in kb() if e.rich)


@pytest.mark.parametrize("code", rich_codes())
def test_each_command_names_its_reference(code: str) -> None:
    entry = kb().entries[code]
    docs = {d.split("?")[0] for d in entry.docs}
    missing, unknown = set(), []
    for fix in entry.fixes:
        if fix.command:
            needed, strangers = required_docs(fix.command)
            missing |= needed - docs
            unknown += strangers
    assert (sorted(missing), unknown) == ([], [])


class TestTheTable:
    @pytest.mark.parametrize(
        ("command", "pages"),
        [
            (
                'az rest --method post --url "https://graph.microsoft.com/v1.0/directory/deletedItems/x/restore"',
                {CLI + "reference-index#az-rest", GRAPH + "directory-deleteditems-restore"},
            ),
            (
                "az login --tenant t --allow-no-subscriptions && az ad sp show --id c",
                {CLI + "reference-index#az-login", CLI + "ad/sp"},
            ),
            ("Get-MgUser -UserId u | Format-List A", {PS + "microsoft.graph.users/get-mguser"}),
            ("{rerun_command}", set()),
        ],
    )
    def test_pages_for_a_command(self, command: str, pages: set[str]) -> None:
        assert required_docs(command) == (pages, [])

    def test_an_unknown_tool_or_api_fails(self) -> None:
        """The check can fail: a tool or Graph path nobody checked is reported, not skipped."""
        assert required_docs("Remove-Everything -Force")[1] == ["Remove-Everything -Force"]
        unknown = required_docs('az rest --method get --url "https://graph.microsoft.com/v1.0/groups"')[1]
        assert unknown == ["get groups"]
