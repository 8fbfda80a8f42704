"""``conformance``: check a running server against one API's contract, rule by rule.

Exit status: 0 when no MUST rule failed (no rule at all with --strict), 1 otherwise, 2 on usage errors.
"""

from __future__ import annotations

import argparse
import sys

from .target import API_NAMES, Target, UsageError


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="conformance", description=__doc__.splitlines()[0])
    p.add_argument("--api", required=True, choices=API_NAMES)
    p.add_argument("--base-url", required=True, help="the API's base URL (tagged-images: including /v1)")
    p.add_argument("--token", help="the credential; placed where the API expects it (default: a dev token)")
    p.add_argument(
        "--set",
        dest="values",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="API-specific values: store_id, product_id (evotor), album_id (sharinpix)",
    )
    p.add_argument("--seed", type=int, help="seed for generated data (reproducible runs)")
    p.add_argument("--max-examples", type=int, default=10, help="examples per generated check (default 10)")
    p.add_argument("--strict", action="store_true", help="SHOULD rules fail the run instead of warning")
    p.add_argument("--read-only", action="store_true", help="only safe requests (for production)")
    p.add_argument(
        "--concurrency", type=int, default=4, help="requests in flight at once where order does not matter"
    )
    p.add_argument(
        "-v", "--verbose", action="store_true", help="tracebacks and every check, after the summary"
    )
    p.add_argument(
        "--bodies-dir",
        default="conformance-bodies",
        metavar="DIR",
        help="where a failing request's binary body is saved for its curl (default ./conformance-bodies)",
    )
    p.add_argument("--junit-xml", metavar="PATH", help="write a JUnit XML report")
    p.add_argument("--report", metavar="PATH", help="write a JSON report: every rule and its verdict")
    return p


def _values(pairs: list[str]) -> dict[str, str]:
    values = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--set expects KEY=VALUE, got {pair!r}")
        values[key] = value
    return values


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.max_examples < 1:
            raise UsageError("--max-examples must be at least 1")
        if args.concurrency < 1:
            raise UsageError("--concurrency must be at least 1")
        target = Target(
            api=args.api,
            base_url=args.base_url,
            token=args.token,
            values=_values(args.values),
            seed=args.seed,
            max_examples=args.max_examples,
            strict=args.strict,
            read_only=args.read_only,
            verbose=args.verbose,
            concurrency=args.concurrency,
            bodies_dir=args.bodies_dir,
        )
    except UsageError as exc:
        parser.print_usage(sys.stderr)
        print(f"conformance: error: {exc}", file=sys.stderr)
        return 2
    from .runner import run

    try:
        report = run(target, junit_xml=args.junit_xml)
    except RuntimeError as exc:
        print(f"conformance: error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(report.summary_lines()))
    if report.details:
        print("\n---- details (-v) ----\n" + report.details)
    if args.report:
        report.write_json(args.report)
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
