"""``eviction-prevention``: the production commands (``eviction_prevention.cli``) and the development ones:
``generate`` (the synthetic world), ``sftp-server`` (the embedded server), ``demo`` (the whole pipeline end to
end) and ``report --truth`` (the report compared with the generator's ground truth)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from eviction_prevention import cli, settings


def _cmd_generate(args: argparse.Namespace) -> int:
    from devtools.synthetic import generate

    summary = generate(Path(args.out), scale=args.scale, seed=args.seed, noise=args.noise)
    print(f"generated partner files in {args.out}: {summary}")
    return 0


def _cmd_sftp_server(args: argparse.Namespace) -> int:
    from devtools.sftp_server import serve_forever

    home = settings.home()
    serve_forever(
        Path(args.root or home / "sftp"),
        Path(args.keys or home / "keys" / "sftp"),
        args.port,
        Path(args.pid_file) if args.pid_file else None,
    )
    return 0


def compare_with_truth(url: str | None, truth_dir: Path, key: bytes) -> bool:
    """Print how the published compliance and the links compare with the ground truth. True = agrees."""
    from eviction_prevention import warehouse

    from devtools import evaluation

    with warehouse.connect(url) as conn:
        diffs = evaluation.compliance_differences(
            evaluation.published_compliance(conn), evaluation.truth_compliance(truth_dir)
        )
        quality = evaluation.linkage_quality(conn, truth_dir, key)
    print(f"\ncompliance equals ground truth: {'yes' if diffs.empty else f'NO ({len(diffs)} rows differ)'}")
    print("\n== linkage against ground truth ==")
    for link_type, q in quality.items():
        print(
            f"{link_type:18s} precision {q['precision']:.4f}  recall {q['recall']:.4f}  f1 {q['f1']:.4f}  "
            f"(tp {q['tp']}, fp {q['fp']}, fn {q['fn']})"
        )
    return diffs.empty


def _cmd_report(args: argparse.Namespace) -> int:
    cli.print_report(args.url)
    if not args.truth:
        return 0
    return 0 if compare_with_truth(args.url, Path(args.truth), settings.pseudonym_key()) else 1


def _cmd_demo(args: argparse.Namespace) -> int:
    from eviction_prevention.publish.feedback import FILE_PREFIX

    from devtools.demo import DemoPaths, log_to_file, receipts_for, run_pipeline

    paths = DemoPaths(settings.home())
    log_to_file(paths.chatter_file)
    print(f"demo: log lines go to {paths.chatter_file} and {paths.log_file}")
    result = run_pipeline(paths, scale=args.scale, seed=args.seed)
    print(f"demo: {result['dropped']} partner files dropped over SFTP and processed through Airflow")
    for receipt in receipts_for(paths, result["faulty"]):
        print(f"\n== a faulty delivery, refused: {receipt.relative_to(paths.home)} ==")
        print(receipt.read_text(encoding="utf-8").rstrip())
    print("\n== case feedback in the partners' outboxes ==")
    for path in sorted(paths.sftp_root.glob(f"*/outbox/{FILE_PREFIX}*")):
        print(path.relative_to(paths.home))
    cli.print_report(None)
    agrees = compare_with_truth(None, result["truth_dir"], result["key"])
    _where_to_look(paths.home)
    return 0 if agrees else 1


def _where_to_look(home: Path) -> None:
    from eviction_prevention.intake.files import RECEIPT_SUFFIX
    from eviction_prevention.operate import dashboard
    from eviction_prevention.publish import dbt_runner
    from eviction_prevention.publish.feedback import FILE_PREFIX

    print(
        "\n== where to look ==\n"
        f"dashboard   {dashboard.default_path()}\n"
        f"dbt docs    {dbt_runner.docs_path()}  (models, columns in English and Dutch, tests, lineage)\n"
        f"receipts    {home / 'sftp' / '<partner>' / 'outbox'}/*{RECEIPT_SUFFIX}\n"
        f"feedback    {home / 'sftp' / '<partner>' / 'outbox'}/{FILE_PREFIX}*.csv\n"
        f"warehouse   {settings.warehouse_url()}\n"
        f"logs        {home / 'logs'}\n"
        "one query to try (who must act now):\n"
        f"  .venv/bin/python -c \"import duckdb; print(duckdb.connect('{home / 'warehouse.duckdb'}', read_only=True)"
        ".sql('SELECT responsible_partner, deadline, count(*) AS cases FROM mart_worklist_overdue GROUP BY ALL "
        "ORDER BY cases DESC'))\""
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="eviction-prevention", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="write synthetic partner files and ground truth")
    gen.add_argument("--out", default=str(settings.home() / "data"))
    gen.add_argument("--scale", type=float, default=1.0)
    gen.add_argument("--seed", type=int, default=2026)
    gen.add_argument("--noise", choices=["low", "default", "high"], default="default")
    gen.set_defaults(func=_cmd_generate)

    srv = sub.add_parser("sftp-server", help="run the embedded SFTP server in the foreground")
    srv.add_argument("--port", type=int, default=int(os.environ.get("EVICTION_PREVENTION_SFTP_PORT", "2222")))
    srv.add_argument("--root")
    srv.add_argument("--keys")
    srv.add_argument("--pid-file")
    srv.set_defaults(func=_cmd_sftp_server)

    demo = sub.add_parser("demo", help="run the whole pipeline end to end on the embedded default")
    demo.add_argument("--scale", type=float, default=1.0)
    demo.add_argument("--seed", type=int, default=2026)
    demo.set_defaults(func=_cmd_demo)

    parsers = cli.add_commands(sub)
    parsers["report"].add_argument("--truth", help="ground-truth folder to compare with")
    parsers["report"].set_defaults(func=_cmd_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    return cli.run(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
