"""The `ice287g` command (``ice287g.cli:main``).

Commands are registered here, by name: a module that fails to import stops the command with
its error instead of silently losing its commands. Add a command to one of these modules (or
a new one) and list it in that module's ``COMMANDS``.
"""

from ice287g.cli import changes, live, moa, publish
from ice287g.cli.core import main

for _module in (changes, live, moa, publish):
    for _command in _module.COMMANDS:
        main.add_command(_command)

__all__ = ["main"]
