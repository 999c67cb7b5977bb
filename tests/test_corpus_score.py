"""Score the scanner against the labelled corpus in fixtures/.

fixtures/corpus holds realistic project files with planted (synthetic) credentials, hard negatives,
inline suppressions and encoding edge cases; fixtures/labels.json lists every credential that must
be reported, by path, line and sha256. The scan must find all of them (recall 1.0) and nothing else
(precision 1.0), and name each with the labelled kind.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import string
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from akscan.cli import main

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
CORPUS = FIXTURES / "corpus"
LABELS = FIXTURES / "labels.json"
# The corpus .gitignore ignores this file, so git does not commit it either; the fixture below
# recreates it in the scanned copy when it is missing.
IGNORED_FILE = "ignored/secrets.env"
KINDS = {
    "access-key-id", "access-key-secret", "sts-access-key-id", "sts-access-key-secret",
    "sts-security-token",
}

Key = tuple[str, int, str]  # (path, line, secret_sha256)


def _labels() -> list[dict[str, Any]]:
    data = json.loads(LABELS.read_text(encoding="utf-8"))
    assert data["version"] == 1
    return list(data["credentials"])


def _random_alnum(length: int, prefix: str = "") -> str:
    """A key-shaped value that the scanner's filler filters would not drop."""
    alphabet = string.ascii_letters + string.digits
    filler = re.compile(r"(?i)(.)\1{3}|x{4}|example|sample|placeholder|dummy|redacted|changeme"
                        r"|replace|your|fake")
    while True:
        value = prefix + "".join(secrets.choice(alphabet) for _ in range(length))
        classes = sum(any(test(c) for c in value) for test in (str.isupper, str.islower,
                                                                str.isdigit))
        runs = any(
            all(ord(value[i + j + 1].lower()) - ord(value[i + j].lower()) == step
                for j in range(4))
            for i in range(len(value) - 4) for step in (1, -1)
        )
        if classes == 3 and not runs and not filler.search(value):
            return value


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the corpus (so that nothing from the repository around it is consulted)."""
    root = tmp_path_factory.mktemp("score") / "corpus"
    shutil.copytree(CORPUS, root, symlinks=True)
    ignored = root / IGNORED_FILE
    if not ignored.exists():
        ignored.parent.mkdir(parents=True, exist_ok=True)
        ignored.write_text(
            f"ALIBABA_CLOUD_ACCESS_KEY_ID={_random_alnum(18, 'LTAI5t')}\n"
            f"ALIBABA_CLOUD_ACCESS_KEY_SECRET={_random_alnum(30)}\n",
            encoding="utf-8",
        )
    return root


def _scan(corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
          *extra: str) -> tuple[int, dict[str, Any]]:
    monkeypatch.chdir(tmp_path)  # no .akscan.toml / pyproject.toml from the caller's directory
    out = tmp_path / "findings.json"
    code = main(["scan", "--format", "json", "--output", str(out), *extra, str(corpus)])
    return code, json.loads(out.read_text(encoding="utf-8"))


def test_labels_are_well_formed() -> None:
    labels = _labels()
    assert labels, "labels.json lists no credentials"
    keys = Counter((lab["path"], lab["line"], lab["secret_sha256"]) for lab in labels)
    assert not [k for k, n in keys.items() if n > 1], "duplicate labels"
    for lab in labels:
        assert lab["kind"] in KINDS, lab
        assert re.fullmatch(r"[0-9a-f]{64}", lab["secret_sha256"]), lab
        assert isinstance(lab["line"], int) and lab["line"] >= 1, lab
        assert "\\" not in lab["path"] and not lab["path"].startswith("/"), lab
        # inside an archive (outer.jar!inner/file), the archive is the file
        archive = lab["path"].split("!", 1)[0]
        assert (CORPUS / archive).is_file(), f"{lab['path']}: labelled file is missing"
        assert not re.search(r"LTAI[A-Za-z0-9]{12}|STS\.[A-Za-z0-9]{16}|CAIS[A-Za-z0-9+/]{20}",
                             json.dumps(lab)), "labels must not hold raw keys"


def test_corpus_score(corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, report = _scan(corpus, tmp_path, monkeypatch)
    findings = report["findings"]

    expected: dict[Key, dict[str, Any]] = {
        (lab["path"], lab["line"], lab["secret_sha256"]): lab for lab in _labels()
    }
    found: dict[Key, dict[str, Any]] = {}
    duplicates = []
    for finding in findings:
        key = (finding["path"], finding["line"], finding["secret_sha256"])
        if key in found:
            duplicates.append(finding)
        else:
            found[key] = finding

    hits = expected.keys() & found.keys()
    misses = sorted(expected.keys() - found.keys())
    false_positives = sorted(found.keys() - expected.keys())
    wrong_kind = sorted(k for k in hits if found[k]["kind"] != expected[k]["kind"])
    recall = len(hits) / len(expected)
    precision = len(hits) / len(findings) if findings else 1.0

    lines = [f"recall {recall:.3f} ({len(hits)}/{len(expected)} labels found), "
             f"precision {precision:.3f} ({len(hits)}/{len(findings)} findings labelled)"]
    if misses:
        lines.append(f"missed ({len(misses)}):")
        lines += [f"  {p}:{n}:{expected[(p, n, h)]['kind']}: {expected[(p, n, h)]['note']}"
                  for p, n, h in misses]
    if false_positives or duplicates:
        lines.append(f"false positives ({len(false_positives) + len(duplicates)}):")
        lines += [f"  {p}:{n}:{found[(p, n, h)]['rule_id']} "
                  f"(kind {found[(p, n, h)]['kind']}, {found[(p, n, h)].get('redacted', '')})"
                  for p, n, h in false_positives]
        lines += [f"  {f['path']}:{f['line']}:{f['rule_id']} (duplicate report)"
                  for f in duplicates]
    if wrong_kind:
        lines.append(f"wrong kind ({len(wrong_kind)}):")
        lines += [f"  {p}:{n}: reported {found[(p, n, h)]['kind']} "
                  f"({found[(p, n, h)]['rule_id']}), labelled {expected[(p, n, h)]['kind']}"
                  for p, n, h in wrong_kind]
    summary = "\n".join(lines)
    print(summary)

    assert code == 1, f"exit code {code}, expected 1 (credentials found)\n{summary}"
    assert recall == 1.0 and precision == 1.0 and not wrong_kind, summary


def test_gitignored_file_holds_real_positives(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gitignore case in the score means something only if the ignored file would be found."""
    _, report = _scan(corpus, tmp_path, monkeypatch, "--no-gitignore")
    kinds = {f["kind"] for f in report["findings"] if f["path"] == IGNORED_FILE}
    assert kinds == {"access-key-id", "access-key-secret"}
