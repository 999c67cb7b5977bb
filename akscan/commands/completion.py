"""`akscan completion bash|zsh|fish`: print a completion script for the shell, to install."""

from __future__ import annotations

import argparse
import sys
from typing import Any

_EPILOG = """\
install:
  bash  akscan completion bash > ~/.local/share/bash-completion/completions/akscan
  zsh   akscan completion zsh > "${fpath[1]}/_akscan"   (then restart zsh)
  fish  akscan completion fish > ~/.config/fish/completions/akscan.fish
or for this shell only:  source <(akscan completion bash)
"""


def add_parser(commands: Any) -> None:
    from akscan.completion import SHELLS

    parser = commands.add_parser(
        "completion", help="print a shell completion script (bash, zsh, fish)",
        description="Print a completion script for akscan's commands and options, generated "
                    "from this akscan's own option parser.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("shell", choices=SHELLS, help="the shell to complete in")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from akscan.cli import build_parser
    from akscan.completion import script

    sys.stdout.write(script(args.shell, build_parser()))
    sys.stdout.flush()
    return 0
