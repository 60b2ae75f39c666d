"""The headless twin of every page: ``python -m fusionlab <command> ...``.

Subcommands live in ``fusionlab/commands/``: each module declares ``COMMANDS = {name: help}`` (a
literal) and ``add_parser(subparsers)``, which registers its parsers with ``func=...``. They are
discovered without importing them: ``--help`` reads each module's ``COMMANDS`` from its source, so
listing the commands imports no numpy, torch or pandas; a command's module is imported only when it
runs. Adding a page's twin touches no shared file. Bad arguments or input files print one line and
exit with code 2.
"""
from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import pkgutil
import sys
from typing import Dict, List, Optional, Tuple

from . import commands

PROG = "python -m fusionlab"
DESCRIPTION = "fusionlab: train, corrupt and diagnose multimodal fusion models."


def command_table() -> Dict[str, Tuple[str, str]]:
    """``{command: (module, help)}`` from every command module's ``COMMANDS`` literal (no import)."""
    table: Dict[str, Tuple[str, str]] = {}
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = f"{commands.__name__}.{info.name}"
        origin = importlib.util.find_spec(module).origin
        with open(origin, encoding="utf-8") as fh:
            tree = ast.parse(fh.read(), origin)
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "COMMANDS" for t in node.targets):
                for name, text in ast.literal_eval(node.value).items():
                    table[name] = (module, text)
    return table


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (``error: ...``, exit code 2), like every other failure here."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def _top_parser(table: Dict[str, Tuple[str, str]]) -> argparse.ArgumentParser:
    parser = Parser(prog=PROG, description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (_, text) in table.items():
        sub.add_parser(name, help=text, add_help=False)
    return parser


def build_parser(command: Optional[str] = None) -> argparse.ArgumentParser:
    """The full parser of ``command`` (imports its module), or, without one, the command list only."""
    table = command_table()
    if command is None or command not in table:
        return _top_parser(table)
    parser = Parser(prog=PROG, description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    importlib.import_module(table[command][0]).add_parser(sub)
    return parser


def _one_line_warnings() -> None:
    """The data's warnings (``DataWarning``) as one line on stderr, like the errors; other warnings as Python shows
    them."""
    import warnings
    shown = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if category.__name__ == "DataWarning":
            print(f"warning: {message}", file=sys.stderr)
        else:
            shown(message, category, filename, lineno, file, line)
    warnings.showwarning = show


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[0] if argv and not argv[0].startswith("-") else None
    parser = build_parser(command)
    try:
        args = parser.parse_args(argv)  # --help, or a one-line error (the bad command, flag or value)
    except SystemExit as exc:
        return int(exc.code or 0)
    _one_line_warnings()
    from .threads import one_blas_thread
    one_blas_thread()  # as the dashboard: the same numbers, and the solvers' small BLAS calls 14-16x faster
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, KeyError, NotADirectoryError, PermissionError,
            argparse.ArgumentTypeError) as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"error: {msg}", file=sys.stderr)
        return 2
    except OSError as exc:  # a full disk, a folder vanishing under us: name it, no traceback
        print(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: nothing was written", file=sys.stderr)
        return 130
