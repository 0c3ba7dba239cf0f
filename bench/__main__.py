"""`python -m bench` (from the repository root) = `make bench`; `python -m bench growth`
runs only the named phases."""

import sys

from bench.run import main

main(sys.argv[1:])
