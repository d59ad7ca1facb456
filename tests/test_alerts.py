"""Alerts reach a real webhook (HTTP server on loopback) and a real SMTP server, and carry no personal data."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import html
import json
import re
import socketserver
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from eviction_prevention import warehouse
from eviction_prevention.intake import delivery_windows
from eviction_prevention.operate import alerts
from eviction_prevention.partners import get_partner
from eviction_prevention.publish import models

from tests.browser import free_port

PERSONAL = ("Jansen", "123456782", "Dordtse Kade 12", "3311 AB", "j.jansen@example.nl")
FAILURE = ValueError("row 7: Achternaam 'Jansen', BSN 123456782, Dordtse Kade 12, 3311 AB, j.jansen@example.nl")
TOKEN = "test-webhook-token-0123"


# ------------------------------------------------------------------------------------------------- servers


class _Hook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append({"path": self.path, "headers": dict(self.headers), "body": body})
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


class _SMTP(socketserver.StreamRequestHandler):
    """Just enough SMTP for smtplib: EHLO, MAIL, RCPT, DATA, QUIT."""

    def reply(self, line: str) -> None:
        self.wfile.write(f"{line}\r\n".encode())

    def handle(self) -> None:
        self.reply("220 localhost test-smtp")
        recipients: list[str] = []
        while line := self.rfile.readline():
            command = line[:4].upper()
            if command == b"DATA":
                self.reply("354 end with <CRLF>.<CRLF>")
                lines = []
                while (data := self.rfile.readline()) not in (b".\r\n", b""):
                    lines.append(data[1:] if data.startswith(b"..") else data)
                self.server.messages.append({"rcpt": recipients, "data": b"".join(lines)})
                recipients = []
                self.reply("250 queued")
            elif command == b"RCPT":
                recipients.append(line.decode().split(":", 1)[1].strip().strip("<>"))
                self.reply("250 ok")
            elif command == b"QUIT":
                self.reply("221 bye")
                return
            else:  # EHLO, HELO, MAIL, RSET, NOOP
                self.reply("250 localhost")


@pytest.fixture
def webhook(monkeypatch) -> Iterator[list[dict]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    server.received = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    conn = {"conn_type": "http", "host": f"http://127.0.0.1:{server.server_address[1]}/hooks/ops", "password": TOKEN}
    monkeypatch.setenv("AIRFLOW_CONN_EVICTION_PREVENTION_ALERTS_WEBHOOK", json.dumps(conn))
    try:
        yield server.received
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def mailbox(monkeypatch) -> Iterator[list[dict]]:
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SMTP)
    server.daemon_threads = True
    server.messages = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    conn = {
        "conn_type": "smtp",
        "host": "127.0.0.1",
        "port": server.server_address[1],
        "extra": {
            "from_email": "airflow@drechtsteden.example",
            "to": ["beheer@drechtsteden.example"],
            "disable_ssl": True,  # the test server speaks plain SMTP
            "disable_tls": True,
            "retry_limit": 1,
        },
    }
    monkeypatch.setenv("AIRFLOW_CONN_EVICTION_PREVENTION_ALERTS_SMTP", json.dumps(conn))
    try:
        yield server.messages
    finally:
        server.shutdown()
        server.server_close()


def assert_no_personal_data(raw: bytes | str) -> None:
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    leaked = [value for value in PERSONAL if value in text]
    assert leaked == [], f"personal data in alert: {leaked}"


def parsed(message: dict) -> email.message.EmailMessage:
    return email.message_from_bytes(message["data"], policy=email.policy.default)


def body_text(message: email.message.EmailMessage) -> str:
    """The alert's text from the mail's HTML part (``<pre>`` with escaped text)."""
    part = message.get_body(preferencelist=("html", "plain"))
    return html.unescape(re.sub(r"<[^>]+>", "", part.get_content()))


# ------------------------------------------------------------------------------------------------- tests


def test_task_failure_goes_to_webhook_and_email_without_the_exception_message(webhook, mailbox) -> None:
    ti = SimpleNamespace(
        dag_id="partner_intake",
        task_id="load",
        run_id="scheduled__2026-11-02T06:00:00+00:00",
        map_index=2,
        try_number=1,
        log_url="http://127.0.0.1:8080/dags/partner_intake/runs/x/tasks/load?map_index=2",
    )
    alerts.on_task_failure({"ti": ti, "exception": FAILURE})

    assert len(webhook) == 1
    hook = webhook[0]
    assert hook["path"] == "/hooks/ops"
    assert hook["headers"]["Authorization"] == f"Bearer {TOKEN}"
    payload = json.loads(hook["body"])
    assert payload["kind"] == "task_failure"
    assert payload["title"] == "Task failed: partner_intake.load"
    assert payload["facts"] == {
        "dag_id": "partner_intake",
        "task_id": "load",
        "run_id": "scheduled__2026-11-02T06:00:00+00:00",
        "map_index": "2",
        "try_number": "1",
        "error": "ValueError",
        "log": "http://127.0.0.1:8080/dags/partner_intake/runs/x/tasks/load?map_index=2",
    }
    assert payload["text"].startswith("Task failed: partner_intake.load\n\ndag_id: partner_intake\n")
    assert_no_personal_data(hook["body"])

    assert len(mailbox) == 1
    message = parsed(mailbox[0])
    assert mailbox[0]["rcpt"] == ["beheer@drechtsteden.example"]
    assert message["Subject"] == "[eviction-prevention] Task failed: partner_intake.load"
    assert message["From"] == "airflow@drechtsteden.example"
    body = body_text(message)
    assert body.startswith("Task failed: partner_intake.load\n\ndag_id: partner_intake\n")
    assert "task_id: load" in body and "error: ValueError" in body
    assert_no_personal_data(mailbox[0]["data"])


def materialise_delivery_compliance(url: str) -> None:
    """The mart as a publish run would leave it, without the rest of the run (its SQL over the warehouse's own
    tables)."""
    select = models.plain_sql("mart_delivery_compliance")
    with warehouse.connect(url) as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS mart_delivery_compliance"))
        conn.execute(sa.text(f"CREATE TABLE mart_delivery_compliance AS {select}"))


def test_missed_delivery_window_alerts_once(warehouse_url, webhook, mailbox) -> None:
    # trivire delivers monthly from May 2026, at the latest 10 days after the month; nothing arrived by 1 August.
    delivery_windows.check_delivery_windows(get_partner("trivire"), warehouse_url, on=dt.date(2026, 8, 1))
    materialise_delivery_compliance(warehouse_url)

    counts = alerts.alert_missed_deliveries(warehouse_url)

    assert counts == {"missed": 2, "new": 2, "alerted": 2}
    facts = [json.loads(h["body"])["facts"] for h in webhook]
    assert facts == [
        {
            "partner": "trivire",
            "kind": "corporation",
            "period_start": "2026-05-01",
            "period_end": "2026-05-31",
            "due_date": "2026-06-10",
            "days_late": "52",
        },
        {
            "partner": "trivire",
            "kind": "corporation",
            "period_start": "2026-06-01",
            "period_end": "2026-06-30",
            "due_date": "2026-07-10",
            "days_late": "22",
        },
    ]
    assert [parsed(m)["Subject"] for m in mailbox] == [
        "[eviction-prevention] Partner trivire missed its delivery window (2026-05-01 - 2026-05-31)",
        "[eviction-prevention] Partner trivire missed its delivery window (2026-06-01 - 2026-06-30)",
    ]

    # The next run (hourly) does not repeat them.
    assert alerts.alert_missed_deliveries(warehouse_url) == {"missed": 2, "new": 0, "alerted": 0}
    assert len(webhook) == 2 and len(mailbox) == 2


def test_an_alert_no_channel_accepted_is_retried(duckdb_url, monkeypatch, webhook) -> None:
    delivery_windows.check_delivery_windows(get_partner("trivire"), duckdb_url, on=dt.date(2026, 7, 5))
    materialise_delivery_compliance(duckdb_url)
    dead = {"conn_type": "http", "host": f"http://127.0.0.1:{free_port()}/hooks/ops"}
    with monkeypatch.context() as m:
        m.setenv("AIRFLOW_CONN_EVICTION_PREVENTION_ALERTS_WEBHOOK", json.dumps(dead))  # refused; no SMTP defined
        assert alerts.alert_missed_deliveries(duckdb_url) == {"missed": 1, "new": 1, "alerted": 0}
    assert alerts.alert_missed_deliveries(duckdb_url) == {"missed": 1, "new": 1, "alerted": 1}
    assert [json.loads(h["body"])["facts"]["period_start"] for h in webhook] == ["2026-05-01"]


def test_deadline_callback_reports_the_run(webhook, mailbox) -> None:
    context = {
        "dag_run": {
            "dag_id": "partner_intake",
            "run_id": "scheduled__2026-11-02T06:00:00+00:00",
            "queued_at": "2026-11-02T06:00:01+00:00",
            "conf": {"note": "Jansen"},
        },
        "deadline": {"id": "0193", "deadline_time": "2026-11-02T06:45:01+00:00"},
    }
    asyncio.run(alerts.on_deadline_missed(context))

    payload = json.loads(webhook[0]["body"])
    assert payload["kind"] == "deadline_missed"
    assert payload["facts"] == {
        "dag_id": "partner_intake",
        "run_id": "scheduled__2026-11-02T06:00:00+00:00",
        "queued_at": "2026-11-02T06:00:01+00:00",
        "deadline": "2026-11-02T06:45:01+00:00",
    }
    assert parsed(mailbox[0])["Subject"] == "[eviction-prevention] DAG run past its deadline: partner_intake"
    assert_no_personal_data(webhook[0]["body"])


def test_config_is_checked() -> None:
    with pytest.raises(ValueError, match="unknown channels"):
        alerts.parse_config({"channels": {}, "routes": {"task_failure": ["pager"]}})
    with pytest.raises(ValueError, match="unknown type"):
        alerts.parse_config({"channels": {"x": {"type": "sms", "conn_id": "c"}}})
    config = alerts.load_config()
    assert [c.type for c in config.channels_for("delivery_missed")] == ["webhook", "email"]
    assert config.deadlines == {"partner_intake": 45, "publish_referrals": 60, "retention": 60}


def test_dags_carry_failure_callbacks_and_deadlines() -> None:
    from airflow.dag_processing.dagbag import DagBag

    dags_dir = Path(__file__).resolve().parents[1] / "dags"
    sys.path.insert(0, str(dags_dir))
    try:
        bag = DagBag(dag_folder=str(dags_dir))
    finally:
        sys.path.remove(str(dags_dir))
    assert bag.import_errors == {}
    retention = bag.dags["retention"]
    assert [d.interval for d in retention.deadline] == [dt.timedelta(minutes=60)]
    assert retention.deadline[0].callback.path == "eviction_prevention.operate.alerts.on_deadline_missed"
    for dag_id in ("publish_referrals", "retention"):
        for t in bag.dags[dag_id].tasks:  # a mapped task keeps the callback as given, a plain one as a list
            callbacks = t.on_failure_callback if isinstance(t.on_failure_callback, list) else [t.on_failure_callback]
            assert callbacks == [alerts.on_task_failure], t.task_id
    assert bag.dags["retention"].schedule == "30 2 * * *"  # daily; publishing stays on Asset updates
    assert sorted(t.task_id for t in bag.dags["publish_referrals"].tasks) == [
        "alert_missed_deliveries",
        "build_intermediate",
        "build_marts",
        "feedback_partners",
        "link",
        "prepare",
        "publish",
        "send_feedback",
        "write_dashboard",
        "write_dbt_docs",
    ]
