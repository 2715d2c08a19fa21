"""``make audit``: pip-audit of the pinned runtime packages, with an honest count.

    usage: .venv/bin/python scripts/audit.py constraints.txt

pip-audit asks PyPI's JSON API for each pinned release's known vulnerabilities. It reports
"No known vulnerabilities found" even when it could audit nothing (a package index that mirrors
only the simple API answers 404 for every release), so this script reads its JSON report and
says how many packages were really checked. Exit 0 only when every package was audited and none
has a known vulnerability; 1 otherwise, naming them.
"""

from __future__ import annotations

import json
import subprocess
import sys


def main() -> int:
    pins = sys.argv[1] if len(sys.argv) > 1 else "constraints.txt"
    command = [
        sys.executable, "-m", "pip_audit", "--requirement", pins, "--no-deps", "--disable-pip",
        "--vulnerability-service", "pypi", "--format", "json", "--progress-spinner", "off",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    try:
        report = json.loads(done.stdout)
    except ValueError:
        print(f"pip-audit did not run: {(done.stderr.strip().splitlines() or ['no output'])[-1]}")
        return 1
    deps = report.get("dependencies", [])
    skipped = [d for d in deps if d.get("skip_reason")]
    vulnerable = [d for d in deps if d.get("vulns")]
    print(f"{pins}: {len(deps)} pinned packages, {len(deps) - len(skipped)} audited against PyPI")
    for d in vulnerable:
        ids = ", ".join(
            f"{v['id']} (fixed in {', '.join(v.get('fix_versions') or ['-'])})" for v in d["vulns"]
        )
        print(f"  VULNERABLE {d['name']} {d['version']}: {ids}")
    if skipped:
        reasons = sorted({d["skip_reason"].split(":")[0] for d in skipped})
        print(f"  could not be audited: {len(skipped)} ({'; '.join(reasons)})")
        print(f"    {', '.join(sorted(d['name'] for d in skipped))}")
    if not vulnerable and not skipped:
        print("  no known vulnerabilities")
    return 1 if vulnerable or skipped else 0


if __name__ == "__main__":
    sys.exit(main())
