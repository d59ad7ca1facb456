"""Command line: ``eviction-prevention {generate,sftp-server,demo,report,ingest,publish,docs,link}``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from eviction_prevention import settings


def _cmd_generate(args: argparse.Namespace) -> int:
    from eviction_prevention.synthetic import generate

    summary = generate(Path(args.out), scale=args.scale, seed=args.seed, noise=args.noise)
    print(f"generated partner files in {args.out}: {summary}")
    return 0


def _cmd_sftp_server(args: argparse.Namespace) -> int:
    from eviction_prevention.sftp_server import serve_forever

    home = settings.home()
    serve_forever(
        Path(args.root or home / "sftp"),
        Path(args.keys or home / "keys" / "sftp"),
        args.port,
        Path(args.pid_file) if args.pid_file else None,
    )
    return 0


def _print_table(frame, title: str) -> None:
    print(f"\n== {title} ==")
    print(frame.to_string(index=False) if not frame.empty else "(no rows)")


def _report(url: str | None, truth_dir: Path | None, key: bytes | None) -> bool:
    """Print the compliance summary and, with ground truth, how it and the links compare. True = agrees."""
    from eviction_prevention import evaluation, warehouse

    with warehouse.connect(url) as conn:
        compliance = evaluation.published_compliance(conn)
        by_corporation = compliance.groupby("corporation")[evaluation.COMPLIANCE_COUNTS].sum().reset_index()
        _print_table(compliance, "mart_compliance_monthly (corporation x social team x month of T0)")
        _print_table(by_corporation, "compliance per corporation")
        overdue = warehouse.read_frame(
            conn,
            "SELECT responsible_kind, responsible_partner, deadline, count(*) AS cases, "
            "max(days_overdue) AS max_days_overdue FROM mart_worklist_overdue "
            "GROUP BY responsible_kind, responsible_partner, deadline "
            "ORDER BY responsible_kind, responsible_partner, deadline",
        )
        _print_table(overdue, "overdue now (mart_worklist_overdue), by responsible partner")
        if truth_dir is None or key is None:
            return True
        diffs = evaluation.compliance_differences(compliance, evaluation.truth_compliance(truth_dir))
        quality = evaluation.linkage_quality(conn, truth_dir, key)
    print(f"\ncompliance equals ground truth: {'yes' if diffs.empty else f'NO ({len(diffs)} rows differ)'}")
    print("\n== linkage against ground truth ==")
    for link_type, q in quality.items():
        print(
            f"{link_type:18s} precision {q['precision']:.4f}  recall {q['recall']:.4f}  f1 {q['f1']:.4f}  "
            f"(tp {q['tp']}, fp {q['fp']}, fn {q['fn']})"
        )
    return diffs.empty


def _cmd_demo(args: argparse.Namespace) -> int:
    from eviction_prevention.demo import DemoPaths, log_to_file, receipts_for, run_pipeline
    from eviction_prevention.feedback import FILE_PREFIX

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
    agrees = _report(None, result["truth_dir"], result["key"])
    _where_to_look(paths.home)
    return 0 if agrees else 1


def _where_to_look(home: Path) -> None:
    from eviction_prevention import dashboard
    from eviction_prevention.feedback import FILE_PREFIX
    from eviction_prevention.intake import RECEIPT_SUFFIX

    print(
        "\n== where to look ==\n"
        f"dashboard   {dashboard.default_path()}\n"
        f"receipts    {home / 'sftp' / '<partner>' / 'outbox'}/*{RECEIPT_SUFFIX}\n"
        f"feedback    {home / 'sftp' / '<partner>' / 'outbox'}/{FILE_PREFIX}*.csv\n"
        f"warehouse   {settings.warehouse_url()}\n"
        f"logs        {home / 'logs'}\n"
        "one query to try (who must act now):\n"
        f"  .venv/bin/python -c \"import duckdb; print(duckdb.connect('{home / 'warehouse.duckdb'}', read_only=True)"
        ".sql('SELECT responsible_partner, deadline, count(*) AS cases FROM mart_worklist_overdue GROUP BY ALL "
        "ORDER BY cases DESC'))\""
    )


def _cmd_report(args: argparse.Namespace) -> int:
    truth = Path(args.truth) if args.truth else None
    key = settings.pseudonym_key() if truth else None
    return 0 if _report(args.url, truth, key) else 1


def _cmd_ingest(args: argparse.Namespace) -> int:
    from eviction_prevention import dutch_time
    from eviction_prevention.partners import get_partner
    from eviction_prevention.replay import ingest_paths

    try:
        partner = get_partner(args.partner)
    except KeyError:
        print(f"unknown partner {args.partner!r} (see config/partners.yaml)", file=sys.stderr)
        return 2
    missing = [f for f in args.files if not Path(f).is_file()]
    if missing:
        print(f"not a file: {', '.join(missing)}", file=sys.stderr)
        return 2
    received = dutch_time.parse_moment(args.received_at) if args.received_at else None
    outcomes = ingest_paths(partner, [Path(f) for f in args.files], settings.pseudonym_key(), args.url, received)
    for o in outcomes:
        print(
            f"{o['remote_name']}: {o['status']} ({o['rows_loaded']} rows loaded, {o['rows_rejected']} rejected, "
            f"{o['warnings']} warnings); receipt {o['receipt']}"
        )
    return 1 if any(o["status"] == "rejected" for o in outcomes) else 0


def _cmd_publish(args: argparse.Namespace) -> int:
    import datetime as dt

    from eviction_prevention.publish import publish

    reference = dt.date.fromisoformat(args.reference_date) if args.reference_date else None
    counts = publish(args.url, reference)
    print(f"published as of {counts['reference_date']}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


def _cmd_link(args: argparse.Namespace) -> int:
    from eviction_prevention.linkage import link_csv

    n = link_csv(Path(args.left), Path(args.right), Path(args.out), settings.pseudonym_key())
    print(f"{n} links written to {args.out}")
    return 0


def _cmd_rotate_vault(args: argparse.Namespace) -> int:
    from eviction_prevention import identity_vault, warehouse

    with warehouse.connect(args.url) as conn:
        warehouse.ensure_schema(conn)
        n = identity_vault.rotate(conn, settings.vault_key())
    print(f"{n} sealed references resealed under the vault key's current version")
    return 0


def _cmd_docs(args: argparse.Namespace) -> int:
    from eviction_prevention import dictionary

    dictionary.MARKDOWN.parent.mkdir(parents=True, exist_ok=True)
    dictionary.MARKDOWN.write_text(dictionary.render_markdown(), encoding="utf-8")
    print(f"wrote {dictionary.MARKDOWN}")
    return 0


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

    rep = sub.add_parser("report", help="print the compliance summary from the warehouse")
    rep.add_argument("--url", help="warehouse SQLAlchemy URL (default: EVICTION_PREVENTION_WAREHOUSE_URL or var/)")
    rep.add_argument("--truth", help="ground-truth folder to compare with")
    rep.set_defaults(func=_cmd_report)

    ing = sub.add_parser(
        "ingest",
        help="load partner files from disk (parse, validate, pseudonymise, load, ledger; receipt next to each file)",
    )
    ing.add_argument("partner", help="partner code (config/partners.yaml)")
    ing.add_argument("files", nargs="+", metavar="FILE")
    ing.add_argument(
        "--received-at",
        help="when the partner delivered the files (ISO-8601; without an offset: Dutch local time; default: now)",
    )
    ing.add_argument("--url", help="warehouse SQLAlchemy URL (default: EVICTION_PREVENTION_WAREHOUSE_URL or var/)")
    ing.set_defaults(func=_cmd_ingest)

    pub = sub.add_parser("publish", help="rebuild the intermediate models, links and marts")
    pub.add_argument("--url", help="warehouse SQLAlchemy URL (default: EVICTION_PREVENTION_WAREHOUSE_URL or var/)")
    pub.add_argument(
        "--reference-date",
        help="compute every deadline and delivery state as of this date (YYYY-MM-DD; default: the latest snapshot)",
    )
    pub.set_defaults(func=_cmd_publish)

    rot = sub.add_parser(
        "rotate-vault",
        help="reseal the identity vault under the current version of the vault key (after appending a version)",
    )
    rot.add_argument("--url", help="warehouse SQLAlchemy URL (default: EVICTION_PREVENTION_WAREHOUSE_URL or var/)")
    rot.set_defaults(func=_cmd_rotate_vault)

    docs = sub.add_parser("docs", help="write docs/data_dictionary.md from sql/dictionary.yml")
    docs.set_defaults(func=_cmd_docs)

    lnk = sub.add_parser("link", help="link two CSV files of person records on pseudonyms")
    lnk.add_argument("left")
    lnk.add_argument("right")
    lnk.add_argument("--out", required=True)
    lnk.set_defaults(func=_cmd_link)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
