"""Keep the remote code of the bundled pipeline folder generated from the package.

``sssd_hf/default_pipeline/`` carries copies of the pipeline, model, S4, scheduler and leads
modules (``trust_remote_code=True`` loads them where ``sssd_hf`` is not installed; see
``REMOTE_CODE_FILES`` in ``sssd_hf/hub.py``).  The package modules are the source of truth::

    python utils/check_copies.py          # exit 1 and list the copies that differ
    python utils/check_copies.py --fix    # rewrite those copies from the package

``--folder DIR`` checks another saved pipeline folder instead of the bundled one.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
import tempfile
from typing import Dict, List, Optional, Sequence

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)  # the checkout's package, not some other installed copy

from sssd_hf.hub import remote_code_files  # noqa: E402

DEFAULT_FOLDER = os.path.join(REPO_ROOT, "sssd_hf", "default_pipeline")


def drifted_copies(folder: str, expected: Optional[Dict[str, str]] = None) -> List[str]:
    """Paths (inside ``folder``) of remote-code files that are missing or differ from the package."""
    expected = remote_code_files() if expected is None else expected
    drifted = []
    for dest, text in expected.items():
        path = os.path.join(folder, dest)
        if not os.path.isfile(path):
            drifted.append(dest)
            continue
        with open(path, encoding="utf-8", newline="") as f:
            if f.read() != text:
                drifted.append(dest)
    return drifted


def _write_atomically(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; a copy must stay readable like any source file
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _diff_summary(path: str, text: str, limit: int = 12) -> str:
    old = open(path, encoding="utf-8").read().splitlines() if os.path.isfile(path) else []
    lines = list(difflib.unified_diff(old, text.splitlines(), "copy", "package", lineterm="", n=0))
    more = f"\n    ... {len(lines) - limit} more diff lines" if len(lines) > limit else ""
    return "\n".join("    " + line for line in lines[:limit]) + more


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fix", action="store_true", help="rewrite the copies that differ from the package")
    parser.add_argument("--folder", default=DEFAULT_FOLDER, help="pipeline folder to check (default: the bundled one)")
    args = parser.parse_args(argv)
    if not os.path.isfile(os.path.join(args.folder, "model_index.json")):
        print(f"error: {args.folder} is not a pipeline folder (no model_index.json)", file=sys.stderr)
        return 2
    expected = remote_code_files()
    drifted = drifted_copies(args.folder, expected)
    if not drifted:
        print(f"{len(expected)} remote-code copies in {args.folder} match the package")
        return 0
    if args.fix:
        for dest in drifted:
            _write_atomically(os.path.join(args.folder, dest), expected[dest])
        print(f"rewrote {len(drifted)} copies from the package: {', '.join(drifted)}")
        return 0
    for dest in drifted:
        print(f"{dest} differs from the package:\n{_diff_summary(os.path.join(args.folder, dest), expected[dest])}")
    print(f"{len(drifted)} remote-code copies differ; run `python utils/check_copies.py --fix`", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
