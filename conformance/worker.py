"""One worker process of a parallel run (``conformance.parallel``): ``python -m conformance.worker SPEC``."""

from __future__ import annotations

import sys

from .parallel import worker_main

if __name__ == "__main__":
    sys.exit(worker_main(sys.argv[1]))
