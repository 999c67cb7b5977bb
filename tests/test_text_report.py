"""The text report for people: one block per credential, masked lines, advice once at the end;
--quiet keeps one line per finding for grep."""

from __future__ import annotations

import base64
from pathlib import Path

from gitrepo import Repo, credentials
from helpers import RunCli, write
from keys import env_file, new_key, random_id


def test_a_key_in_two_files_is_one_block_with_both_places(tmp_path: Path, run_cli: RunCli) -> None:
    key_id, secret = new_key()
    write(tmp_path / "a.env", f"ID={key_id}\nSECRET={secret}\n")
    write(tmp_path / "conf" / "b.json", f'{{"AccessKeyId": "{key_id}", '
                                        f'"AccessKeySecret": "{secret}"}}\n')
    write(tmp_path / "c.py", f'other = "{random_id()}"\n')
    code, out, err = run_cli(["scan", "--color", "never", str(tmp_path)])
    assert code == 1
    blocks = out.split("\n\n")
    assert len(blocks) == 3  # the pair, the lone ID, the advice
    pair, lone, advice = blocks
    assert pair.startswith("UNCHECKED AccessKey pair ") and "2 location(s)" in pair
    assert pair.count("a.env:") == 2 and pair.count("conf/b.json:1:") == 2
    assert lone.startswith("UNCHECKED AccessKey ID, no secret found ")
    assert advice.count("What to do") == 1
    assert "2 credential(s) found (5 finding(s))" in err


def test_each_line_is_shown_with_the_secret_and_its_partner_masked(
    tmp_path: Path, run_cli: RunCli
) -> None:
    key_id, secret = new_key()
    write(tmp_path / "b.json", f'{{"AccessKeyId": "{key_id}", "AccessKeySecret": "{secret}"}}\n')
    code, out, _ = run_cli(["scan", "--color", "never", str(tmp_path)])
    assert code == 1
    shown = f'| {{"AccessKeyId": "{key_id[:6]}…{key_id[-2:]}", ' \
            f'"AccessKeySecret": "{secret[:2]}…{secret[-2:]}"}}'
    assert out.count(shown) == 2
    assert key_id not in out and secret not in out
    _, full, _ = run_cli(["scan", "--color", "never", "--show-secrets", str(tmp_path)])
    assert f'"AccessKeySecret": "{secret}"' in full


def test_an_encoded_key_is_masked_in_its_line(tmp_path: Path, run_cli: RunCli) -> None:
    key_id = random_id()
    encoded = base64.b64encode(key_id.encode()).decode()
    write(tmp_path / "secret.yaml", f"akId: {encoded}  # deploy\n")
    code, out, _ = run_cli(["scan", "--color", "never", str(tmp_path)])
    assert code == 1
    assert encoded not in out and key_id not in out
    assert "| akId: " + "•" * len(encoded) + "  # deploy" in out


def test_control_characters_in_a_line_are_escaped(tmp_path: Path, run_cli: RunCli) -> None:
    write(tmp_path / "a.env", f"\x1b[2JID={random_id()}\x07\n")
    code, out, _ = run_cli(["scan", "--color", "never", str(tmp_path)])
    assert code == 1
    assert "\x1b" not in out and "\x07" not in out
    assert "| \\x1b[2JID=LTAI5t" in out and "\\x07" in out


def test_history_findings_have_commit_author_and_date_on_their_own_line(
    repo: Repo, run_cli: RunCli
) -> None:
    text, key, _ = credentials()
    commit = repo.commit("add", {"a.env": text}, author="Carol Ops")
    code, out, _ = run_cli(["history", str(repo.path), "--color", "never"])
    assert code == 1
    lines = out.splitlines()
    provenance = [line.strip() for line in lines if line.strip().startswith("commit ")]
    assert provenance == [f"commit {commit}, author Carol Ops <carol@example.test>, "
                          "date 2023-11-14T22:14:20+00:00, ref refs/heads/main, still at HEAD"] * 2
    assert key not in out


def test_quiet_gives_one_line_per_finding(tmp_path: Path, run_cli: RunCli) -> None:
    key_id, secret = new_key()
    write(tmp_path / "a.env", env_file(key_id, secret))
    code, out, err = run_cli(["scan", "-q", "--color", "never", str(tmp_path)])
    assert (code, err) == (1, "")
    assert out.splitlines() == [
        f"a.env:1:29: alibaba-access-key-id [high] {key_id[:6]}…{key_id[-2:]}",
        f"a.env:2:33: alibaba-access-key-secret [critical] {secret[:2]}…{secret[-2:]}",
    ]


def test_history_blocks_say_whether_the_key_is_still_at_the_tip(
    repo: Repo, run_cli: RunCli
) -> None:
    gone_text, _, _ = credentials()
    kept_text, _, _ = credentials()
    repo.commit("add", {"gone.env": gone_text, "kept.env": kept_text})
    repo.git("rm", "-q", "gone.env")
    removed = repo.commit("remove gone.env")
    code, out, _ = run_cli(["history", str(repo.path), "--color", "never"])
    assert code == 1
    gone = next(b for b in out.split("\n\n") if "gone.env" in b)
    kept = next(b for b in out.split("\n\n") if "kept.env" in b)
    assert f"at the tip: not at HEAD ({removed[:12]}): removed in {removed[:12]}" in gone
    assert gone.count(f"removed from HEAD in {removed} on 2023-11-14") == 2
    assert f"at the tip: still present at HEAD ({removed[:12]}) in kept.env" in kept
    assert kept.count(", still at HEAD") == 2
