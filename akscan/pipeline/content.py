"""Scan the bytes of one file or blob: text, binary, or an archive member by member; and
streams of contents (git blobs), scanned in threads.

Streams: contents arrive from one git process in the parent, so they are scanned in threads
with an engine that releases the GIL while matching.
"""

from __future__ import annotations

import codecs
import functools
import re
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, NamedTuple

from akscan.detect.decoders import Hits
from akscan.detect.engine import Engine, Prefiltered
from akscan.model import Finding, Fragment
from akscan.pipeline.binary import scan_printable
from akscan.sources import archives
from akscan.sources.decode import BinaryContent, decode_text, needs_decoding_first

if TYPE_CHECKING:
    from concurrent.futures import Future


class ContentResult:
    """What scanning one file's (or blob's) bytes gave."""

    # A plain class: a dataclass costs ten times as much to define at start-up (issue 14).
    __slots__ = ("binary", "errors", "findings", "notes", "scanned_bytes", "too_large")

    def __init__(self, findings: list[Finding], scanned_bytes: int = 0, binary: bool = False,
                 too_large: bool = False, errors: list[str] | None = None,
                 notes: list[str] | None = None) -> None:
        self.findings = findings
        self.scanned_bytes = scanned_bytes
        self.binary = binary
        self.too_large = too_large
        self.errors = [] if errors is None else errors
        self.notes = [] if notes is None else notes


@functools.lru_cache(maxsize=4)
def limits_for(max_file_size: int) -> archives.Limits:
    return archives.Limits(max_member=max_file_size)


def scan_bytes(data: bytes, display: str, engine: Engine,
               origin: tuple[tuple[str, str], ...] = (),
               verdict: Prefiltered | None = None,
               limits: archives.Limits = archives.DEFAULT_LIMITS) -> ContentResult:
    """Scan the bytes of one file; `display` names it in findings and warnings. `verdict` is
    the keyword prefilter's when the caller has already run it on these bytes. An archive is
    scanned member by member, each found at `display!member`."""
    archive_kind = archives.kind(data)
    if archive_kind is not None:
        return _scan_archive(data, archive_kind, display, engine, origin, limits, None)
    return _scan_content(data, display, engine, origin, verdict)


def _scan_content(data: bytes, display: str, engine: Engine,
                  origin: tuple[tuple[str, str], ...],
                  verdict: Prefiltered | None) -> ContentResult:
    if verdict is None and not needs_decoding_first(data):
        # Most files hold no keyword at all; deciding on the raw bytes skips decoding them.
        verdict = engine.prefilter(data.lower(), data)
    if verdict is not None and not verdict:
        return ContentResult([], scanned_bytes=len(data))
    try:
        decoded = decode_text(data)
    except BinaryContent:
        return scan_binary(data, display, engine, origin)
    text = decoded.text
    if verdict is None:
        result = engine.scan(Fragment(display, text, origin))
    else:
        text_hits = None
        if len(text) == len(data):  # every character is one byte: offsets agree
            hits: Hits = verdict.hits
        else:
            hits = dict.fromkeys(verdict.hits)
            if hits and decoded.encoding == "utf-8":  # the keywords' offsets in characters
                skip = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
                text_hits = engine.character_hits(verdict, data, text, skip)
        result = engine.scan(Fragment(display, text, origin), verdict.rules, hits, text_hits)
    if decoded.guessed:
        # UTF-16 or UTF-32 told without a BOM: were it binary after all, its ASCII runs
        # would be lost in the decoding, so they are scanned too.
        raw = scan_printable(data, display, engine, origin)
        known = {(f.rule_id, f.secret) for f in result.findings}
        result.findings.extend(f for f in raw.findings if (f.rule_id, f.secret) not in known)
        result.warnings.extend(raw.warnings)
    return ContentResult(result.findings, scanned_bytes=len(data), errors=result.warnings)


def scan_binary(data: bytes, display: str, engine: Engine,
                origin: tuple[tuple[str, str], ...] = ()) -> ContentResult:
    """The printable runs of binary content, with the high-precision rules (see `binary`)."""
    result = scan_printable(data, display, engine, origin)
    return ContentResult(result.findings, scanned_bytes=len(data), binary=True,
                         errors=result.warnings, notes=[
                             f"{display}: binary; its printable runs were scanned with the "
                             "high-precision rules"])


class _Nesting(NamedTuple):
    depth: int  # of the archive being read: 1 for one that is not inside another
    budget: archives.Budget  # shared by an outer archive and all inside it
    # (where, why) of every part not scanned, gathered for the outer archive's report
    problems: list[tuple[str, str]]


# More problems than this in one outer archive (a 42.zip-style bomb) are summed up in one line.
_PROBLEM_LINES = 5


def _scan_archive(data: bytes, archive_kind: str, display: str, engine: Engine,
                  origin: tuple[tuple[str, str], ...], limits: archives.Limits,
                  outer: _Nesting | None) -> ContentResult:
    """Every member of an archive, scanned as a file at `display!member`; what a limit or a
    corrupt archive leaves unread is an error (the scan is incomplete), never a crash."""
    nesting = _Nesting(outer.depth + 1 if outer else 1,
                       outer.budget if outer else archives.Budget(limits),
                       outer.problems if outer else [])
    result = ContentResult([])
    if nesting.depth > limits.max_depth:
        nesting.problems.append((display, f"archive nested more than {limits.max_depth} "
                                          "deep; not scanned"))
        return result
    read = 0
    try:
        for member in archives.members(data, archive_kind, display, limits, nesting.budget):
            shown = f"{display}!{member.name}"
            if member.renamed_from is not None:
                result.notes.append(f"{display}: member '{member.renamed_from}' is shown as "
                                    f"'{member.name}' (absolute or '..' path)")
            if member.data is None:
                nesting.problems.append((shown, f"{member.problem}; not scanned"))
                continue
            read += 1
            inner_kind = None if member.plain else archives.kind(member.data)
            if inner_kind is not None:
                inner = _scan_archive(member.data, inner_kind, shown, engine, origin, limits,
                                      nesting)
            else:
                inner = _scan_member(member.data, shown, engine, origin)
            _add(result, inner)
    except archives.LimitReached as exc:
        nesting.problems.append((display, f"{exc}; the rest of the archive was not scanned"))
    except archives.ArchiveError as exc:
        if read == 0 and archive_kind in (archives.TAR, archives.ZIP):
            # `ustar` at offset 257 of a text file, or a zip's signature in another file's
            # tail, is no archive: scanned as the file it is (a real corrupt one still gets
            # its printable runs scanned, and the warning).
            _add(result, _scan_content(data, display, engine, origin, None))
            if archive_kind == archives.TAR:
                result.notes.append(f"{display}: looks like a tar archive but is not one "
                                    f"({exc}); scanned as a file")
                return _reported(result, nesting, outer)
        rest = f"scanning stopped after {read} member(s)" if read else "not scanned"
        nesting.problems.append((display, f"corrupt or unreadable archive ({exc}); {rest}"))
    return _reported(result, nesting, outer)


class _Unremarkable:
    """Digests of archive members an engine scanned and had nothing to say about: no finding,
    no warning, no note. Release tarballs of successive versions hold mostly the same files
    (3,240 distinct among the 6,742 members of the SDK history's 91 tarballs), and the engine's
    result does not depend on a file's name but for labelling it (no rule, filter or decoder
    reads the path), so such a member seen again has nothing to say either. Per process, for
    one engine at a time, and bounded: forgotten all at once when full."""

    LIMIT = 32_768  # digests, about 3 MiB

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.digests: set[bytes] = set()

    def of(self, engine: Engine) -> set[bytes]:
        if engine is not self.engine or len(self.digests) >= self.LIMIT:
            self.engine, self.digests = engine, set()
        return self.digests


_UNREMARKABLE = _Unremarkable()


def _scan_member(data: bytes, shown: str, engine: Engine,
                 origin: tuple[tuple[str, str], ...]) -> ContentResult:
    """An archive member that is no archive: scanned unless the same bytes were scanned before
    with nothing to say (the bytes are still counted as scanned)."""
    import hashlib  # (OpenSSL's library: only for a scan that meets an archive, never a hook's)

    digests = _UNREMARKABLE.of(engine)
    digest = hashlib.sha256(data).digest()
    if digest in digests:
        return ContentResult([], scanned_bytes=len(data))
    result = _scan_content(data, shown, engine, origin, None)
    if not (result.findings or result.errors or result.notes):
        digests.add(digest)
    return result


def _add(result: ContentResult, inner: ContentResult) -> None:
    result.findings.extend(inner.findings)
    result.errors.extend(inner.errors)
    result.notes.extend(inner.notes)
    result.scanned_bytes += inner.scanned_bytes


def _reported(result: ContentResult, nesting: _Nesting,
              outer: _Nesting | None) -> ContentResult:
    """The outer archive's result with the problems of it and everything inside it: one line
    each, or one line in all when there are many (the -v notes then name each)."""
    if outer is not None or not nesting.problems:
        return result
    problems = nesting.problems
    if len(problems) <= _PROBLEM_LINES:
        result.errors.extend(f"{where}: {why}" for where, why in problems)
        return result
    top = problems[0][0].split("!", 1)[0]
    kinds = Counter(_kind_of(why) for _, why in problems)
    counted = "; ".join(f"{n} {why}" for why, n in kinds.most_common(3))
    more = "; ..." if len(kinds) > 3 else ""
    result.errors.append(f"{top}: {len(problems)} parts not scanned ({counted}{more}); -v "
                         "names each")
    result.notes.extend(f"{where}: {why}" for where, why in problems)
    return result


def _kind_of(why: str) -> str:
    """A problem without its figures, so that alike problems are counted together."""
    return re.sub(r"\d+", "N", why.split(" (", 1)[0].split(";", 1)[0])


def member_suffix(path: str, container: str) -> str:
    """`!inner/path` of a finding at `container!inner/path`, or '' for one in `container`."""
    return path[len(container):] if path.startswith(container + "!") else ""


def _decode_first(data: bytes) -> bool:
    """Whether a keyword search of the raw bytes would be wrong: UTF-16, binary, archives."""
    return needs_decoding_first(data) or archives.kind(data) is not None


# Contents gathered for one keyword prefilter pass (see Engine.rules_for_each).
_BATCH_BYTES = 1 << 20


def scan_contents(
    batch: Sequence[tuple[str, bytes]], engine: Engine, label: Callable[[str], str],
    limits: archives.Limits = archives.DEFAULT_LIMITS,
) -> list[tuple[str, ContentResult]]:
    """(key, result) of each (key, bytes), in order: the keyword prefilter runs once over the
    batch joined (most contents of a git history hold no keyword at all)."""
    decode_first = [_decode_first(data) for _, data in batch]
    plain = [data for (_, data), first in zip(batch, decode_first) if not first]
    verdicts = iter(engine.prefilter_each(plain) if plain else [])
    out = []
    for (key, data), first in zip(batch, decode_first):
        if first:  # UTF-16, binary or archives: decoded before deciding
            result = scan_bytes(data, label(key), engine, limits=limits)
        else:  # no archive (tested above): straight to the content's scan
            verdict = next(verdicts)
            result = (_scan_content(data, label(key), engine, (), verdict) if verdict
                      else ContentResult([], scanned_bytes=len(data)))
        out.append((key, result))
    return out


def scan_stream(
    contents: Iterable[tuple[str, bytes]], engine: Engine, jobs: int,
    label: Callable[[str], str], handle: Callable[[str, ContentResult], None],
    limits: archives.Limits = archives.DEFAULT_LIMITS,
) -> None:
    """Scan (key, bytes) items as they arrive; `handle` gets every result, not in order.

    Items are gathered into batches of about a megabyte; each batch is prefiltered by keyword
    as a whole (most contents of a git history hold none) and its remaining items scanned, one
    batch per thread, so that the thread reading `contents` only reads.
    """

    def scan_batch(batch: list[tuple[str, bytes]]) -> list[tuple[str, ContentResult]]:
        return scan_contents(batch, engine, label, limits)

    def batches() -> Iterator[list[tuple[str, bytes]]]:
        batch: list[tuple[str, bytes]] = []
        size = 0
        for key, data in contents:
            batch.append((key, data))
            size += len(data)
            if size >= _BATCH_BYTES:
                yield batch
                batch, size = [], 0
        if batch:
            yield batch

    if jobs <= 1:
        for batch in batches():
            for key, result in scan_batch(batch):
                handle(key, result)
        return
    from concurrent.futures import ThreadPoolExecutor  # with its logging: not for -j 1 (a hook)

    pending: deque[Future[list[tuple[str, ContentResult]]]] = deque()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for batch in batches():
            pending.append(pool.submit(scan_batch, batch))
            # Waiting on the oldest batch bounds how much content is held in memory at once.
            while pending and (len(pending) > 2 * jobs or pending[0].done()):
                for key, result in pending.popleft().result():
                    handle(key, result)
        while pending:
            for key, result in pending.popleft().result():
                handle(key, result)
