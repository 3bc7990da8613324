"""A local stand-in for the Databricks Jobs API (runs/submit, runs/get, runs/get-output, runs/cancel).

Serves HTTP on 127.0.0.1 from a thread, checks the bearer token, refuses a ``runs/submit`` body the real API
would refuse (:func:`submit_problem`), records every request, and walks each submitted run through
PENDING → RUNNING → TERMINATED with the scripted result state.
"""
from __future__ import annotations

import itertools
import json
import re
import threading
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

#: The Jobs API versions the stub answers (provider releases moved from 2.1 to 2.2).
_JOBS_PATH = re.compile(r"^/api/(?P<version>2\.[12])/jobs/(?P<call>runs/submit|runs/get|runs/get-output|runs/cancel)$")
#: Life cycle states a run reports before its terminal one, one per ``runs/get`` call.
LIFE_CYCLE = ("PENDING", "RUNNING")
#: Top-level fields of ``runs/submit`` (Jobs API 2.1 / 2.2), with the single-task fields the API still takes.
SUBMIT_FIELDS = frozenset({
    "run_name", "tasks", "timeout_seconds", "idempotency_token", "git_source", "access_control_list",
    "email_notifications", "webhook_notifications", "notification_settings", "health", "environments",
    "budget_policy_id", "queue", "run_as", "libraries",
    "existing_cluster_id", "new_cluster", "notebook_task", "spark_jar_task", "spark_python_task",
    "spark_submit_task", "pipeline_task", "python_wheel_task", "dbt_task", "sql_task",
})
TASK_TYPES = ("notebook_task", "spark_jar_task", "spark_python_task", "spark_submit_task", "pipeline_task",
              "python_wheel_task", "dbt_task", "sql_task")
NOTEBOOK_TASK_FIELDS = frozenset({"notebook_path", "base_parameters", "source", "warehouse_id"})


def submit_problem(payload: Any) -> str | None:
    """Why the real API would refuse this ``runs/submit`` body (unknown or missing fields, wrong types), or None."""
    if not isinstance(payload, dict):
        return "the request body must be a JSON object"
    unknown = sorted(set(payload) - SUBMIT_FIELDS)
    if unknown:
        return f"Unknown field '{unknown[0]}'"
    task_types = [name for name in TASK_TYPES if name in payload]
    if not payload.get("tasks") and len(task_types) != 1:
        return "exactly one task (tasks, or one of the single-task fields) is required"
    if task_types and not ({"existing_cluster_id", "new_cluster"} & set(payload)):
        return "a single-task run needs existing_cluster_id or new_cluster"
    notebook = payload.get("notebook_task")
    if notebook is not None:
        if not isinstance(notebook, dict) or set(notebook) - NOTEBOOK_TASK_FIELDS:
            return "notebook_task has unknown fields"
        if not isinstance(notebook.get("notebook_path"), str) or not notebook["notebook_path"]:
            return "notebook_task.notebook_path is required"
        parameters = notebook.get("base_parameters", {})
        if not isinstance(parameters, dict) or not all(isinstance(v, str) for v in parameters.values()):
            return "notebook_task.base_parameters must map names to strings"
    timeout = payload.get("timeout_seconds")
    if timeout is not None and not str(timeout).isdigit():  # int32, given as a number or a numeric string
        return "timeout_seconds must be a non-negative integer"
    return None


@dataclass
class RecordedRequest:
    """One request the stub answered."""

    method: str
    path: str
    query: dict[str, str]
    body: Any


@dataclass
class _Run:
    run_id: int
    payload: dict[str, Any]
    polls: int = 0
    task_run_id: int = 0


@dataclass
class DatabricksJobsStub:
    """The stub's state: scripted outcome, recorded requests and submitted runs."""

    token: str = "dapi-stub-token"
    result_state: str = "SUCCESS"
    error_message: str = "notebook raised an exception"
    requests: list[RecordedRequest] = field(default_factory=list)
    runs: dict[int, _Run] = field(default_factory=dict)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1001))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("stub not started")
        return self._server.server_address[1]

    @property
    def submissions(self) -> list[RecordedRequest]:
        """The ``runs/submit`` requests, in order."""
        return [r for r in self.requests if r.path.endswith("/jobs/runs/submit")]

    def connection_json(self) -> str:
        """Value for ``AIRFLOW_CONN_DATABRICKS_DEFAULT`` pointing Airflow at this stub."""
        return json.dumps({"conn_type": "databricks", "host": "127.0.0.1", "port": self.port,
                           "schema": "http", "password": self.token})

    def start(self) -> DatabricksJobsStub:
        """Listen on a free port of 127.0.0.1 in a daemon thread."""
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        threading.Thread(target=self._server.serve_forever, name="databricks-stub", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> DatabricksJobsStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # The Jobs API calls -------------------------------------------------------------------------
    def submit(self, payload: dict[str, Any]) -> tuple[HTTPStatus, dict[str, Any]]:
        problem = submit_problem(payload)
        if problem is not None:
            return HTTPStatus.BAD_REQUEST, _error("INVALID_PARAMETER_VALUE", problem)
        with self._lock:
            run_id = next(self._ids)
            self.runs[run_id] = _Run(run_id, payload, task_run_id=next(self._ids))
        return HTTPStatus.OK, {"run_id": run_id}

    def get(self, run_id: int) -> tuple[HTTPStatus, dict[str, Any]]:
        with self._lock:
            run = self.runs.get(run_id)
            if run is None:
                return HTTPStatus.BAD_REQUEST, _error("INVALID_PARAMETER_VALUE", f"Run {run_id} does not exist.")
            state = self._state(run.polls)
            run.polls += 1
        task_key = "notebook"
        return HTTPStatus.OK, {
            "run_id": run.run_id,
            "run_name": run.payload.get("run_name"),
            "run_page_url": f"http://127.0.0.1:{self.port}/#job/runs/{run.run_id}",
            "state": state,
            "tasks": [{"run_id": run.task_run_id, "task_key": task_key, "state": state}],
        }

    def get_output(self, task_run_id: int) -> tuple[HTTPStatus, dict[str, Any]]:
        if self.result_state == "SUCCESS":
            return HTTPStatus.OK, {"metadata": {"run_id": task_run_id}}
        return HTTPStatus.OK, {"metadata": {"run_id": task_run_id}, "error": self.error_message}

    def _state(self, polls: int) -> dict[str, str]:
        if polls < len(LIFE_CYCLE):
            return {"life_cycle_state": LIFE_CYCLE[polls], "state_message": ""}
        message = "" if self.result_state == "SUCCESS" else self.error_message
        return {"life_cycle_state": "TERMINATED", "result_state": self.result_state, "state_message": message}

    def answer(self, method: str, path: str, query: dict[str, str], body: Any,
               authorization: str | None) -> tuple[HTTPStatus, dict[str, Any]]:
        """Route one request; records it first."""
        self.requests.append(RecordedRequest(method, path, query, body))
        if authorization != f"Bearer {self.token}":
            return HTTPStatus.UNAUTHORIZED, _error("UNAUTHENTICATED", "Invalid access token.")
        match = _JOBS_PATH.match(path)
        if not match:
            return HTTPStatus.NOT_FOUND, _error("ENDPOINT_NOT_FOUND", f"No API found for '{method} {path}'")
        call = match["call"]
        expected_method = "GET" if call in ("runs/get", "runs/get-output") else "POST"
        if method != expected_method:
            return HTTPStatus.METHOD_NOT_ALLOWED, _error("BAD_REQUEST", f"{call} takes {expected_method}")
        if call == "runs/submit":
            return self.submit(body)
        if call == "runs/cancel":
            return HTTPStatus.OK, {}
        run_id = query.get("run_id", "")
        if not run_id.isdigit():
            return HTTPStatus.BAD_REQUEST, _error("INVALID_PARAMETER_VALUE", "run_id must be a number")
        return self.get(int(run_id)) if call == "runs/get" else self.get_output(int(run_id))


def _error(code: str, message: str) -> dict[str, str]:
    return {"error_code": code, "message": message}


def _handler_for(stub: DatabricksJobsStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            url = urlsplit(self.path)
            query = {key: values[-1] for key, values in parse_qs(url.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except json.JSONDecodeError:
                status, answer = HTTPStatus.BAD_REQUEST, _error("MALFORMED_REQUEST", "body is not JSON")
            else:
                status, answer = stub.answer(self.command, url.path, query, body,
                                             self.headers.get("Authorization"))
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _serve

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            return

    return Handler

