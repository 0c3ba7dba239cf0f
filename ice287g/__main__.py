"""`python -m ice287g` = the `ice287g` command."""

from ice287g.cli import main

main()
