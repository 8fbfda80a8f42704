"""Python function calls per request at two store sizes, under ``--state-dir`` or ``--store``: a write that
did work per record would show it here, whatever the noise of a shared machine does to the timings
(scaling.md). ``python benchmarks/write_calls.py --state-dir --api evotor``, or ``--store URL`` (a
PostgreSQL server where a scratch database is made per API and size, as ``scaling.py --store`` does).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import tempfile

from scaling import Call, create_app, fill, operations, scratch_database, store_fill

REQUESTS = 5


async def calls_per_request(app, name: str) -> dict[str, int]:
    call = Call(app)
    counts = {}
    for op in operations(app.ctx, name):
        if op.whole_store:
            continue  # a listing of the whole store grows with it by contract
        await op.request(call, 0)  # a warm-up
        profile = cProfile.Profile()
        profile.enable()
        for i in range(1, REQUESTS + 1):
            await op.request(call, i)
        profile.disable()
        counts[op.kind] = pstats.Stats(profile).total_calls // REQUESTS
    return counts


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--api", action="append", required=True)
    parser.add_argument("--sizes", default="100,20000")
    parser.add_argument("--state-dir", action="store_true")
    parser.add_argument("--store", metavar="URL")
    args = parser.parse_args(argv)
    if not args.state_dir and not args.store:
        parser.error("give --state-dir or --store URL")
    for name in args.api:
        for size in map(int, args.sizes.split(",")):
            with tempfile.TemporaryDirectory(prefix="calls-") as tmp, scratch_database(args.store) as db:
                options = {"store": db} if args.store else {"state_dir": tmp}
                app = create_app(apis=(name,), prefixed=False, allow_hosts=("127.0.0.1:8000",), **options)
                fill(app.ctx, name, size)
                asyncio.run(store_fill(app, name))
                counts = asyncio.run(calls_per_request(app, name))
            shown = ", ".join(f"{kind} {count}" for kind, count in counts.items())
            print(f"{name} at {size:,} records: function calls per request: {shown}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
