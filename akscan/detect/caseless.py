"""Every occurrence of the keywords in any (ASCII) case, found by Hyperscan where it is installed.

The keyword prefilter of a large scan (a git history: hundreds of megabytes) lower-cased every
byte and then ran an overlapping Aho-Corasick search over the copy. Hyperscan (Intel's SIMD
literal matcher, the `hyperscan` package, with wheels for Linux on x86_64) searches the bytes
as they are, case-blind, and reports every occurrence of every keyword, overlapping ones too:
0.05 s of CPU over flask's 166 MB of blobs where lowering and searching took 0.2 s (issue 14).

Building its database costs about 30 ms and importing it 15 ms, so the engine only asks for one
once a scan has searched many megabytes (as it did for its grouped automata); where the package
is missing or cannot run (a processor without SSSE3), `build` gives None and the engine keeps
its own automata. The occurrences are the same either way: ASCII letters compared without case,
every other byte as itself, exactly what searching the lower-cased bytes for the lower-case
keywords finds.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from akscan import rulecache

# Bytes searched per call: each call's matches are held in a list, so a content dense in
# keywords (a megabyte of "secret") costs memory in proportion to this, not to its size.
_CHUNK = 256 * 1024


class Caseless:
    """The keywords (lower case) as one Hyperscan database; `matches` is thread-safe (each
    thread scans with its own scratch space)."""

    caseless = True  # searches bytes as they are: no need to lower-case them first

    def __init__(self, hyperscan: Any, keywords: Sequence[bytes],
                 exact: Mapping[int, Sequence[bytes]] | None = None,
                 database: Any = None) -> None:
        """`exact`: keywords (by index) found only as written one of these ways, not in any
        case; `database`: the database compiled before for the same (see `build`)."""
        self._hs = hyperscan
        self._lengths = [len(k) for k in keywords]
        self._longest = max(self._lengths)
        # Whether some keyword is found only as written: then it is no use on lower-cased bytes.
        self.exact = bool(exact)
        if database is None:
            expressions, ids, flags = _expressions(hyperscan, keywords, exact or {})
            database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
            database.compile(expressions=expressions, ids=ids, elements=len(expressions),
                             flags=flags, literal=True)
        self._database = database
        self._local = threading.local()
        self._scratch()  # the first one now: a database that cannot run fails here

    def _scratch(self) -> Any:
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = self._hs.Scratch(self._database)
        return scratch

    def matches(self, data: bytes | memoryview) -> Iterator[tuple[int, int]]:
        """(keyword index, start) of every occurrence, a chunk at a time; each keyword's in
        increasing order (Hyperscan reports matches in the order of their ends)."""
        view = memoryview(data)
        lengths, longest = self._lengths, self._longest
        scratch = self._scratch()
        ends: list[tuple[int, int]] = []  # (index, end) of one chunk's matches

        def on_match(index: int, _from: int, end: int, _flags: int, _context: Any) -> None:
            ends.append((index, end))

        for base in range(0, len(view), _CHUNK):
            # A chunk is searched with what a match starting in it may need of the next one,
            # and keeps the matches that start in it.
            ends.clear()
            self._database.scan(view[base:base + _CHUNK + longest - 1],
                                match_event_handler=on_match, scratch=scratch)
            for index, end in ends:
                start = end - lengths[index]
                if start < _CHUNK:
                    yield index, base + start


_imported: Any = None


def _expressions(hyperscan: Any, keywords: Sequence[bytes],
                 exact: Mapping[int, Sequence[bytes]]) -> tuple[list[bytes], list[int], list[int]]:
    """The database's literals, their ids (the keywords' indexes) and flags: each keyword in
    any case, or each of its writings as it is."""
    expressions, ids, flags = [], [], []
    for index, keyword in enumerate(keywords):
        for literal in exact.get(index, (keyword,)):
            expressions.append(literal)
            ids.append(index)
            flags.append(0 if index in exact else hyperscan.HS_FLAG_CASELESS)
    return expressions, ids, flags


def build(keywords: Sequence[bytes],
          exact: Mapping[int, Sequence[bytes]] | None = None) -> Caseless | None:
    """A Hyperscan search of the keywords, or None where Hyperscan is not there or cannot run
    (the caller then searches lower-cased bytes with its own automata). `exact`: keywords (by
    index) to find only as written one of these ways (each as long as the keyword).

    Compiling the database takes 30 ms, loading a compiled one 0.1 ms: so the database is
    kept in akscan's cache, with the exact keywords and Hyperscan version it was compiled
    from, and used only for those (Hyperscan checks its own checksum and that this processor
    can run it; any doubt means compiling again)."""
    global _imported
    if not keywords:
        return None
    try:
        if _imported is None:
            import hyperscan

            _imported = hyperscan
        exact = {i: tuple(w) for i, w in (exact or {}).items()}
        if any(len(w) != len(keywords[i]) for i, writings in exact.items() for w in writings):
            raise ValueError("a writing must be as long as its keyword")
        key = _key(_imported, keywords, exact)
        kept = _kept(_imported, key)
        if kept is not None:
            try:
                return Caseless(_imported, keywords, exact, kept)
            except Exception:  # compiled for another processor (a shared home)
                pass
        search = Caseless(_imported, keywords, exact)
        _keep(_imported, key, search)
        return search
    except Exception:  # ImportError, or hyperscan.error: no SSSE3, no memory, ...
        return None


# A cache entry: this, the length of the key (8 bytes), the key, then the database.
_MAGIC = b"akscan-hyperscan-1\n"


def _key(hyperscan: Any, keywords: Sequence[bytes],
         exact: Mapping[int, Sequence[bytes]]) -> bytes:
    """What a kept database must have been compiled from: its literals, ids and flags (each
    literal with its length, so no two lists give one key) and Hyperscan's version."""
    version = getattr(hyperscan, "__version__", "?")
    head = f"{version} {hyperscan.HS_MODE_BLOCK} literal\n".encode()
    expressions, ids, flags = _expressions(hyperscan, keywords, exact)
    return head + b"".join(len(e).to_bytes(4, "big") + i.to_bytes(4, "big")
                           + f.to_bytes(4, "big") + e for e, i, f in zip(expressions, ids, flags))


def _path(key: bytes) -> Path | None:
    folder = rulecache.directory("hyperscan")
    return None if folder is None else folder / f"{len(key)}-{zlib.crc32(key):08x}.db"


def _kept(hyperscan: Any, key: bytes) -> Any:
    """The database kept for exactly this key, or None."""
    path = _path(key)
    data = None if path is None else rulecache.read(path)
    if data is None:
        return None
    start = len(_MAGIC) + 8
    if not data.startswith(_MAGIC) or data[start - 8:start] != len(key).to_bytes(8, "big") \
            or data[start:start + len(key)] != key:
        return None
    try:
        return hyperscan.loadb(data[start + len(key):], hyperscan.HS_MODE_BLOCK)
    except Exception:  # damaged: Hyperscan's checksum says so
        return None


def _keep(hyperscan: Any, key: bytes, search: Caseless) -> None:
    """Keep the database for the next run; any failure only means compiling it then."""
    path = _path(key)
    if path is None:
        return
    try:
        database = hyperscan.dumpb(search._database)
    except Exception:
        return
    rulecache.keep(path, _MAGIC + len(key).to_bytes(8, "big") + key + database)
