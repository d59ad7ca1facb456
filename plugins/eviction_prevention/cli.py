"""The production command line: ``python -m eviction_prevention.cli {report,ingest,publish,rotate-vault,docs,link}``.

The installed ``eviction-prevention`` command is the development tools' command line: these commands plus the
development ones (``generate``, ``sftp-server``, ``demo``, and ``report --truth``).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from eviction_prevention import settings


def _print_table(frame, title: str) -> None:
    print(f"\n== {title} ==")
    print(frame.to_string(index=False) if not frame.empty else "(no rows)")


COMPLIANCE_SUMS = (
    "cases",
    "reported_on_time",
    "reported_late",
    "report_overdue_now",
    "analysed_on_time",
    "analysed_late",
    "analysis_overdue_now",
    "first_contact_on_time",
    "first_contact_late",
    "first_contact_overdue_now",
    "trajectories",
    "trajectories_rent_paid",
    "evictions",
)


def print_report(url: str | None) -> None:
    """The compliance summary: per corporation x social team x month of T0, per corporation, overdue now."""
    from eviction_prevention import warehouse

    sums = ", ".join(f"CAST(sum({c}) AS BIGINT) AS {c}" for c in COMPLIANCE_SUMS)
    with warehouse.connect(url) as conn:
        compliance = warehouse.read_frame(
            conn,
            f"SELECT corporation, team, CAST(month AS VARCHAR) AS month, {sums} FROM mart_compliance_monthly "
            "GROUP BY corporation, team, month ORDER BY corporation, team, month",
        )
        overdue = warehouse.read_frame(
            conn,
            "SELECT responsible_kind, responsible_partner, deadline, count(*) AS cases, "
            "max(days_overdue) AS max_days_overdue FROM mart_worklist_overdue "
            "GROUP BY responsible_kind, responsible_partner, deadline "
            "ORDER BY responsible_kind, responsible_partner, deadline",
        )
    _print_table(compliance, "mart_compliance_monthly (corporation x social team x month of T0)")
    _print_table(
        compliance.groupby("corporation")[list(COMPLIANCE_SUMS)].sum().reset_index(), "compliance per corporation"
    )
    _print_table(overdue, "overdue now (mart_worklist_overdue), by responsible partner")


def _cmd_report(args: argparse.Namespace) -> int:
    print_report(args.url)
    return 0


def _cmd_ingest(args: argparse.Namespace) -> int:
    from eviction_prevention import dutch_time
    from eviction_prevention.intake.replay import ingest_paths
    from eviction_prevention.partners import get_partner

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

    from eviction_prevention.publish.rebuild import publish

    reference = dt.date.fromisoformat(args.reference_date) if args.reference_date else None
    counts = publish(args.url, reference)
    print(f"published as of {counts['reference_date']}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


def _cmd_link(args: argparse.Namespace) -> int:
    from eviction_prevention.link.csv_files import link_csv

    n = link_csv(Path(args.left), Path(args.right), Path(args.out), settings.pseudonym_key())
    print(f"{n} links written to {args.out}")
    return 0


def _cmd_rotate_vault(args: argparse.Namespace) -> int:
    from eviction_prevention import warehouse
    from eviction_prevention.pseudonymise import identity_vault

    with warehouse.connect(args.url) as conn:
        warehouse.ensure_schema(conn)
        n = identity_vault.rotate(conn, settings.vault_key())
    print(f"{n} sealed references resealed under the vault key's current version")
    return 0


def _cmd_docs(args: argparse.Namespace) -> int:
    from eviction_prevention.publish import dictionary

    dictionary.MARKDOWN.parent.mkdir(parents=True, exist_ok=True)
    dictionary.MARKDOWN.write_text(dictionary.render_markdown(), encoding="utf-8")
    print(f"wrote {dictionary.MARKDOWN}")
    return 0


URL_HELP = "warehouse SQLAlchemy URL (default: EVICTION_PREVENTION_WAREHOUSE_URL or var/)"


def add_commands(sub: argparse._SubParsersAction) -> dict[str, argparse.ArgumentParser]:
    """The production commands, added to ``sub``; their parsers by name, for a command line that extends them."""
    parsers = {}
    rep = parsers["report"] = sub.add_parser("report", help="print the compliance summary from the warehouse")
    rep.add_argument("--url", help=URL_HELP)
    rep.set_defaults(func=_cmd_report)

    ing = parsers["ingest"] = sub.add_parser(
        "ingest",
        help="load partner files from disk (parse, validate, pseudonymise, load, ledger; receipt next to each file)",
    )
    ing.add_argument("partner", help="partner code (config/partners.yaml)")
    ing.add_argument("files", nargs="+", metavar="FILE")
    ing.add_argument(
        "--received-at",
        help="when the partner delivered the files (ISO-8601; without an offset: Dutch local time; default: now)",
    )
    ing.add_argument("--url", help=URL_HELP)
    ing.set_defaults(func=_cmd_ingest)

    pub = parsers["publish"] = sub.add_parser("publish", help="rebuild the intermediate models, links and marts")
    pub.add_argument("--url", help=URL_HELP)
    pub.add_argument(
        "--reference-date",
        help="compute every deadline and delivery state as of this date (YYYY-MM-DD; default: the latest snapshot)",
    )
    pub.set_defaults(func=_cmd_publish)

    rot = parsers["rotate-vault"] = sub.add_parser(
        "rotate-vault",
        help="reseal the identity vault under the current version of the vault key (after appending a version)",
    )
    rot.add_argument("--url", help=URL_HELP)
    rot.set_defaults(func=_cmd_rotate_vault)

    docs = parsers["docs"] = sub.add_parser("docs", help="write docs/data_dictionary.md from the dbt project's YAML")
    docs.set_defaults(func=_cmd_docs)

    lnk = parsers["link"] = sub.add_parser("link", help="link two CSV files of person records on pseudonyms")
    lnk.add_argument("left")
    lnk.add_argument("right")
    lnk.add_argument("--out", required=True)
    lnk.set_defaults(func=_cmd_link)
    return parsers


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="eviction-prevention", description=__doc__)
    add_commands(parser.add_subparsers(dest="command", required=True))
    return parser


def run(parser: argparse.ArgumentParser, argv: list[str] | None = None) -> int:
    """Parse ``argv`` with ``parser`` and run the chosen command; its exit status."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


def main(argv: list[str] | None = None) -> int:
    return run(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
