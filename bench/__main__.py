"""`python -m bench` (from the repository root) = `make bench`."""

from bench.run import main

main()
