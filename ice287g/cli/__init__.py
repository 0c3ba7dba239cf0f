"""The `ice287g` command (``ice287g.cli:main``)."""

from ice287g.cli.core import main

__all__ = ["main"]
