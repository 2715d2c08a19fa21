"""The knowledge base as data: complete, valid, consistent and written for its readers."""

from __future__ import annotations

import csv
import itertools
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from enricher.core.detect import detect
from enricher.core.kb_schema import CONTEXTS
from enricher.core.kb_validate import validate_entry
from enricher.core.knowledge import CACHE_ENV, KnowledgeBase, _cache_file, builtin_root, load_knowledge
from enricher.core.render import Style, entry_text
from enricher.errors import KnowledgeError

REPO = Path(__file__).resolve().parents[1]
SHARED_TSV = REPO.parent / "shared" / "reference" / "aadsts-codes.tsv"
SHIPPED_TSV = REPO / "knowledge" / "official-codes.tsv"


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load_knowledge()


def official() -> dict[str, tuple[str, str]]:
    with SHIPPED_TSV.open(encoding="utf-8", newline="") as handle:
        return {r["code"]: (r["name"], r["category"]) for r in csv.DictReader(handle, delimiter="\t")}


def shingles(text: str, n: int = 3) -> set[tuple[str, ...]]:
    words = re.findall(r"[a-z0-9]+", text.lower())
    return {tuple(words[i : i + n]) for i in range(max(0, len(words) - n + 1))}


class TestCoverage:
    @pytest.mark.skipif(not SHARED_TSV.exists(), reason="../shared/reference is not beside this checkout")
    def test_shipped_table_is_the_reference(self) -> None:
        """Our shipped copy of the official table is the reference table, unchanged."""
        assert SHIPPED_TSV.read_text(encoding="utf-8") == SHARED_TSV.read_text(encoding="utf-8")

    def test_every_official_code_with_its_identifier(self, kb: KnowledgeBase) -> None:
        """Every code of the official table has an entry with the table's identifier (its category
        follows the grading rules: tests/test_kb_rules.py)."""
        table = official()
        assert len(table) == 345
        wrong = {
            code: kb.entries[code].name if code in kb.entries else "missing"
            for code, (name, _) in table.items()
            if code not in kb.entries or kb.entries[code].name != name
        }
        assert wrong == {}
        assert all(kb.entries[code].source == "official" for code in table)

    def test_observed_entries_say_where(self, kb: KnowledgeBase) -> None:
        """Codes missing from the official table are marked observed and cite where they were seen."""
        table = official()
        extra = [e for e in kb if e.code not in table]
        assert extra, "expected observed-only codes"
        for e in extra:
            assert e.source == "observed", e.code
            assert e.seen_in and all(u.startswith("https://") for u in e.seen_in), e.code

    def test_rich_entries_listed_in_readme(self, kb: KnowledgeBase) -> None:
        """The rich entries are exactly the codes listed, with a reason each, under the README heading
        that counts them."""
        readme = (REPO / "knowledge" / "README.md").read_text(encoding="utf-8")
        listed = re.findall(r"^\| *(\d{5,7}) *\|[^|]+\|[^|]{20,}\|", readme, re.MULTILINE)
        rich = sorted(e.code for e in kb if e.rich)
        counted = re.search(r"^## The (\d+) rich entries", readme, re.MULTILINE)
        assert counted and int(counted.group(1)) == len(listed) >= 40
        assert sorted(listed) == rich


class TestConsistency:
    def test_every_file_is_one_valid_entry_named_after_its_code(self) -> None:
        for path in sorted((builtin_root() / "codes").glob("*.yaml")):
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
            entry = validate_entry(doc)
            assert path.stem == entry.code, path

    def test_titles_are_unique(self, kb: KnowledgeBase) -> None:
        titles = [e.title.lower() for e in kb]
        assert sorted(t for t in set(titles) if titles.count(t) > 1) == []

    def test_related_codes_exist(self, kb: KnowledgeBase) -> None:
        dangling = {e.code: [r for r in e.related if r not in kb.entries] for e in kb}
        assert {k: v for k, v in dangling.items() if v} == {}

    def test_docs_start_with_the_official_lookup(self, kb: KnowledgeBase) -> None:
        assert [e.code for e in kb if e.docs[0] != e.lookup_url] == []

    def test_no_near_copies(self, kb: KnowledgeBase) -> None:
        """No two entries share most of their summary or most of their fix text (word 3-gram Jaccard)."""
        entries = list(kb)
        summaries = {e.code: shingles(e.summary) for e in entries}
        fixes = {e.code: shingles(" ".join(f.step for f in e.fixes)) for e in entries}
        too_close = []
        for a, b in itertools.combinations(entries, 2):
            for name, table in (("summary", summaries), ("fixes", fixes)):
                x, y = table[a.code], table[b.code]
                if x and y and len(x & y) / len(x | y) > 0.5:
                    too_close.append((a.code, b.code, name))
        assert too_close == []

    def test_fits_one_slack_section(self, kb: KnowledgeBase) -> None:
        """Title, summary and numbered fixes of any entry fit Slack's 3,000-character section."""
        for e in kb:
            text = e.title + e.summary + "".join(f"{i}. {f.step}" for i, f in enumerate(e.fixes, 1))
            assert len(text) <= 3000, e.code

    def test_rich_entries_are_complete(self, kb: KnowledgeBase) -> None:
        for e in kb:
            if e.rich:
                assert len(e.causes) >= 5 and len(e.fixes) >= 5
                assert set(CONTEXTS) <= set(e.contexts)

    def test_faqs_on_every_rich_entry(self, kb: KnowledgeBase) -> None:
        """Every rich entry, and only a rich one, has a FAQ; the ten codes admins asked about first too."""
        assert [e.code for e in kb if bool(e.faq) != e.rich] == []
        ten = [
            "53003",
            "51006",
            "40009",
            "50171",
            "7000222",
            "7000215",
            "700027",
            "50053",
            "7000218",
            "50076",
        ]
        assert [c for c in ten if not 2 <= len(kb.entries[c].faq) <= 4] == []

    def test_severity_of_the_four_first_questions_is_argued(self, kb: KnowledgeBase) -> None:
        """53003, 51006, 40009 and 50171: the reason weighs an unattended run and a FAQ asks why this grade."""
        for code in ("53003", "51006", "40009", "50171"):
            e = kb.entries[code]
            assert re.search(r"unattended|scheduled", e.severity_reason, re.IGNORECASE), code
            assert any(e.severity in f.question and "?" in f.question for f in e.faq), code

    def test_every_entry_renders(self, kb: KnowledgeBase) -> None:
        for e in kb:
            text = entry_text(e, Style(False))
            assert f"AADSTS{e.code}" in text and "How to fix" in text
            assert ("Questions admins ask" in text) == bool(e.faq)
            assert all(f"Q: {f.question.split()[0]}" in text for f in e.faq)


class TestSchemaRejects:
    BASE = {
        "code": "53003",
        "title": "Blocked by policy",
        "summary": "A policy blocked this sign-in for reasons the log will show.",
        "category": "conditional_access",
        "severity": "high",
        "severity_reason": "Runs keep failing until the policy changes.",
        "transient": False,
        "needs_user": False,
        "causes": ["A policy matched this sign-in."],
        "fixes": ["Read the sign-in log entry.", "Adjust the policy or the account."],
        "docs": ["https://login.microsoftonline.com/error?code=53003"],
    }

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            ({"fixes": ["Run it for {tenant}.", "Then check {client_id}."]}, "unknown placeholder {tenant}"),
            ({"severity": "urgent"}, "severity"),
            ({"category": "misc"}, "category"),
            ({"code": "1234"}, "5 to 7 digits"),
            ({"titel": "typo"}, "Extra inputs"),
            ({"signatures": ["expired"]}, "too short"),
            ({"source": "observed"}, "seen_in"),
            ({"fixes": ["Only one step here."]}, "at least 2"),
            ({"docs": ["http://example.com"]}, "https"),
            (
                {"faq": [{"question": "Why only one?", "answer": "One answer is a footnote, not a FAQ."}]},
                "two to four",
            ),
            (
                {"faq": [{"question": "No question mark", "answer": "An answer that is long enough."}] * 2},
                "'?'",
            ),
            ({"faq": [{"question": "Same twice?", "answer": "An answer that is long enough."}] * 2}, "twice"),
        ],
    )
    def test_bad_entries_fail(self, change: dict[str, object], message: str) -> None:
        with pytest.raises(ValueError, match=re.escape(message)):
            validate_entry({**self.BASE, **change})

    def test_base_is_valid(self) -> None:
        assert validate_entry(self.BASE).lookup_url.endswith("53003")


class TestSignatures:
    NEGATIVES = [
        "Column 'OrderDate' in Table 'Sales' contains blank values and this is not allowed.",
        "Operation on target Copy_Data failed: ErrorCode=SqlFailedToConnect, Cannot connect to SQL Database.",
        "Job instance failed without detail error",
        "The credentials provided for the SQL source are invalid. (Source at sql01.contoso.com;sales.)",
        "Refresh failed because the dataset was modified during the refresh. Please try again later.",
        "The gateway is offline or unreachable. Check that the gateway service is running.",
        "Spark job failed: java.lang.OutOfMemoryError: GC overhead limit exceeded",
        "HTTP 503 Service Unavailable: The server is temporarily unable to handle the request.",
        "Invalid object name 'dbo.Orders'. Statement(s) could not be prepared.",
        "The remote name could not be resolved: 'storageacct.blob.core.windows.net'",
        "Timeout expired. The timeout period elapsed prior to completion of the operation.",
        "User does not have permission to perform this action on the workspace.",
    ]

    def test_no_signature_fires_on_unrelated_errors(self, kb: KnowledgeBase) -> None:
        for text in self.NEGATIVES:
            assert detect(text, kb.signatures).inferred == (), text

    def test_each_signature_finds_its_own_code(self, kb: KnowledgeBase) -> None:
        """Each phrase, set in a sentence without its code, infers exactly its own code first."""
        for e in kb:
            for phrase in e.signatures:
                text = (
                    "Refresh failed: " + phrase.replace("*", "'1a2b3c4d-0000-0000-0000-000000000000'") + "."
                )
                inferred = detect(text, kb.signatures).inferred
                assert inferred and inferred[0].code == e.code, (e.code, phrase, inferred)


class TestOverrides:
    def test_field_by_field(self, tmp_path: Path) -> None:
        """An override replaces only the fields it names and merges contexts by key."""
        (tmp_path / "ours.yaml").write_text(
            "code: '53003'\n"
            "fixes:\n  - Open a ticket in queue IAM-CA with the correlation ID {correlation_id}.\n"
            "  - Tell the dataset owner the refresh is blocked.\n"
            "contexts:\n  powerbi: Our Power BI tenant admins are in the #pbi-admins channel.\n",
            encoding="utf-8",
        )
        base = load_knowledge().entries["53003"]
        kb = load_knowledge([tmp_path])
        e = kb.entries["53003"]
        assert e.fixes[0].step.startswith("Open a ticket in queue IAM-CA")
        assert e.title == base.title and e.causes == base.causes
        assert e.contexts["powerbi"].startswith("Our Power BI")
        assert e.contexts["adf"] == base.contexts["adf"]
        assert kb.overridden == {"53003"}

    def test_new_code_must_be_complete(self, tmp_path: Path) -> None:
        (tmp_path / "new.yaml").write_text("code: '9999991'\ntitle: In-house code\n", encoding="utf-8")
        with pytest.raises(KnowledgeError, match="knowledge entry 9999991"):
            load_knowledge([tmp_path])

    def test_missing_directory(self, tmp_path: Path) -> None:
        with pytest.raises(KnowledgeError, match="does not exist"):
            load_knowledge([tmp_path / "nope"])

    def test_broken_yaml_names_the_file(self, tmp_path: Path) -> None:
        (tmp_path / "bad.yaml").write_text("code: '53003'\nfixes: [unclosed\n", encoding="utf-8")
        with pytest.raises(KnowledgeError, match=r"bad\.yaml"):
            load_knowledge([tmp_path])


class TestParsedCache:
    """The parsed built-in entries are kept between runs; a changed file or a bad cache is never used."""

    def test_cached_load_is_the_same_knowledge_base(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv(CACHE_ENV, str(tmp_path))
        first = load_knowledge()
        assert len(list(tmp_path.glob("kb-*.json"))) == 1
        again = load_knowledge()
        assert (again.entries, again.meta, again.fix_steps) == (first.entries, first.meta, first.fix_steps)
        assert again.version == first.version and len(again) == len(first)

    def test_stale_or_broken_cache_is_ignored(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(CACHE_ENV, str(tmp_path))
        load_knowledge()
        (cache,) = tmp_path.glob("kb-*.json")
        cache.write_text('{"codes": {}, "meta": {"version": "forged", "changelog": [], "oauth_errors": {}}}')
        assert load_knowledge().version == "forged"  # the cache is what is read while it matches...
        paths = [*sorted((builtin_root() / "codes").glob("*.yaml")), builtin_root() / "meta.yaml"]
        assert _cache_file(paths) == cache
        cache.write_text("{not json")
        assert len(load_knowledge()) > 300  # ...and a broken one is parsed again from YAML

    def test_cache_files_older_than_a_week_are_removed(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv(CACHE_ENV, str(tmp_path))
        old, recent, other = tmp_path / "kb-old.json", tmp_path / "kb-recent.json", tmp_path / "notes.json"
        for path in (old, recent, other):
            path.write_text("{}")
        week = 7 * 24 * 3600
        os.utime(old, (time.time() - week - 60, time.time() - week - 60))
        os.utime(other, (time.time() - week - 60, time.time() - week - 60))
        os.utime(recent, (time.time() - week + 3600, time.time() - week + 3600))
        load_knowledge()
        assert not old.exists() and recent.exists() and other.exists()
        assert len(list(tmp_path.glob("kb-*.json"))) == 2  # the new one and the recent one

    def test_unwritable_cache_directory(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        blocker = tmp_path / "file"
        blocker.write_text("x")
        monkeypatch.setenv(CACHE_ENV, str(blocker / "cache"))
        assert len(load_knowledge()) > 300


def test_cli_start_up_imports_no_daemon_machinery(tmp_path: Path) -> None:
    """``explain`` must not pay for connectors, sinks, azure-identity, the config or (once the checked
    knowledge base is cached) the YAML parser and pydantic."""
    code = (
        "import sys; from enricher.cli import main; main(['explain', '53003']); "
        "heavy = [m for m in ('azure.identity', 'requests', 'enricher.wiring.build', 'enricher.config', 'yaml', "
        "'enricher.sinks.registry', 'enricher.store', 'pydantic') if m in sys.modules]; "
        "print('HEAVY', heavy, file=sys.stderr)"
    )
    env = {**os.environ, CACHE_ENV: str(tmp_path)}
    for _ in range(2):  # the first run fills the cache
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
        )
    assert "HEAVY []" in done.stderr, done.stderr
