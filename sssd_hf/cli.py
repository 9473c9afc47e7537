"""The ``sssd-ecg`` command line.

Each sub-command lives next to the code it drives and registers itself through an
``add_parser(subparsers)`` function; this module only collects them:

- ``generate``       (:mod:`sssd_hf.generate_cli`)   ECGs from a pipeline to WFDB / CSV / NumPy / DICOM / EDF+
- ``convert-ptbxl``, ``convert-wfdb``, ``build-dataset`` (:mod:`sssd_hf.data.cli`)
- ``evaluate``       (:mod:`sssd_hf.evaluation.cli`)
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import List, Optional

_SUBCOMMAND_MODULES = (
    "sssd_hf.generate_cli",
    "sssd_hf.data.cli",
    "sssd_hf.evaluation.cli",
    "sssd_hf.evaluation.measure",
)


class CLIError(Exception):
    """An error the user can fix; printed without a traceback, exit status 2."""


#: Errors that name their problem well enough to be shown as they are.
_USER_ERRORS = (CLIError, ValueError, OSError, FloatingPointError)
#: Set this environment variable to get the traceback of an unexpected error.
DEBUG_VARIABLE = "SSSD_ECG_DEBUG"


def _one_line(exc: BaseException) -> str:
    """The exception's message on one line (``OSError``: its text and the file it names)."""
    if isinstance(exc, OSError) and exc.strerror and not isinstance(exc, FileNotFoundError):
        text = f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sssd-ecg",
                                     description="Generate, convert and evaluate 12-lead ECGs with SSSD-ECG.")
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
    except _USER_ERRORS as exc:
        print(f"sssd-ecg {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - every error is one line; the traceback on request
        if os.environ.get(DEBUG_VARIABLE):
            raise
        print(f"sssd-ecg {args.command}: error: {type(exc).__name__}: {_one_line(exc)} "
              f"(set {DEBUG_VARIABLE}=1 for the traceback)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"sssd-ecg {args.command}: interrupted; files already written are complete", file=sys.stderr)
        return 130


if __name__ == "__main__":
    # Run the imported module's main, so that CLIError raised by the sub-commands (imported from
    # sssd_hf.cli) is the class caught there, not a copy defined in __main__.
    from sssd_hf.cli import main as _main

    sys.exit(_main())
