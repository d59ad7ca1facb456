"""A small client of Airflow 3's public REST API (``/api/v2``) for operating the pipeline from outside:
unpause and trigger DAGs, list their runs and task instances. Logs in with a user of the auth manager
(``POST /auth/token``, a JWT) and logs in again when the token expires."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

FINISHED = {"success", "failed"}


@dataclass
class AirflowAPI:
    base_url: str
    username: str
    password: str = field(repr=False)
    timeout: float = 30.0
    _token: str = field(default="", repr=False)

    def _login(self) -> None:
        response = httpx.post(f"{self.base_url}/auth/token", timeout=self.timeout,
                              json={"username": self.username, "password": self.password})  # fmt: skip
        response.raise_for_status()
        self._token = response.json()["access_token"]

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        for attempt in (1, 2):
            if not self._token:
                self._login()
            response = httpx.request(method, f"{self.base_url}/api/v2{path}", timeout=self.timeout,
                                     headers={"Authorization": f"Bearer {self._token}"}, **kwargs)  # fmt: skip
            if response.status_code == 401 and attempt == 1:
                self._token = ""
                continue
            response.raise_for_status()
            return response.json() if response.content else None
        raise AssertionError("unreachable")

    def dag_ids(self) -> list[str]:
        return sorted(d["dag_id"] for d in self.request("GET", "/dags", params={"limit": 100})["dags"])

    def unpause(self, dag_id: str) -> None:
        self.request("PATCH", f"/dags/{dag_id}", json={"is_paused": False})

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        run = self.request("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}})
        return run["dag_run_id"]

    def runs(self, dag_id: str) -> list[dict[str, Any]]:
        """The DAG's newest 100 runs, newest first."""
        return self.request("GET", f"/dags/{dag_id}/dagRuns", params={"limit": 100, "order_by": "-run_after"})[
            "dag_runs"
        ]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        return self.request("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 1000})[
            "task_instances"
        ]
