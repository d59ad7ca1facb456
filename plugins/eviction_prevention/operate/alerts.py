"""Alerts to e-mail or a webhook: failed tasks, DAG runs past their deadline, missed partner deliveries.

Configuration is data (``config/alerts.yaml``): channels name an Airflow connection (address and
credentials live there), routes send each alert kind to channels, deadlines give each DAG its time budget.

An alert carries identifiers only (DAG, task, run, partner, period, exception class). Never an exception's
message, never a data value: a message may quote a delivered cell, and alerts leave the pipeline's
privacy boundary (mailboxes, chat channels).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from eviction_prevention import dutch_time, settings

log = logging.getLogger(__name__)

CONFIG_FILE = settings.CONFIG_DIR / "alerts.yaml"
KINDS = ("task_failure", "deadline_missed", "delivery_missed")
TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class Channel:
    name: str
    type: str  # webhook | email
    conn_id: str


@dataclass(frozen=True)
class AlertConfig:
    channels: dict[str, Channel]
    routes: dict[str, tuple[str, ...]]
    deadlines: dict[str, int] = field(default_factory=dict)  # dag_id -> minutes

    def channels_for(self, kind: str) -> list[Channel]:
        return [self.channels[name] for name in self.routes.get(kind, ())]


@dataclass(frozen=True)
class Alert:
    kind: str
    title: str
    facts: dict[str, str]

    def text(self) -> str:
        return "\n".join([self.title, "", *(f"{k}: {v}" for k, v in self.facts.items())])

    def payload(self) -> dict[str, Any]:
        return {"text": self.text(), "kind": self.kind, "title": self.title, "facts": self.facts}


# ------------------------------------------------------------------------------------------------- configuration


def parse_config(raw: Mapping[str, Any]) -> AlertConfig:
    channels = {}
    for name, spec in (raw.get("channels") or {}).items():
        if spec.get("type") not in ("webhook", "email"):
            raise ValueError(f"alerts: channel {name} has unknown type {spec.get('type')!r}")
        channels[name] = Channel(name, spec["type"], spec["conn_id"])
    routes = {}
    for kind, names in (raw.get("routes") or {}).items():
        if kind not in KINDS:
            raise ValueError(f"alerts: unknown alert kind {kind!r}")
        unknown = [n for n in names if n not in channels]
        if unknown:
            raise ValueError(f"alerts: route {kind} names unknown channels {unknown}")
        routes[kind] = tuple(names)
    deadlines = {dag_id: int(minutes) for dag_id, minutes in (raw.get("deadlines") or {}).items()}
    return AlertConfig(channels, routes, deadlines)


@lru_cache(maxsize=4)
def load_config(path: Path = CONFIG_FILE) -> AlertConfig:
    return parse_config(settings.read_yaml(path))


# ------------------------------------------------------------------------------------------------- sending


def send_webhook(conn: Any, alert: Alert) -> None:
    """POST the alert as JSON through the HTTP provider's notifier; a non-2xx answer raises.

    The connection's host is the webhook's whole URL (``https://hooks.example/services/...``); its password,
    when set, is sent as ``Authorization: Bearer <password>``."""
    from airflow.providers.http.notifications.http import HttpNotifier

    headers = {"Content-Type": "application/json"}
    if conn.password:
        headers["Authorization"] = f"Bearer {conn.password}"
    notifier = HttpNotifier(
        http_conn_id=conn.conn_id,
        json=alert.payload(),
        headers=headers,
        extra_options={"timeout": TIMEOUT_SECONDS},
    )
    notifier.notify({})


def recipients(conn: Any) -> list[str]:
    """The addresses in the e-mail connection's extra ``to`` (a list, or one comma-separated string)."""
    listed = (conn.extra_dejson or {}).get("to") or []
    if isinstance(listed, str):
        listed = [r.strip() for r in listed.split(",") if r.strip()]
    if not listed:
        raise ValueError(f"e-mail alert connection {conn.conn_id}: extra 'to' names no recipients")
    return list(listed)


def email_html(alert: Alert) -> str:
    """The alert's text as the body of an HTML mail (escaped, preformatted)."""
    return f"<pre>{html.escape(alert.text())}</pre>"


def send_email(conn: Any, alert: Alert) -> None:
    """Mail the alert through the SMTP provider's notifier (server, TLS and login from the connection)."""
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    notifier = SmtpNotifier(
        to=recipients(conn),
        from_email=(conn.extra_dejson or {}).get("from_email") or conn.login or "eviction-prevention@localhost",
        subject=f"[eviction-prevention] {alert.title}",
        html_content=email_html(alert),
        smtp_conn_id=conn.conn_id,
    )
    notifier.notify({})


SENDERS: dict[str, Callable[[Any, Alert], None]] = {"webhook": send_webhook, "email": send_email}


def airflow_connection(conn_id: str) -> Any | None:
    """The Airflow connection, or None when it is not defined (the channel is then skipped)."""
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return Connection.get(conn_id)
    except AirflowNotFoundException:
        return None


def deliver(
    alert: Alert,
    config: AlertConfig | None = None,
    connection: Callable[[str], Any | None] = airflow_connection,
) -> list[str]:
    """Send to every channel routed for the alert's kind; returns the channels that accepted it.

    A channel that fails is logged (its error class only) and skipped: one broken channel never hides
    the alert from the others, and an alert never fails the task that raised it."""
    config = config or load_config()
    accepted = []
    for channel in config.channels_for(alert.kind):
        conn = connection(channel.conn_id)
        if conn is None:
            log.warning("alert channel %s skipped: connection %s is not defined", channel.name, channel.conn_id)
            continue
        try:
            SENDERS[channel.type](conn, alert)
        except Exception as exc:
            log.error("alert channel %s failed: %s", channel.name, exc.__class__.__name__)
            continue
        accepted.append(channel.name)
    log.info("alert %s sent to %s", alert.kind, accepted or "no channel")
    return accepted


# ------------------------------------------------------------------------------------------------- alert kinds


def _attr(obj: Any, name: str) -> str:
    value = obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)
    return "" if value is None else str(value)


def task_failure_alert(context: Mapping[str, Any]) -> Alert:
    """From an Airflow task context: identifiers and the exception's class, not its message."""
    ti = context.get("ti") or context.get("task_instance")
    exception = context.get("exception")
    facts = {name: _attr(ti, name) for name in ("dag_id", "task_id", "run_id", "map_index", "try_number")}
    facts["error"] = type(exception).__name__ if exception is not None else "unknown"
    facts["log"] = _attr(ti, "log_url")
    return Alert("task_failure", f"Task failed: {facts['dag_id']}.{facts['task_id']}", facts)


def on_task_failure(context: Mapping[str, Any]) -> None:
    """``on_failure_callback`` for tasks (called after the last retry)."""
    try:
        deliver(task_failure_alert(context))
    except Exception as exc:  # a callback must never raise
        log.error("task failure alert not sent: %s", exc.__class__.__name__)


def deadline_alert(context: Mapping[str, Any]) -> Alert:
    run = context.get("dag_run") or {}
    deadline = context.get("deadline") or {}
    facts = {
        "dag_id": _attr(run, "dag_id"),
        "run_id": _attr(run, "run_id"),
        "queued_at": _attr(run, "queued_at"),
        "deadline": _attr(deadline, "deadline_time"),
    }
    return Alert("deadline_missed", f"DAG run past its deadline: {facts['dag_id']}", facts)


async def on_deadline_missed(context: Mapping[str, Any], **_: Any) -> None:
    """DeadlineAlert callback (runs in the triggerer): connections are fetched asynchronously first."""
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    alert = deadline_alert(context)
    config = load_config()
    connections: dict[str, Any] = {}
    for channel in config.channels_for(alert.kind):
        try:
            connections[channel.conn_id] = await Connection.async_get(channel.conn_id)
        except AirflowNotFoundException:
            connections[channel.conn_id] = None
    await asyncio.to_thread(deliver, alert, config, connections.get)


DEADLINES_SWITCH = "EVICTION_PREVENTION_DAG_DEADLINES"


def dag_deadline(dag_id: str, config: AlertConfig | None = None) -> Any | None:
    """A ``DeadlineAlert`` for the DAG (minutes after its run was queued), or None when none is configured."""
    from airflow.sdk import AsyncCallback, DeadlineAlert, DeadlineReference

    if os.environ.get(DEADLINES_SWITCH, "on").lower() == "off":
        return None  # `airflow dags test` in Airflow 3.3.2 cannot run a DAG with deadlines (see airflow_env)
    minutes = (config or load_config()).deadlines.get(dag_id)
    if not minutes:
        return None
    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=dt.timedelta(minutes=minutes),
        callback=AsyncCallback(on_deadline_missed),
    )


def delivery_alert(row: Mapping[str, Any]) -> Alert:
    facts = {k: str(row[k]) for k in ("partner", "kind", "period_start", "period_end", "due_date", "days_late")}
    return Alert(
        "delivery_missed",
        f"Partner {facts['partner']} missed its delivery window ({facts['period_start']} - {facts['period_end']})",
        facts,
    )


def delivery_alert_key(row: Mapping[str, Any]) -> str:
    return f"delivery_missed:{row['partner']}:{row['period_start']}"


MISSED_DELIVERIES = (
    "SELECT partner, kind, period_start, period_end, due_date, days_late FROM mart_delivery_compliance "
    "WHERE status = 'missed' ORDER BY partner, period_start"
)


def alert_missed_deliveries(
    url: str | None = None,
    config: AlertConfig | None = None,
    connection: Callable[[str], Any | None] = airflow_connection,
) -> dict[str, int]:
    """Alert once for every missed delivery window in ``mart_delivery_compliance``.

    An alert that no channel accepted is tried again on the next run."""
    import sqlalchemy as sa  # here, not at the top: DAG files import this module and must parse fast

    from eviction_prevention import warehouse

    with warehouse.connect(url) as conn:
        warehouse.ensure_schema(conn)
        missed = warehouse.read_frame(conn, MISSED_DELIVERIES).to_dict("records")
        sent = {r[0] for r in conn.execute(sa.text("SELECT alert_key FROM meta_alerts_sent"))}
    new = [row for row in missed if delivery_alert_key(row) not in sent]
    alerted = 0
    for row in new:
        accepted = deliver(delivery_alert(row), config, connection)
        if not accepted:
            continue
        with warehouse.connect(url) as conn:
            conn.execute(
                sa.text("INSERT INTO meta_alerts_sent (alert_key, kind, sent_at, channels) VALUES (:k, :t, :s, :c)"),
                {
                    "k": delivery_alert_key(row),
                    "t": "delivery_missed",
                    "s": dutch_time.utcnow(),
                    "c": ",".join(accepted),
                },
            )
        alerted += 1
    counts = {"missed": len(missed), "new": len(new), "alerted": alerted}
    log.info("missed delivery windows: %(missed)d, new: %(new)d, alerted: %(alerted)d", counts)
    return counts
