"""One root cause, one alert: root-cause keys, parents and children, driven by explicit time."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from connectors.records import RunRecord, RunStatus, Source
from enricher.core.detect import detect
from enricher.core.enrich import enrich
from enricher.core.grouping import RootCause, alone, group, root_cause_of, sibling_of
from enricher.core.incidents import Book, Incident, Policy, flush, on_failure, on_success, tick
from enricher.core.kb_validate import validate_entry
from enricher.core.knowledge import KnowledgeBase, load_knowledge
from enricher.models import Alert
from enricher.notification import Notification

T0 = datetime(2025, 4, 2, 6, 0, tzinfo=UTC)
POLICY = Policy(group_wait=timedelta(seconds=30), group_interval=timedelta(minutes=5))
APP_A = "11111111-2222-4333-8444-555555555555"
APP_B = "66666666-7777-4888-9999-000000000000"


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load_knowledge()


def run_of(
    item: str,
    text: str,
    *,
    source: Source = Source.ADF,
    workspace: str = "adf-sales",
    at: datetime = T0,
    status: RunStatus = RunStatus.FAILED,
    **extra: str,
) -> RunRecord:
    return RunRecord(
        source,
        "contoso",
        workspace,
        workspace,
        item,
        f"pl_{item}",
        "pipeline",
        f"run-{item}-{at:%H%M%S}",
        status,
        ended_at=at,
        error_text=text,
        extra=extra,
    )


def alert_of(kb: KnowledgeBase, run: RunRecord) -> Alert:
    result = enrich(run, detect(run.error_text), kb)
    assert result is not None
    return result


def expired(app: str) -> str:
    return f"AADSTS7000222: The provided client secret keys for app '{app}' are expired."


def poll(kb: KnowledgeBase, book: Book, runs: list[RunRecord], now: datetime) -> list[Incident]:
    """What ``Pipeline._process`` does with one poll's runs: failures, successes, then grouping."""
    failed: dict[str, None] = {}
    for run in runs:
        if run.status is RunStatus.SUCCEEDED:
            on_success(book, run.item_key, run.ended_at or now, now, POLICY)
            continue
        alert = alert_of(kb, run)
        entry = kb.get(alert.code)
        cause = root_cause_of(alert, entry.group_by if entry else ())
        inc = on_failure(book, alert, now, POLICY, root_cause=cause.as_dict() if cause else None)
        failed[inc.fingerprint] = None
    touched = [book.incidents[fp] for fp in failed]
    causes = alone(book, touched)  # what the shell reads from the store's top level
    siblings = [i for i in book.incidents.values() if i.fingerprint not in failed and sibling_of(i, causes)]
    return group(book, touched, now, siblings=siblings)


def never_muted(labels: Mapping[str, str], now: datetime) -> bool:
    return False


def sent(book: Book, now: datetime) -> list[Notification]:
    tick(book, now, POLICY)
    return flush(book, now, POLICY, never_muted)


def parents(book: Book) -> list[Incident]:
    return [i for i in book.incidents.values() if i.children]


class TestRootCause:
    @pytest.mark.parametrize(
        ("run", "expected"),
        [
            (run_of("a", expired(APP_A), app_name="sales-etl"), RootCause("client_id", APP_A, "sales-etl")),
            (run_of("a", expired(APP_A)), RootCause("client_id", APP_A, APP_A)),
            (  # no client id in the text: the ADF linked service the activity used
                run_of("a", "AADSTS7000222: secret expired", linked_service="ls_sql"),
                RootCause("linked_service", "ls_sql", "ls_sql"),
            ),
            (
                run_of("a", "AADSTS90002: Tenant 'x' not found.", tenant_id="t-1"),
                RootCause("tenant", "t-1", "contoso"),
            ),
            (  # Conditional Access: the policy when known, else the tenant
                run_of("a", "AADSTS53003: blocked", ca_policy_id="p-9", ca_policy="Block legacy"),
                RootCause("policy", "p-9", "Block legacy"),
            ),
            (run_of("a", "AADSTS53003: blocked"), RootCause("tenant", "contoso", "contoso")),
            (  # Power BI says only *that* a gateway is used, not which: no key
                run_of("a", "AADSTS700082: refresh token expired", source=Source.POWERBI, gateway="true"),
                None,
            ),
            (run_of("a", "AADSTS50000: error issuing a token"), None),  # the code does not group
        ],
    )
    def test_first_key_with_a_value_wins(self, kb: KnowledgeBase, run: RunRecord, expected: object) -> None:
        """The code's ``group_by`` keys are tried in order; the first one the failure names wins."""
        alert = alert_of(kb, run)
        entry = kb.get(alert.code)
        assert root_cause_of(alert, entry.group_by if entry else ()) == expected

    def test_group_by_is_checked_when_the_knowledge_base_loads(self, kb: KnowledgeBase) -> None:
        """An unknown or repeated key fails the load instead of silently not grouping."""
        base = kb.get("7000222")
        assert base is not None and base.group_by == ("client_id", "linked_service")
        data = base.to_json()
        for bad in (["client"], ["tenant", "tenant"]):
            with pytest.raises(ValidationError):
                validate_entry({**data, "group_by": bad})


class TestParents:
    def test_one_app_many_items_is_one_message_naming_the_app(self, kb: KnowledgeBase) -> None:
        """Three pipelines failing with one app's expired secret: one parent, one message."""
        book = Book()
        runs = [run_of(i, expired(APP_A), app_name="sales-etl") for i in ("a", "b", "c")]
        runs.append(run_of("d", expired(APP_A), workspace="adf-hr", app_name="sales-etl"))
        (parent,) = poll(kb, book, runs, T0)
        children = [i for i in book.incidents.values() if not i.children]
        assert len(children) == 4 and {c.parent for c in children} == {parent.id}
        (note,) = sent(book, T0 + timedelta(minutes=1))
        assert note.incident_id == parent.id and note.kind == "firing"
        assert note.title == f"AADSTS7000222 on app `sales-etl` (id {APP_A}): 4 items"
        assert note.children == 4 and len(note.children_sample) == 4
        assert note.children_by_container == {"adf-sales": 3, "adf-hr": 1}
        assert note.root_cause == {"key": "client_id", "value": APP_A, "label": "sales-etl"}
        assert "children" in note.to_dict() and "parent" not in note.to_dict()

    def test_two_apps_are_two_messages_and_a_lone_item_stands_alone(self, kb: KnowledgeBase) -> None:
        """No notification mixes two causes; a cause with one item is that item's own incident."""
        book = Book()
        runs = [run_of(i, expired(APP_A)) for i in ("a", "b")]
        runs += [run_of(i, expired(APP_B)) for i in ("c", "d")]
        runs.append(run_of("e", expired("99999999-2222-4333-8444-555555555555")))
        assert len(poll(kb, book, runs, T0)) == 2
        notes = sent(book, T0 + timedelta(minutes=1))
        assert sorted(n.children or 1 for n in notes) == [1, 2, 2]
        for note in notes:
            causes = {book.incidents[fp].root_cause["value"] for fp in _fps(book, note)}  # type: ignore[index]
            assert len(causes) == 1
        lone = next(n for n in notes if n.children is None)
        assert lone.item.item_id == "e" and "children" not in lone.to_dict()

    def test_a_parent_is_listed_once_however_large(self, kb: KnowledgeBase) -> None:
        """214 items: the message counts them all and samples 20."""
        book = Book()
        poll(kb, book, [run_of(f"p{i:03d}", expired(APP_A)) for i in range(214)], T0)
        (note,) = sent(book, T0 + timedelta(minutes=1))
        assert note.children == 214 and len(note.children_sample) == 20 and len(note.items) == 20
        assert note.title.endswith(": 214 items")


class TestLateChildren:
    def test_a_late_child_updates_the_parent_at_most_once_per_group_interval(self, kb: KnowledgeBase) -> None:
        book = Book()
        poll(kb, book, [run_of(i, expired(APP_A)) for i in ("a", "b")], T0)
        assert [n.kind for n in sent(book, T0 + timedelta(minutes=1))] == ["firing"]
        t1 = T0 + timedelta(minutes=2)
        poll(kb, book, [run_of("c", expired(APP_A), at=t1)], t1)
        (child,) = [i for i in book.incidents.values() if i.items and i.items[0].item_id == "c"]
        assert child.parent is not None
        (update,) = sent(book, t1 + timedelta(minutes=1))
        assert update.kind == "update" and update.children == 3
        t2 = t1 + timedelta(minutes=2)
        poll(kb, book, [run_of("d", expired(APP_A), at=t2)], t2)
        assert sent(book, t2 + timedelta(minutes=1)) == []  # within group_interval of the last update
        (later,) = sent(book, t1 + timedelta(minutes=7))
        assert later.kind == "update" and later.children == 4
        assert all(n.children for n in [update, later])  # the children never speak for themselves


class TestRecovery:
    def test_partial_recovery_keeps_the_parent_open_and_says_who_recovered(self, kb: KnowledgeBase) -> None:
        book = Book()
        poll(kb, book, [run_of(i, expired(APP_A)) for i in ("a", "b", "c")], T0)
        sent(book, T0 + timedelta(minutes=1))
        t1 = T0 + timedelta(minutes=10)
        poll(kb, book, [run_of("a", "", at=t1, status=RunStatus.SUCCEEDED)], t1)
        (parent,) = parents(book)
        assert parent.state == "open" and len(parent.item_keys) == 2
        assert parent.recovered == (("pl_a", t1.isoformat()),)
        assert sent(book, t1 + timedelta(minutes=1)) == []  # an inhibited child's recovery is not news
        t2 = T0 + timedelta(minutes=20)
        ok = [run_of(i, "", at=t2, status=RunStatus.SUCCEEDED) for i in ("b", "c")]
        poll(kb, book, ok, t2)
        (parent,) = parents(book)
        assert parent.state == "resolved"
        (note,) = sent(book, t2 + timedelta(minutes=1))
        assert note.kind == "resolved" and note.incident_id == parent.id
        assert [r["item"] for r in note.recovered] == ["pl_a", "pl_b", "pl_c"]
        assert note.recovered[0]["at"] == t1.isoformat()

    def test_a_success_older_than_the_childs_failure_frees_nothing(self, kb: KnowledgeBase) -> None:
        book = Book()
        poll(kb, book, [run_of(i, expired(APP_A)) for i in ("a", "b")], T0)
        stale = run_of("a", "", at=T0 - timedelta(hours=1), status=RunStatus.SUCCEEDED)
        poll(kb, book, [stale], T0 + timedelta(minutes=1))
        (parent,) = parents(book)
        assert len(parent.item_keys) == 2 and parent.recovered == ()


class TestRecurrence:
    def test_a_cause_that_comes_back_after_its_parent_resolved_gets_a_new_parent(
        self, kb: KnowledgeBase
    ) -> None:
        """The children of a resolved parent fail again: one new parent, not two lone alerts."""
        book = Book()
        first = poll(kb, book, [run_of(i, expired(APP_A)) for i in ("a", "b")], T0)[0]
        sent(book, T0 + timedelta(minutes=1))
        t1 = T0 + timedelta(minutes=10)
        poll(kb, book, [run_of(i, "", at=t1, status=RunStatus.SUCCEEDED) for i in ("a", "b")], t1)
        assert [n.kind for n in sent(book, t1 + timedelta(minutes=1))] == ["resolved"]
        t2 = T0 + timedelta(hours=2)
        (again,) = poll(kb, book, [run_of(i, expired(APP_A), at=t2) for i in ("a", "b")], t2)
        assert again.id != first.id and again.state == "open" and again.children == 2
        children = [i for i in book.incidents.values() if not i.children]
        assert {c.parent for c in children} == {again.id}
        (note,) = sent(book, t2 + timedelta(minutes=1))
        assert note.kind == "firing" and note.incident_id == again.id and note.children == 2

    def test_a_child_that_fails_again_is_not_counted_twice(self, kb: KnowledgeBase) -> None:
        """A relapse puts the item back on the failing list; the parent still has three children."""
        book = Book()
        poll(kb, book, [run_of(i, expired(APP_A)) for i in ("a", "b", "c")], T0)
        sent(book, T0 + timedelta(minutes=1))
        t1 = T0 + timedelta(minutes=10)
        poll(kb, book, [run_of("a", "", at=t1, status=RunStatus.SUCCEEDED)], t1)
        t2 = T0 + timedelta(minutes=20)
        poll(kb, book, [run_of("a", expired(APP_A), at=t2)], t2)
        (parent,) = parents(book)
        assert parent.children == 3 and len(parent.item_keys) == 3
        assert sent(book, t2 + timedelta(minutes=10)) == []  # a relapse is no new child

    def test_a_parent_counts_each_failure_once(self, kb: KnowledgeBase) -> None:
        """Two items failing in three polls: six failures, however often the parent adopts them."""
        book = Book()
        for n in range(3):
            at = T0 + timedelta(minutes=10 * n)
            poll(kb, book, [run_of(i, expired(APP_A), at=at) for i in ("a", "b")], at)
        (parent,) = parents(book)
        assert parent.count == 6


class TestAcrossPolls:
    def test_items_of_one_cause_failing_in_different_polls_make_one_parent(self, kb: KnowledgeBase) -> None:
        """Refreshes at different hours: the second item finds the first, still open, alone."""
        book = Book()
        assert poll(kb, book, [run_of("a", expired(APP_A), app_name="sales-etl")], T0) == []
        assert [n.kind for n in sent(book, T0 + timedelta(minutes=1))] == ["firing"]  # a alone
        poll(kb, book, [run_of("a", expired(APP_A), app_name="sales-etl", at=T0)], T0 + timedelta(minutes=5))
        t1 = T0 + timedelta(hours=1)
        (parent,) = poll(kb, book, [run_of("b", expired(APP_A), app_name="sales-etl", at=t1)], t1)
        assert parent.children == 2 and parent.count == 3  # a failed twice before, b once
        assert {i.parent for i in book.incidents.values() if not i.children} == {parent.id}
        (note,) = sent(book, t1 + timedelta(minutes=1))
        assert note.title == f"AADSTS7000222 on app `sales-etl` (id {APP_A}): 2 items"

    def test_a_recovered_item_is_no_sibling(self, kb: KnowledgeBase) -> None:
        book = Book()
        poll(kb, book, [run_of("a", expired(APP_A))], T0)
        t1 = T0 + timedelta(minutes=10)
        poll(kb, book, [run_of("a", "", at=t1, status=RunStatus.SUCCEEDED)], t1)
        t2 = T0 + timedelta(hours=1)
        assert poll(kb, book, [run_of("b", expired(APP_A), at=t2)], t2) == []
        assert parents(book) == []

    def test_another_cause_is_no_sibling(self, kb: KnowledgeBase) -> None:
        book = Book()
        poll(kb, book, [run_of("a", expired(APP_A))], T0)
        t1 = T0 + timedelta(hours=1)
        assert poll(kb, book, [run_of("b", expired(APP_B), at=t1)], t1) == []

    def test_a_lone_relapse_after_its_parent_resolved_is_top_level_again(self, kb: KnowledgeBase) -> None:
        """One child of a resolved parent fails again alone: it no longer points at that parent."""
        book = Book()
        poll(kb, book, [run_of(i, expired(APP_A)) for i in ("a", "b")], T0)
        t1 = T0 + timedelta(minutes=10)
        poll(kb, book, [run_of(i, "", at=t1, status=RunStatus.SUCCEEDED) for i in ("a", "b")], t1)
        t2 = T0 + timedelta(hours=2)
        assert poll(kb, book, [run_of("a", expired(APP_A), at=t2)], t2) == []
        (a,) = [i for i in book.incidents.values() if not i.children and i.items[0].item_id == "a"]
        assert a.state == "open" and a.parent is None


class TestTitles:
    @pytest.mark.parametrize(
        ("cause", "title"),
        [
            (RootCause("client_id", APP_A, "sales-etl"), f"AADSTS7000222 on app `sales-etl` (id {APP_A})"),
            (RootCause("client_id", APP_A, APP_A), f"AADSTS7000222 on app `{APP_A}`"),
            (RootCause("gateway", "gw-1", "gw-finance"), "AADSTS7000222 on gateway `gw-finance` (id gw-1)"),
            (RootCause("datasource", "ds-1", "ds-1"), "AADSTS7000222 on data source `ds-1`"),
            (RootCause("linked_service", "ls_sql", "ls_sql"), "AADSTS7000222 on linked service `ls_sql`"),
            (RootCause("tenant", "t-1", "contoso"), "AADSTS7000222 on tenant `contoso` (id t-1)"),
            (
                RootCause("policy", "p-9", "Block legacy"),
                "AADSTS7000222 on Conditional Access policy `Block legacy` (id p-9)",
            ),
        ],
    )
    def test_the_title_names_the_cause(self, kb: KnowledgeBase, cause: RootCause, title: str) -> None:
        """Every key is named with its value (and its id when the name differs), never "the app"."""
        assert f"AADSTS7000222 on {cause.describe()}" == title
        assert "the app" not in title

    def test_a_gateway_parent_is_titled_with_the_gateway(self, kb: KnowledgeBase) -> None:
        """Power BI datasets behind one gateway: the message names the gateway, and says how many."""
        book = Book()
        runs = [
            run_of(
                i,
                "AADSTS700082: The refresh token has expired due to inactivity.",
                source=Source.POWERBI,
                workspace="Finance",
                gateway_id="gw-1",
                gateway_name="gw-finance",
            )
            for i in ("a", "b", "c")
        ]
        poll(kb, book, runs, T0)
        (note,) = sent(book, T0 + timedelta(minutes=1))
        assert note.title == "AADSTS700082 on gateway `gw-finance` (id gw-1): 3 items"
        assert note.root_cause == {"key": "gateway", "value": "gw-1", "label": "gw-finance"}
        assert {c.parent for c in book.incidents.values() if not c.children} == {note.incident_id}


class TestSeverity:
    @pytest.mark.parametrize(
        ("refresh_type", "schedule", "expected"),
        [("Scheduled", "false", "critical"), ("Scheduled", "true", "high"), ("OnDemand", "false", "high")],
    )
    def test_a_disabled_schedule_is_critical(
        self, kb: KnowledgeBase, refresh_type: str, schedule: str, expected: str
    ) -> None:
        """Power BI turned the schedule off after failed scheduled refreshes: nothing refreshes now."""
        run = run_of(
            "ds",
            "AADSTS53003: blocked",
            source=Source.POWERBI,
            refresh_type=refresh_type,
            schedule_enabled=schedule,
        )
        if refresh_type == "OnDemand":
            run = RunRecord(**{**_fields(run), "unattended": False})
        assert alert_of(kb, run).severity == expected


def _fps(book: Book, note: Notification) -> list[str]:
    return [i.fingerprint for i in book.incidents.values() if i.id == note.incident_id] or [
        i.fingerprint
        for i in book.incidents.values()
        if not i.children and i.items and i.items[0].item_id in {x.item_id for x in note.items}
    ]


def _fields(run: RunRecord) -> dict[str, object]:
    return {name: getattr(run, name) for name in run.__slots__}  # type: ignore[attr-defined]
