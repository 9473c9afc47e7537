"""The ``sssd-ecg`` command line.

Each sub-command lives next to the code it drives and registers itself through an
``add_parser(subparsers)`` function; this module only collects them:

- ``generate``       (:mod:`sssd_hf.generate_cli`)   ECGs from a pipeline to WFDB / NumPy / CSV
- ``convert-ptbxl``, ``convert-wfdb``, ``build-dataset`` (:mod:`sssd_hf.data.cli`)
- ``evaluate``       (:mod:`sssd_hf.evaluation.cli`)
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import List, Optional

_SUBCOMMAND_MODULES = (
    "sssd_hf.generate_cli",
    "sssd_hf.data.cli",
    "sssd_hf.evaluation.cli",
)


class CLIError(Exception):
    """An error the user can fix; printed without a traceback, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sssd-ecg", description="Generate, convert and evaluate 12-lead ECGs with SSSD-ECG.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in _SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # that part of sssd-hf is not built yet
                continue
            raise
        module.add_parser(subparsers)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (CLIError, ValueError, FileNotFoundError) as exc:
        print(f"sssd-ecg {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"sssd-ecg {args.command}: interrupted; files already written are complete", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
