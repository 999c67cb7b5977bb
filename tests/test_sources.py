"""The file source, end to end through `akscan scan --format json`: encodings, line endings,
big and binary files, .gitignore and excludes, links, special and unreadable files."""

from __future__ import annotations

import base64
import codecs
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from helpers import CliResult, RunCli, ScanJson, subprocess_env, write
from hypothesis import given, settings
from hypothesis import strategies as st
from keys import random_id, random_secret

from akscan.cli import main
from akscan.sources import decode


def sha(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def id_line(key_id: str) -> str:
    return f"ALIBABA_CLOUD_ACCESS_KEY_ID={key_id}\n"


ID_COLUMN = len("ALIBABA_CLOUD_ACCESS_KEY_ID=") + 1


def only_finding_for(findings: list[dict], key: str) -> dict:
    matching = [f for f in findings if f["secret_sha256"] == sha(key)]
    assert len(matching) == 1, findings
    return matching[0]


# --- encodings ------------------------------------------------------------------------------


def test_utf8_file_with_bom_reports_right_line_and_column(
    tmp_path: Path, scan_json: ScanJson
) -> None:
    key = random_id()
    (tmp_path / "bom.env").write_bytes(codecs.BOM_UTF8 + f"id={key}\n# caf\u00e9\n".encode())
    code, findings, _ = scan_json(tmp_path)
    assert code == 1
    found = only_finding_for(findings, key)
    assert (found["path"], found["line"], found["column"]) == ("bom.env", 1, 4)


@pytest.mark.parametrize(
    ("codec", "bom"),
    [("utf-16-le", codecs.BOM_UTF16_LE), ("utf-16-be", codecs.BOM_UTF16_BE)],
    ids=["utf16-le", "utf16-be"],
)
def test_utf16_file_with_bom_reports_right_line_and_column(
    tmp_path: Path, scan_json: ScanJson, codec: str, bom: bytes
) -> None:
    key = random_id()
    text = f"# settings\r\nname = caf\u00e9 \u4e2d\u6587\r\naccess_key_id = {key}\r\n"
    (tmp_path / "settings.ini").write_bytes(bom + text.encode(codec))
    code, findings, _ = scan_json(tmp_path)
    assert code == 1
    found = only_finding_for(findings, key)
    assert (found["line"], found["column"]) == (3, len("access_key_id = ") + 1)
    assert found["rule_id"] == "alibaba-access-key-id"


def test_utf16_le_file_without_bom_is_decoded_and_scanned(
    tmp_path: Path, scan_json: ScanJson
) -> None:
    key = random_id()
    text = f"line one\nline two\n  <AccessKeyId>{key}</AccessKeyId>\n"
    (tmp_path / "export.xml").write_bytes(text.encode("utf-16-le"))
    code, findings, err = scan_json(tmp_path)
    assert code == 1, err
    found = only_finding_for(findings, key)
    assert (found["line"], found["column"]) == (3, len("  <AccessKeyId>") + 1)
    assert "binary" not in err


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom_with_a_few_cjk_characters_is_scanned(
    tmp_path: Path, scan_json: ScanJson, codec: str
) -> None:
    key = random_id()
    text = f"# \u7b2c\u4e8c\u4e2a\u914d\u7f6e (second config)\n{id_line(key)}"
    (tmp_path / "second.env").write_bytes(text.encode(codec))
    code, findings, _ = scan_json(tmp_path)
    assert code == 1
    assert only_finding_for(findings, key)["line"] == 2


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom_containing_u4e00_is_still_text(
    tmp_path: Path, scan_json: ScanJson, codec: str
) -> None:
    key = random_id()
    text = f"# \u7b2c\u4e00\u4e2a\u914d\u7f6e (first config)\n{id_line(key)}"
    (tmp_path / "first.env").write_bytes(text.encode(codec))
    code, findings, err = scan_json(tmp_path)
    assert "binary" not in err
    assert code == 1
    assert only_finding_for(findings, key)["line"] == 2


def test_invalid_utf8_bytes_on_earlier_lines_keep_line_numbers_right(
    tmp_path: Path, scan_json: ScanJson
) -> None:
    key = random_id()
    data = (b"caf\xe9 latin-1 text\n"
            b"\xc3\x28 broken sequence \xe2\x82\n"
            b"\x80\x81\x82\xfe\xff\n"
            + id_line(key).encode())
    (tmp_path / "mixed.txt").write_bytes(data)
    code, findings, _ = scan_json(tmp_path)
    assert code == 1
    found = only_finding_for(findings, key)
    assert (found["line"], found["column"]) == (4, ID_COLUMN)


def test_crlf_line_endings_give_right_column_and_no_carriage_returns_in_json(
    tmp_path: Path, run_cli: RunCli
) -> None:
    key, secret = random_id(), random_secret()
    text = f"[default]\r\naccess_key_id = {key}\r\naccess_key_secret = {secret}\r\n"
    (tmp_path / "credentials").write_bytes(text.encode())
    code, out, _ = run_cli(["scan", "--format", "json", str(tmp_path)])
    assert code == 1
    assert "\r" not in out and "\\r" not in out
    findings = json.loads(out)["findings"]
    found_id = only_finding_for(findings, key)
    found_secret = only_finding_for(findings, secret)
    assert (found_id["line"], found_id["column"]) == (2, len("access_key_id = ") + 1)
    assert (found_secret["line"], found_secret["column"]) == (3, len("access_key_secret = ") + 1)
    assert found_secret["end_column"] == found_secret["column"] + len(secret)
    assert found_id["path"] == "credentials"


# --- size -----------------------------------------------------------------------------------

FIVE_MB = 5 * 1024 * 1024


def test_five_megabyte_single_line_file_with_key_near_the_end_is_found(
    tmp_path: Path, scan_json: ScanJson
) -> None:
    key = random_id()
    filler = b"v = 1; " * (FIVE_MB // 7)
    (tmp_path / "bundle.min.js").write_bytes(filler + f'var k = "{key}"; '.encode() + b"v = 2;")
    code, findings, _ = scan_json(tmp_path)
    assert code == 1
    found = only_finding_for(findings, key)
    assert (found["line"], found["column"]) == (1, len(filler) + len('var k = "') + 1)


def test_five_megabyte_single_line_base64_blob_without_a_key_gives_nothing(
    tmp_path: Path, scan_json: ScanJson
) -> None:
    blob = bytearray(base64.b64encode(os.urandom(FIVE_MB * 3 // 4)))
    # An ID-shaped run inside the blob makes every rule run, yet it is base64, not a key.
    middle = len(blob) // 2
    blob[middle:middle + 24] = random_id().encode()
    (tmp_path / "image.b64").write_bytes(b"data:image/png;base64," + bytes(blob) + b"\n")
    code, findings, err = scan_json(tmp_path)
    assert findings == []
    assert code == 0, err


def test_file_over_max_file_size_is_reported_as_not_scanned(
    tmp_path: Path, scan_json: ScanJson
) -> None:
    key = random_id()
    write(tmp_path / "big.env", id_line(key) + "# padding\n" * 400)
    code, findings, err = scan_json("--max-file-size", "1k", tmp_path)
    assert findings == []
    assert code == 2
    assert "big.env" in err and "not scanned" in err


# --- binary and special files ---------------------------------------------------------------


def test_key_in_a_binary_file_is_found_in_its_printable_runs_and_counted(
    tmp_path: Path, scan_json: ScanJson
) -> None:
    key = random_id()
    (tmp_path / "app.bin").write_bytes(
        b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + id_line(key).encode() + bytes(range(256))
    )
    code, findings, err = scan_json(tmp_path)
    assert code == 1, err
    found = only_finding_for(findings, key)
    assert (found["line"], found["column"]) == (1, 16 + ID_COLUMN)
    assert "1 binary (printable runs scanned)" in err


def test_fifo_in_a_directory_is_skipped_without_hanging(tmp_path: Path) -> None:
    key = random_id()
    os.mkfifo(tmp_path / "pipe")
    write(tmp_path / "app.env", id_line(key))
    try:
        result = subprocess.run(
            [sys.executable, "-m", "akscan", "scan", "--format", "json", str(tmp_path)],
            capture_output=True, text=True, timeout=30, env=subprocess_env(), cwd=tmp_path,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("akscan blocked reading a FIFO")
    assert result.returncode == 1, result.stderr
    findings = json.loads(result.stdout)["findings"]
    assert [f["path"] for f in findings] == ["app.env"]
    assert "1 FIFOs, sockets or devices not opened" in result.stderr


def test_file_with_non_utf8_name_is_scanned_and_its_name_escaped(
    tmp_path: Path, run_cli: RunCli
) -> None:
    key = random_id()
    name = os.fsencode(tmp_path) + b"/caf\xe9.env"
    fd = os.open(name, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.write(fd, id_line(key).encode())
    finally:
        os.close(fd)
    code, out, err = run_cli(["scan", "--format", "json", str(tmp_path)])
    assert code == 1, err
    assert "Traceback" not in err
    (found,) = json.loads(out)["findings"]
    assert found["path"] == "caf\\xe9.env"
    code, out, _ = run_cli(["scan", str(tmp_path)])
    assert code == 1
    assert f"\n  caf\\xe9.env:1:{ID_COLUMN}: " in out


def test_nonexistent_path_exits_2_with_a_one_line_error(tmp_path: Path, run_cli: RunCli) -> None:
    missing = tmp_path / "no-such-dir"
    code, out, err = run_cli(["scan", str(missing)])
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and str(missing) in err
    assert "Traceback" not in err


# --- .gitignore and excludes ----------------------------------------------------------------


@pytest.fixture
def ignored_tree(tmp_path: Path) -> Path:
    """A tree where .gitignore files decide what is scanned; every file holds its own key."""
    write(tmp_path / ".gitignore", "*.env\n!keep.env\nbuild/\n")
    write(tmp_path / "sub" / ".gitignore", "local.cfg\n")
    write(tmp_path / "sub2" / ".gitignore", "!keep2.env\n")
    for rel in ["a.env", "keep.env", "local.cfg", "app.py", "build/out.py", "sub/local.cfg",
                "sub/b.env", "sub/keep.env", "sub/other.cfg", "sub2/keep2.env", "sub2/c.env"]:
        write(tmp_path / rel, id_line(random_id()))
    return tmp_path


def test_gitignore_is_honoured_with_nested_files_and_negation(
    ignored_tree: Path, scan_json: ScanJson
) -> None:
    code, findings, err = scan_json(ignored_tree)
    assert code == 1
    assert {f["path"] for f in findings} == {
        "keep.env", "local.cfg", "app.py", "sub/keep.env", "sub/other.cfg", "sub2/keep2.env",
    }
    assert "5 ignored" in err


def test_no_gitignore_scans_ignored_files_too(ignored_tree: Path, scan_json: ScanJson) -> None:
    code, findings, _ = scan_json("--no-gitignore", ignored_tree)
    assert code == 1
    assert len(findings) == 11
    assert {"a.env", "build/out.py", "sub/local.cfg"} <= {f["path"] for f in findings}


def test_exclude_glob_skips_matching_files(tmp_path: Path, scan_json: ScanJson) -> None:
    for rel in ["src/app.py", "src/vendor/lib.py", "logs/run.log", "notes.log"]:
        write(tmp_path / rel, id_line(random_id()))
    code, findings, _ = scan_json("--exclude", "*.log", "--exclude", "vendor/", tmp_path)
    assert code == 1
    assert [f["path"] for f in findings] == ["src/app.py"]


# --- symbolic links -------------------------------------------------------------------------


def test_symlink_to_a_file_outside_the_root_is_not_followed(
    tmp_path: Path, scan_json: ScanJson
) -> None:
    outside_key, inside_key = random_id(), random_id()
    write(tmp_path / "outside" / "secret.env", id_line(outside_key))
    root = tmp_path / "repo"
    write(root / "app.env", id_line(inside_key))
    (root / "linked.env").symlink_to(tmp_path / "outside" / "secret.env")
    (root / "linked-dir").symlink_to(tmp_path / "outside")
    code, findings, err = scan_json(root)
    assert code == 1
    assert [f["secret_sha256"] for f in findings] == [sha(inside_key)]
    assert "2 symlinks out of the root not followed" in err


def test_symlink_loop_to_a_parent_directory_terminates(
    tmp_path: Path, scan_json: ScanJson
) -> None:
    key = random_id()
    write(tmp_path / "a" / "b" / "app.env", id_line(key))
    (tmp_path / "a" / "b" / "up").symlink_to("..")
    (tmp_path / "a" / "b" / "self").symlink_to(".")
    (tmp_path / "a" / "root").symlink_to(tmp_path)
    code, findings, _ = scan_json(tmp_path)
    assert code == 1
    assert [f["secret_sha256"] for f in findings] == [sha(key)]


def test_symlink_inside_the_root_does_not_report_the_same_key_twice(
    tmp_path: Path, scan_json: ScanJson
) -> None:
    key = random_id()
    write(tmp_path / "config" / "prod.env", id_line(key))
    (tmp_path / "a-link.env").symlink_to(tmp_path / "config" / "prod.env")
    (tmp_path / "z-link.env").symlink_to("config/prod.env")
    (tmp_path / "config-link").symlink_to("config")
    code, findings, _ = scan_json(tmp_path)
    assert code == 1
    assert len(findings) == 1
    assert findings[0]["secret_sha256"] == sha(key)


# --- unreadable files -----------------------------------------------------------------------


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory that an unprivileged user can reach (pytest's own tmp dirs are 0700)."""
    path = Path(tempfile.mkdtemp(prefix="akscan-test-", dir="/tmp" if os.path.isdir("/tmp")
                                 else None))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def run_unprivileged(args: Sequence[str], cwd: Path, run_cli: RunCli) -> CliResult:
    """Run the CLI where file permissions apply: as uid 65534 in a fork if we are root."""
    if os.geteuid() != 0:
        return run_cli(args)
    # Import everything the scan needs first: the child may not read the installation.
    run_cli(["scan", "--format", "json", str(cwd)])
    run_cli(["scan", str(cwd)])
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            code = 99
            try:
                os.dup2(out.fileno(), 1)
                os.dup2(err.fileno(), 2)
                sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
                sys.stderr = open(2, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
                os.chdir(cwd)
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)
                code = main(list(args))
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 2
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        out.seek(0)
        err.seek(0)
        return (os.waitstatus_to_exitcode(status), out.read().decode(), err.read().decode())


def test_unreadable_file_is_warned_about_and_the_scan_goes_on(
    shared_dir: Path, run_cli: RunCli
) -> None:
    key = random_id()
    write(shared_dir / "readable.env", id_line(key)).chmod(0o644)
    locked = write(shared_dir / "locked.env", id_line(random_id()))
    locked.chmod(0o000)
    code, out, err = run_unprivileged(["scan", "--format", "json", str(shared_dir)], shared_dir,
                                      run_cli)
    assert code == 1, err
    assert [f["secret_sha256"] for f in json.loads(out)["findings"]] == [sha(key)]
    warnings = [line for line in err.splitlines() if "locked.env" in line]
    assert len(warnings) == 1 and "warning" in warnings[0]
    assert "Traceback" not in err


def test_only_an_unreadable_file_exits_2(shared_dir: Path, run_cli: RunCli) -> None:
    locked = write(shared_dir / "locked.env", id_line(random_id()))
    locked.chmod(0o000)
    code, out, err = run_unprivileged(["scan", "--format", "json", str(shared_dir)], shared_dir,
                                      run_cli)
    assert code == 2, err
    assert json.loads(out)["findings"] == []
    assert "locked.env" in err and "Traceback" not in err


# --- paths as reports show them -------------------------------------------------------------


def test_files_and_directories_together_are_shown_relative_to_where_they_were_named(
    tmp_path: Path, scan_json: ScanJson, empty_cwd: Path
) -> None:
    write(empty_cwd / "repo" / "src" / "a.env", id_line(random_id()))
    write(empty_cwd / "single.env", id_line(random_id()))
    code, findings, _ = scan_json("repo", "./single.env")
    assert code == 1
    assert [f["path"] for f in findings] == ["repo/src/a.env", "single.env"]


def test_symlinked_scan_root_is_walked(tmp_path: Path, scan_json: ScanJson) -> None:
    key = random_id()
    write(tmp_path / "real" / "app" / "a.env", id_line(key))
    (tmp_path / "link").symlink_to(tmp_path / "real")
    code, findings, _ = scan_json(tmp_path / "link")
    assert code == 1
    assert [(f["path"], f["secret_sha256"]) for f in findings] == [("app/a.env", sha(key))]


def test_version_control_directories_are_not_walked(tmp_path: Path, scan_json: ScanJson) -> None:
    for vcs in (".git", ".hg", ".svn"):
        write(tmp_path / vcs / "config", id_line(random_id()))
    code, findings, _ = scan_json("--no-gitignore", tmp_path)
    assert (code, findings) == (0, [])


def test_control_characters_in_file_names_are_escaped_in_the_text_report(
    tmp_path: Path, run_cli: RunCli
) -> None:
    write(tmp_path / "evil\x1b[2J\nname.env", id_line(random_id()))
    code, out, _ = run_cli(["scan", "--color", "never", str(tmp_path)])
    assert code == 1
    assert "\x1b" not in out
    location = out.splitlines()[1].strip()
    assert location.startswith("evil") and f"name.env:1:{ID_COLUMN}: alibaba-access-key-id" \
        in location


def test_unreadable_directory_is_warned_about_and_the_scan_goes_on(
    shared_dir: Path, run_cli: RunCli
) -> None:
    key = random_id()
    write(shared_dir / "readable.env", id_line(key)).chmod(0o644)
    write(shared_dir / "private" / "a.env", id_line(random_id()))
    (shared_dir / "private").chmod(0o000)
    try:
        code, out, err = run_unprivileged(["scan", "--format", "json", str(shared_dir)],
                                          shared_dir, run_cli)
    finally:
        (shared_dir / "private").chmod(0o755)
    assert code == 1, err
    assert [f["secret_sha256"] for f in json.loads(out)["findings"]] == [sha(key)]
    warnings = [line for line in err.splitlines() if "private" in line]
    assert len(warnings) == 1 and "warning" in warnings[0]


def test_fifo_named_on_the_command_line_is_read_like_cat_would(tmp_path: Path) -> None:
    key = random_id()
    os.mkfifo(tmp_path / "pipe")
    process = subprocess.Popen(
        [sys.executable, "-m", "akscan", "scan", "--format", "json", str(tmp_path / "pipe")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=subprocess_env(),
        cwd=tmp_path,
    )
    try:
        with open(tmp_path / "pipe", "w") as writer:  # blocks until akscan opens it
            writer.write(id_line(key))
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 1, err
    [found] = json.loads(out)["findings"]
    assert found["secret_sha256"] == sha(key)


def test_named_file_matching_an_exclude_is_not_scanned(tmp_path: Path, run_cli: RunCli) -> None:
    write(tmp_path / "vendor" / "lib.env", id_line(random_id()))
    code, _, err = run_cli(["scan", "--exclude", "vendor/", str(tmp_path / "vendor" / "lib.env")])
    assert code == 0, err
    assert "1 ignored" in err


def test_a_scan_across_worker_processes_reports_what_one_process_does(
    tmp_path: Path, scan_json: ScanJson
) -> None:
    # Enough files that --jobs 2 really starts worker processes.
    keys = {}
    for n in range(2050):
        text = f"value_{n} = {n}\n"
        if n % 100 == 7:
            keys[f"f{n:04}.env"] = random_id()
            text += id_line(keys[f"f{n:04}.env"])
        write(tmp_path / f"f{n:04}.env", text)
    code, serial, _ = scan_json("--jobs", "1", tmp_path)
    assert code == 1
    code, parallel, err = scan_json("--jobs", "2", tmp_path)
    assert code == 1, err
    assert parallel == serial
    assert {f["path"] for f in parallel} == set(keys)
    assert "2050 files" in err


def test_scanning_a_subdirectory_honours_the_work_trees_parent_gitignore(
    tmp_path: Path, scan_json: ScanJson
) -> None:
    (tmp_path / ".git").mkdir()  # the work tree's root, as git marks it
    write(tmp_path / ".gitignore", "*.local.env\nsrc/generated/\n")
    write(tmp_path / "src" / "app.local.env", id_line(random_id()))
    write(tmp_path / "src" / "generated" / "keys.env", id_line(random_id()))
    kept = random_id()
    write(tmp_path / "src" / "app.env", id_line(kept))
    code, findings, err = scan_json(tmp_path / "src")
    assert code == 1, err
    assert [f["path"] for f in findings] == ["app.env"]


def test_a_parent_gitignore_outside_any_work_tree_does_not_apply(
    tmp_path: Path, scan_json: ScanJson
) -> None:
    write(tmp_path / ".gitignore", "*.env\n")
    write(tmp_path / "src" / "app.env", id_line(random_id()))
    code, findings, err = scan_json(tmp_path / "src")
    assert code == 1, err
    assert [f["path"] for f in findings] == ["app.env"]


def test_a_nested_repository_root_stops_the_search_for_parent_gitignores(
    tmp_path: Path, scan_json: ScanJson
) -> None:
    (tmp_path / ".git").mkdir()
    write(tmp_path / ".gitignore", "*.env\n")
    (tmp_path / "inner" / ".git").mkdir(parents=True)
    write(tmp_path / "inner" / "app.env", id_line(random_id()))
    code, findings, err = scan_json(tmp_path / "inner")
    assert code == 1, err
    assert [f["path"] for f in findings] == ["app.env"]


def test_a_link_to_an_ignored_file_is_scanned_once_and_one_to_a_walked_file_not_again(
    tmp_path: Path, scan_json: ScanJson
) -> None:
    walked, ignored = random_id(), random_id()
    write(tmp_path / ".gitignore", "local/\n")
    write(tmp_path / "local" / "ignored.env", id_line(ignored))
    write(tmp_path / "z" / "walked.env", id_line(walked))
    # Links sort before their files, and after them: either way, each file is reported once.
    for name in ("a-ignored.env", "y-ignored.env"):
        (tmp_path / name).symlink_to(tmp_path / "local" / "ignored.env")
    for name in ("a-walked.env", "zz-walked.env"):
        (tmp_path / name).symlink_to(tmp_path / "z" / "walked.env")
    code, findings, err = scan_json(tmp_path)
    assert code == 1, err
    assert sorted((f["path"], f["secret_sha256"]) for f in findings) == sorted(
        [("a-ignored.env", sha(ignored)), ("z/walked.env", sha(walked))])


_HEAD_CHARACTERS = st.sampled_from(
    ["a", " ", "\n", "\t", "\r", "\f", "\v", "\0", "\x1b", "\x01", "\x7f", "\u200b", "\ufffd",
     "é", "中", "\u2028", "\x85", "\ud800", "😀"])


@settings(max_examples=500, deadline=None)
@given(st.lists(_HEAD_CHARACTERS, max_size=200).map("".join))
def test_text_is_told_from_binary_as_a_count_of_each_character_tells_it(text: str) -> None:
    # The counts of printable and bad characters are taken from C where the text allows: the
    # verdicts must be those of counting character by character.
    head = text.encode("utf-8", "surrogatepass")
    bad = sum(1 for c in head.decode("utf-8", "replace") if c == "\ufffd" or (
        not c.isprintable() and c not in "\t\n\r\f\v" and c not in "\0\x1b"))
    decoded = head.decode("utf-8", "replace")
    stray = head.count(0) <= max(1, 0.01 * len(head)) and bad <= 0.01 * len(decoded)
    assert (decode._utf8_with_stray_nuls(head) == "utf-8") == stray
    printable = sum(1 for c in text if c.isprintable() or c in "\t\n\r\f\v")
    texty = bool(text) and text.count("\0") <= 0.01 * len(text) and printable >= 0.95 * len(
        text)
    assert decode._texty(text) == texty
