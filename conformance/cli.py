"""``conformance``: check a running server against one API's contract, rule by rule.

Exit status: 0 when no MUST rule failed (no rule at all with --strict), 1 when one did, 2 on usage errors
(an empty or malformed token included), 3 when the target is unreachable or serves nothing of the API at
the base URL (no rule is run), 4 when the suite itself could not run.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shlex
import sys

from .target import API_NAMES, SETTABLE_HELP, Target, UsageError

TOKEN_ENV = "CONFORMANCE_TOKEN"
EXIT_PASSED, EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_INTERNAL = 0, 1, 2, 3, 4


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("image-api-contracts")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="conformance",
        description=__doc__.splitlines()[0].replace("``", ""),
        epilog=" ".join(__doc__.split("\n\n", 1)[1].split()),
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    p.add_argument("--api", required=True, choices=API_NAMES, metavar="NAME", help=", ".join(API_NAMES))
    p.add_argument(
        "--base-url", required=True, metavar="URL", help="the API's base URL (tagged-images: including /v1)"
    )
    p.add_argument(
        "--token",
        help=f"the credential, placed where the API expects it; also read from ${TOKEN_ENV}, which keeps "
        "it out of the process list and shell history (default: a dev token the mock accepts)",
    )
    p.add_argument(
        "--set",
        dest="values",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=SETTABLE_HELP,
    )
    p.add_argument(
        "--seed",
        type=int,
        metavar="N",
        help="seed for generated data (default: one picked at random, printed with the command that "
        "replays the run)",
    )
    p.add_argument(
        "--max-examples", type=int, default=10, metavar="N", help="examples per generated check (default 10)"
    )
    p.add_argument(
        "--rule",
        dest="rules",
        action="append",
        default=[],
        metavar="ID",
        help="run only the checks of this rule (repeatable; e.g. --rule ALL-01 --rule TIM-04)",
    )
    p.add_argument("--strict", action="store_true", help="SHOULD rules fail the run instead of warning")
    p.add_argument(
        "--read-only",
        action="store_true",
        help="only GET, HEAD and OPTIONS requests, from every part of the suite (for production)",
    )
    p.add_argument(
        "--concurrency",
        type=int,
        metavar="N",
        default=4,
        help="requests in flight at once where order does not matter (default 4)",
    )
    p.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="run the checks in N processes at once (default: 1 for a loopback target, where a run is "
        "CPU-bound, else 4: a remote run mostly waits on the network); checks that judge a whole listing "
        "or delete by generated ids still run alone",
    )
    p.add_argument(
        "--no-preflight",
        action="store_true",
        help="skip the reachability check before the rules run (exit 3 when it fails)",
    )
    p.add_argument(
        "--wait",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="how long the preflight waits for a target that refuses connections, e.g. a server just "
        "started (default 10)",
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
    p.add_argument(
        "--html",
        metavar="PATH",
        help="write a self-contained HTML report: rules, breaks with their curls, image pairs",
    )
    return p


def parse_values(pairs: list[str]) -> dict[str, str]:
    """``--set KEY=VALUE`` pairs as a dict (the CLI's and the pytest plugin's options)."""
    values = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--set expects KEY=VALUE, got {pair!r}")
        values[key] = value
    return values


def _rules(ids: list[str]) -> list[str]:
    from .rules import load_rules

    known = load_rules()
    unknown = [rule_id for rule_id in ids if rule_id not in known]
    if unknown:
        raise UsageError(f"--rule {', '.join(unknown)}: no such rule in the catalogue")
    return ids


def _token(args) -> str | None:
    if args.token is not None:
        return args.token
    if TOKEN_ENV in os.environ:
        token = os.environ[TOKEN_ENV]
        if not token.strip():
            raise UsageError(
                f"${TOKEN_ENV} is set but empty (an unset CI secret?); unset it for the dev token"
            )
        return token
    return None


def default_workers(base_url: str) -> int:
    """One process for a loopback target (CPU-bound: more processes only compete), four for a remote one."""
    import ipaddress
    from urllib.parse import urlsplit

    host = urlsplit(base_url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return 1
    try:
        return 1 if ipaddress.ip_address(host).is_loopback else 4
    except ValueError:
        return 4


def replay_command(args, seed: int) -> str:
    """The command that runs the same checks with the same generated data (the token left to the env)."""
    parts = ["conformance", "--api", args.api, "--base-url", args.base_url.rstrip("/")]
    for pair in args.values:
        parts += ["--set", pair]
    for rule_id in args.rules:
        parts += ["--rule", rule_id]
    parts += ["--seed", str(seed), "--max-examples", str(args.max_examples)]
    parts += [flag for flag, on in (("--strict", args.strict), ("--read-only", args.read_only)) if on]
    return shlex.join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    try:
        if args.max_examples < 1:
            raise UsageError("--max-examples must be at least 1")
        if args.concurrency < 1:
            raise UsageError("--concurrency must be at least 1")
        if args.workers is not None and args.workers < 1:
            raise UsageError("--workers must be at least 1")
        target = Target(
            api=args.api,
            base_url=args.base_url,
            token=_token(args),
            values=parse_values(args.values),
            seed=seed,
            max_examples=args.max_examples,
            only_rules=tuple(_rules(args.rules)),
            strict=args.strict,
            read_only=args.read_only,
            verbose=args.verbose,
            concurrency=args.concurrency,
            bodies_dir=args.bodies_dir,
        )
    except UsageError as exc:
        parser.print_usage(sys.stderr)
        print(f"conformance: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    replay = replay_command(args, seed)
    print(
        f"conformance {version()}: {target.api} @ {target.base_url}, seed {seed}, max examples "
        f"{target.max_examples}, concurrency {target.concurrency}, "
        f"workers {args.workers or default_workers(target.base_url)}"
        + (", read-only" if target.read_only else "")
        + (", strict" if target.strict else ""),
        flush=True,
    )
    print(f"replay: {replay}", flush=True)
    if not args.no_preflight:
        from .preflight import TargetUnreachable, preflight

        try:
            preflight(target, wait=max(0.0, args.wait))
        except TargetUnreachable as exc:
            print(f"conformance: {exc}", file=sys.stderr, flush=True)
            return EXIT_UNREACHABLE
    from .progress import PrintedProgress
    from .runner import run

    progress = PrintedProgress()
    try:
        workers = args.workers or default_workers(target.base_url)
        report = run(target, junit_xml=args.junit_xml, progress=progress, replay=replay, workers=workers)
    except RuntimeError as exc:
        print(f"conformance: error: {exc}", file=sys.stderr)
        return EXIT_INTERNAL
    finally:
        progress.close()
    print()
    print("\n".join(report.summary_lines()))
    if report.details:
        print("\n---- details (-v) ----\n" + report.details)
    if args.report:
        report.write_json(args.report)
    if args.html:
        from .html import write_html

        write_html(report, args.html)
    return EXIT_FAILED if report.failed else EXIT_PASSED


if __name__ == "__main__":
    sys.exit(main())
