"""One fleet task: bring one repository up to date and scan what is new in it.

Runs in a local worker process or on a Dask worker, so everything it takes and gives is plain,
picklable data; it never touches the store. The scan itself is `akscan history`'s pipeline
(`akscan.pipeline.history.scan_history`) over the commits not reachable from the tips
scanned before.
"""

from __future__ import annotations

import hashlib
import pickle
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from akscan import git
from akscan.config import DEFAULT_MAX_FILE_SIZE
from akscan.detect.engine import Engine
from akscan.errors import AkscanError
from akscan.fleet import repos
from akscan.model import Finding
from akscan.pipeline.history import HistoryOptions, scan_history
from akscan.pipeline.tip import secrets_at

SCANNED, PARTIAL, FAILED, SPLIT = "scanned", "partial", "failed", "split"
MAX_SHARES = 16


@dataclass(frozen=True)
class EngineSpec:
    """The engine, pickled once by the coordinator (rules travel with it, so workers need no
    rule files); each worker process unpickles it once and keeps it."""

    key: str
    data: bytes = field(repr=False)

    @classmethod
    def of(cls, engine: Engine) -> EngineSpec:
        data = pickle.dumps(engine)
        return cls(hashlib.sha256(data).hexdigest(), data)


_ENGINES: dict[str, Engine] = {}


def _engine(spec: EngineSpec) -> Engine:
    if spec.key not in _ENGINES:
        _ENGINES[spec.key] = pickle.loads(spec.data)
    return _ENGINES[spec.key]


@dataclass(frozen=True)
class Job:
    spec: repos.RepoSpec
    engine: EngineSpec
    cache: str | None = None  # None: the worker's own default cache folder
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    network_timeout: float = repos.DEFAULT_NETWORK_TIMEOUT
    previous: tuple[str, ...] = ()  # tips scanned before: their history is not scanned again
    previous_head: str | None = None
    known_paths: tuple[str, ...] = ()  # paths with findings in the store (presence at HEAD)
    split_bytes: int = 0  # a full scan of a larger repository is split in shares (0: never)
    threads: int = 1
    tips: tuple[str, ...] | None = None  # a share's fixed tips, so all shares see one history
    shard: tuple[int, int] = (0, 1)


@dataclass
class Result:
    key: str
    status: str
    reason: str = ""
    tips: tuple[str, ...] = ()
    head: str | None = None
    commits: int = 0
    blobs: int = 0
    bytes: int = 0
    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # path -> fingerprints found at the default branch's head; None when not looked at
    present: dict[str, list[str]] | None = None
    order: dict[str, int] = field(default_factory=dict)  # commit -> position (shares only)
    shares: int = 1
    shard: tuple[int, int] = (0, 1)
    seconds: float = 0.0


def scan_repository(job: Job) -> Result:
    """Fetch and scan one repository (or one share of it); failures become a failed Result."""
    started = time.monotonic()
    try:
        result = _scan(job)
    except AkscanError as exc:
        result = Result(job.spec.key, FAILED, reason=str(exc), shard=job.shard)
    result.seconds = time.monotonic() - started
    return result


def _scan(job: Job) -> Result:
    cache = Path(job.cache) if job.cache else repos.default_cache()
    repo = _open(job, cache)
    tips = job.tips if job.tips is not None else _tips(repo)
    head = _head(repo)
    previous = _existing(repo, job.previous)
    if job.tips is None and not previous and job.split_bytes > 0:
        shares = min(MAX_SHARES, _size(repo) // job.split_bytes + 1)
        if shares > 1:
            return Result(job.spec.key, SPLIT, tips=tips, head=head, shares=shares)
    revisions = [*tips, "--not", *previous] if tips else []
    engine = _engine(job.engine)
    findings, stats = scan_history(repo, revisions, engine, HistoryOptions(
        max_file_size=job.max_file_size, jobs=job.threads, shard=job.shard))
    result = Result(job.spec.key, PARTIAL if stats.errors else SCANNED,
                    reason=_reason(stats.errors), tips=tips, head=head,
                    commits=stats.commits, blobs=stats.blobs, bytes=stats.bytes_scanned,
                    findings=findings, errors=list(stats.errors), shard=job.shard)
    if job.shard[1] > 1:
        wanted = {dict(f.origin).get("commit", "") for f in findings}
        result.order = _commit_order(repo, revisions, wanted)
    if head is not None and (head != job.previous_head or findings):
        # Each share looks at the paths of its own findings; the first also at those stored.
        known = job.known_paths if job.shard[0] == 0 else ()
        paths = {*known, *(f.path for f in findings)}
        result.present = secrets_at(repo, head, paths, engine, job.max_file_size)
    return result


def _open(job: Job, cache: Path) -> git.Repo:
    if job.tips is not None and job.spec.remote:
        # A share: its tips are known, so fetch only when this worker's mirror lacks them.
        try:
            repo = repos.open_spec(job.spec, cache, job.network_timeout, fetch=False)
            if len(_existing(repo, job.tips)) == len(job.tips):
                return repo
        except AkscanError:
            pass
    return repos.open_spec(job.spec, cache, job.network_timeout)


def _reason(errors: Sequence[str]) -> str:
    if not errors:
        return ""
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return errors[0] + more


def _tips(repo: git.Repo) -> tuple[str, ...]:
    """Every ref's object, and HEAD (which may be detached): what `--all` would walk from."""
    out = git.run(repo.cwd, ["rev-parse", "--all"], env=repo.env)
    tips = set(out.decode("ascii").split())
    head = _head(repo)
    if head:
        tips.add(head)
    return tuple(sorted(tips))


def _head(repo: git.Repo) -> str | None:
    """The default branch's head commit (HEAD of a mirror is the remote's default branch)."""
    try:
        out = git.run(repo.cwd, ["rev-parse", "-q", "--verify", "HEAD^{commit}"], env=repo.env)
    except git.GitError:
        return None  # an empty repository: no commit yet
    return out.decode("ascii").strip() or None


def _existing(repo: git.Repo, oids: Sequence[str]) -> tuple[str, ...]:
    """Those of `oids` still in the repository (a force-push and gc may have dropped some)."""
    if not oids:
        return ()
    return tuple(oid for oid, kind, _ in git.object_sizes(repo, oids) if kind != "missing")


def _size(repo: git.Repo) -> int:
    """Bytes the repository's objects take on disk (packed and loose)."""
    out = git.run(repo.cwd, ["count-objects", "-v"], env=repo.env).decode("ascii", "replace")
    fields = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
    return (int(fields.get("size", "0")) + int(fields.get("size-pack", "0"))) * 1024


def _commit_order(repo: git.Repo, revisions: Sequence[str], wanted: set[str]) -> dict[str, int]:
    """The position of each wanted commit in the history scan's own order (oldest first)."""
    if not wanted or not revisions:
        return {}
    out = git.run(repo.cwd, ["rev-list", "--reverse", "--date-order", *revisions, "--"],
                  env=repo.env)
    shas = out.decode("ascii").split()
    return {sha: index for index, sha in enumerate(shas) if sha in wanted}
