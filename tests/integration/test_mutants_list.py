"""The mutation campaign's lists (tests/mutants/*.toml) stay usable between campaigns: every
mutant parses and still applies to the code, names tests that exist, and docs/TESTED.md (the
README's claims and their tests) is what the lists say. `make mutants` itself runs in CI."""

import re
import subprocess
import sys

import tp0harness as h

MUTANTS = h.REPO / "tools" / "mutants"


def run(*args):
    return subprocess.run([sys.executable, str(MUTANTS), *args], capture_output=True, text=True,
                          timeout=60)


def test_every_mutant_parses_and_applies():
    r = run("--list")
    assert r.returncode == 0, r.stderr
    assert re.search(r"^\d+ mutants$", r.stdout, re.M), r.stdout


def test_every_named_test_exists():
    import tomllib
    missing = []
    for path in sorted((h.REPO / "tests" / "mutants").glob("*.toml")):
        for m in tomllib.loads(path.read_text()).get("mutant", []):
            for t in m["tests"]:
                if t.startswith("unit:"):
                    src = h.REPO / "tests" / "unit" / (t[len("unit:"):] + ".c")
                    ok = src.is_file()
                else:
                    file, _, name = t.partition("::")
                    name = name.split("[")[0]
                    src = h.REPO / file
                    ok = src.is_file() and (not name or re.search(
                        rf"^def {re.escape(name)}\(", src.read_text(), re.M) is not None)
                if not ok:
                    missing.append(f"{m['id']}: {t}")
    assert not missing, "\n".join(missing)


def test_tested_md_is_up_to_date():
    r = run("--markdown")
    assert r.returncode == 0, r.stderr
    doc = h.REPO / "docs" / "TESTED.md"
    assert doc.read_text() == r.stdout, \
        "docs/TESTED.md is stale: tools/mutants --markdown > docs/TESTED.md"
