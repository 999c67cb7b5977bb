"""The fleet scan's state: one SQLite file, what was scanned where and what was found.

A repository's scanned tips advance only in the transaction that also records its findings, so a
crash mid-run leaves each repository either wholly recorded or as it was. Findings are never
deleted: a force-push or a deleted branch loses nothing already found. One fleet run at a time
holds the store (a lock file beside it); reports only read, which WAL mode allows meanwhile.
The store holds the secrets it found (so that `fleet report --validate` can test them): it lives
in the user's private cache, beside mirrors that hold the same secrets, and is created 0600.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from akscan.errors import AkscanError
from akscan.fleet.task import FAILED, Result
from akscan.model import Finding, PartnerRef

# One script per schema version; a store at version N runs scripts N.. to catch up.
MIGRATIONS = (
    """
    CREATE TABLE repositories (
        key TEXT PRIMARY KEY, name TEXT NOT NULL, status TEXT NOT NULL, reason TEXT NOT NULL,
        commits INTEGER NOT NULL, blobs INTEGER NOT NULL, bytes INTEGER NOT NULL,
        head TEXT, scanned_at TEXT NOT NULL);
    CREATE TABLE tips (key TEXT NOT NULL, sha TEXT NOT NULL, PRIMARY KEY (key, sha));
    CREATE TABLE locations (
        id INTEGER PRIMARY KEY, key TEXT NOT NULL, base_path TEXT NOT NULL, path TEXT NOT NULL,
        secret_sha256 TEXT NOT NULL, rule_id TEXT NOT NULL, line INTEGER NOT NULL,
        col INTEGER NOT NULL, commit_sha TEXT NOT NULL, finding TEXT NOT NULL,
        UNIQUE (key, path, secret_sha256, rule_id, line, col, commit_sha));
    CREATE INDEX locations_by_secret ON locations (secret_sha256);
    CREATE INDEX locations_by_place ON locations (key, base_path, secret_sha256);
    CREATE TABLE present (key TEXT NOT NULL, path TEXT NOT NULL, secret_sha256 TEXT NOT NULL,
        PRIMARY KEY (key, path, secret_sha256));
    """,
)
STORE_NAME = "fleet.sqlite"


@dataclass(frozen=True)
class Previous:
    tips: tuple[str, ...]
    head: str | None
    paths: tuple[str, ...]


@dataclass(frozen=True)
class RepoRow:
    key: str
    name: str
    status: str
    reason: str
    commits: int
    blobs: int
    bytes: int
    head: str | None


@dataclass(frozen=True)
class Location:
    repository: str  # the repository's name
    finding: Finding
    present: bool | None  # at the default branch's head; None when not known


class Store:
    def __init__(self, path: Path, writer: bool) -> None:
        self.path = path
        self._lock: IO[bytes] | None = None
        if writer:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._lock = _lock(path)
        elif not path.exists():
            raise AkscanError(f"{path}: no fleet store here yet (run 'akscan fleet' first)")
        try:
            if writer and not path.exists():
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
            self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            # Consistent after a crash; a power cut may lose the last repositories' records,
            # which only means they are scanned again.
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self._migrate(writer)
        except sqlite3.DatabaseError as exc:
            self.close()
            raise AkscanError(f"{path}: not a usable fleet store: {exc}") from None

    def _migrate(self, writer: bool) -> None:
        version = int(self.db.execute("PRAGMA user_version").fetchone()[0])
        if version > len(MIGRATIONS):
            raise AkscanError(f"{self.path}: written by a newer akscan (schema {version}); "
                              "upgrade akscan or use another --cache")
        if version == len(MIGRATIONS):
            return
        if not writer:
            raise AkscanError(f"{self.path}: schema {version} is older than this akscan's; "
                              "run 'akscan fleet' once to upgrade it")
        with self._transaction():
            for number in range(version, len(MIGRATIONS)):
                self.db.executescript(f"BEGIN; {MIGRATIONS[number]}; "
                                      f"PRAGMA user_version={number + 1}; COMMIT;")

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        try:
            yield
        except BaseException:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        with contextlib.suppress(AttributeError, sqlite3.Error):
            self.db.close()
        if self._lock is not None:
            self._lock.close()  # releases the lock
            self._lock = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def previous(self, key: str) -> Previous:
        tips = tuple(r[0] for r in self.db.execute(
            "SELECT sha FROM tips WHERE key = ? ORDER BY sha", (key,)))
        row = self.db.execute("SELECT head FROM repositories WHERE key = ?", (key,)).fetchone()
        paths = tuple(r[0] for r in self.db.execute(
            "SELECT DISTINCT path FROM locations WHERE key = ? ORDER BY path", (key,)))
        return Previous(tips, row[0] if row else None, paths)

    def record(self, key: str, name: str, result: Result, when: str) -> int:
        """Record one repository's scan in one transaction; how many locations were new."""
        added = 0
        with self._transaction():
            self.db.execute("BEGIN IMMEDIATE")
            for finding in result.findings:
                added += self._add(key, finding)
            if result.present is not None:
                self.db.execute("DELETE FROM present WHERE key = ?", (key,))
                self.db.executemany(
                    "INSERT OR IGNORE INTO present VALUES (?, ?, ?)",
                    [(key, path, sha) for path, shas in result.present.items() for sha in shas])
            old = self.db.execute("SELECT commits, blobs, bytes, head FROM repositories "
                                  "WHERE key = ?", (key,)).fetchone()
            head = result.head if result.status != FAILED or old is None else old[3]
            self.db.execute(
                "INSERT OR REPLACE INTO repositories VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (key, name, result.status, result.reason, result.commits, result.blobs,
                 result.bytes, head, when))
            if result.status == "scanned":
                # Only a complete scan moves the tips: what failed or was partial is retried.
                self.db.execute("DELETE FROM tips WHERE key = ?", (key,))
                self.db.executemany("INSERT INTO tips VALUES (?, ?)",
                                    [(key, sha) for sha in result.tips])
            self.db.execute("COMMIT")
        return added

    def _add(self, key: str, finding: Finding) -> int:
        """Store one location unless this secret was introduced at this path by an earlier
        commit already stored (an incremental scan sees later commits as new)."""
        base = finding.path.partition("!")[0]
        commit = dict(finding.origin).get("commit", "")
        earlier = self.db.execute(
            "SELECT 1 FROM locations WHERE key = ? AND base_path = ? AND secret_sha256 = ? "
            "AND commit_sha != ? LIMIT 1", (key, base, finding.secret_sha256, commit)).fetchone()
        if earlier:
            return 0
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO locations (key, base_path, path, secret_sha256, rule_id, line,"
            " col, commit_sha, finding) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (key, base, finding.path, finding.secret_sha256, finding.rule_id, finding.line,
             finding.column, commit, _dump(finding)))
        return cursor.rowcount

    def repositories(self, keys: Sequence[str] | None = None) -> list[RepoRow]:
        rows = [RepoRow(*r) for r in self.db.execute(
            "SELECT key, name, status, reason, commits, blobs, bytes, head FROM repositories "
            "ORDER BY name")]
        return rows if keys is None else [r for r in rows if r.key in set(keys)]

    def locations(self, keys: Sequence[str] | None = None) -> list[Location]:
        names = {r.key: r.name for r in self.repositories(keys)}
        present = {tuple(r) for r in self.db.execute("SELECT key, path, secret_sha256 FROM "
                                                     "present")}
        heads = {r.key for r in self.repositories(keys) if r.head}
        out = []
        for key, path, sha, data in self.db.execute(
                "SELECT key, path, secret_sha256, finding FROM locations ORDER BY id"):
            if key not in names:
                continue
            known = (key, path, sha) in present if key in heads else None
            out.append(Location(names[key], _load(data), known))
        return out


def _lock(path: Path) -> IO[bytes]:
    """Hold the store's lock file for this process's run, or refuse at once."""
    handle = open(f"{path}.lock", "a+b")  # noqa: SIM115 - held until Store.close()
    try:
        import fcntl
    except ImportError:
        return handle  # not POSIX: SQLite's own locking still keeps the file consistent
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise AkscanError(f"{path}: another 'akscan fleet' run is using this store; wait for it "
                          "to finish, or give this run another --cache") from None
    return handle


def _dump(finding: Finding) -> str:
    data = asdict(finding)
    data.pop("validation", None)  # a verdict is for one run, never stored
    data.pop("at_tip", None)  # so is where the tip stood (the store keeps its own presence)
    return json.dumps(data, sort_keys=True, ensure_ascii=False)


def _load(text: str) -> Finding:
    data: dict[str, Any] = json.loads(text)
    data["paired_with"] = tuple(PartnerRef(**p) for p in data["paired_with"])
    data["origin"] = tuple(tuple(pair) for pair in data["origin"])
    data["decoded"] = tuple(data.get("decoded", ()))
    data.pop("at_tip", None)
    return Finding(**data)
