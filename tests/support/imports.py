"""Which heavy modules CLI commands import, checked in a fresh interpreter.

Every command runs in turn in ONE new Python process (one start-up instead of one per
command); after each, the heavy modules it loaded that were not loaded before are recorded, so
a command that imports Prefect or matplotlib is named even when several are checked at once.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

_SCRIPT = """
import json, sys
from click.testing import CliRunner
from ice287g.cli import main
heavy, commands = set(json.loads(sys.argv[1])), json.loads(sys.argv[2])
seen, results = set(), []
for command in commands:
    exit_code = CliRunner().invoke(main, command).exit_code
    loaded = heavy & set(sys.modules)
    results.append({"exit_code": exit_code, "imported": sorted(loaded - seen)})
    seen |= loaded
print(json.dumps(results))
"""


@dataclass(frozen=True)
class CommandImports:
    exit_code: int
    imported: list[str]  # heavy modules this command loaded (none loaded before it)


def heavy_imports(
    data_dir: Path, commands: list[list[str]], heavy: tuple[str, ...] = ("prefect",)
) -> list[CommandImports]:
    """Run ``ice287g --data-dir DATA_DIR <command>`` for each command in one fresh process."""
    argv = [["--data-dir", str(data_dir), *command] for command in commands]
    proc = subprocess.run(
        [sys.executable, "-c", _SCRIPT, json.dumps(heavy), json.dumps(argv)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return [CommandImports(**row) for row in json.loads(proc.stdout.splitlines()[-1])]
