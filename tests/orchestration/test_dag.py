"""The Airflow DAG ``124a514b9149_dag``: its settings, its parse through Airflow's DagBag, and real runs.

Airflow is driven in child processes (its own ``AIRFLOW_HOME`` with a SQLite database per test), so it
never configures itself inside the pytest process: DagBag facts and DAG runs (``dag.test()``, the engine
of ``airflow dags test``) come from small scripts. MWAA mode talks to a local Databricks Jobs API stub;
local mode runs the real batch job on local Spark.
"""
from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from pinterest_pipeline.config import load_settings
from pinterest_pipeline.contract import DEFAULT_PREFIX, KINDS, SOURCE_TABLE_BY_KIND
from pinterest_pipeline.orchestration import dag as orchestration
from tests.support import REPO_ROOT
from tests.support.databricks_stub import DatabricksJobsStub, submit_problem

RUN_DATE = "2024-08-26T00:00:00+00:00"
DAG_ID = "124a514b9149_dag"
#: The Jobs API ``notebook_task`` of the default settings, written out (CONVENTIONS §7 and the settings' defaults).
DEFAULT_NOTEBOOK_TASK = {
    "notebook_path": "/Workspace/Shared/pinterest-data-pipeline/databricks_s3_to_databricks",
    "base_parameters": {"lake_root": "s3://user-124a514b9149-bucket", "prefix": "124a514b9149",
                        "catalog": "", "schema": "", "logical_date": "{{ ds }}"},
}
#: What the run of :data:`RUN_DATE` submits: the logical date rendered.
SUBMITTED_NOTEBOOK_TASK = {**DEFAULT_NOTEBOOK_TASK,
                           "base_parameters": {**DEFAULT_NOTEBOOK_TASK["base_parameters"], "logical_date": "2024-08-26"}}
#: What a single Airflow child process may take at most (a local Spark batch run included).
RUN_TIMEOUT = 900

#: Printed as JSON by a child Python process: facts of the DagBag parsed from the repository root.
DAGBAG_FACTS = """
import json, sys, time
started = time.perf_counter()
from airflow.dag_processing.dagbag import DagBag
imported = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1])
parsed = time.perf_counter()
facts = {"dag_ids": sorted(bag.dag_ids), "import_errors": {str(k): v for k, v in bag.import_errors.items()},
         "import_seconds": imported - started, "parse_seconds": parsed - imported}
dag = bag.dags.get(sys.argv[2])
if dag is not None:
    args = dict(dag.default_args)
    args["retry_delay"] = args["retry_delay"].total_seconds()
    facts["dag"] = {"schedule": dag.schedule, "catchup": dag.catchup, "max_active_runs": dag.max_active_runs,
                    "start_date": dag.start_date.isoformat(),
                    "default_args": args, "tags": sorted(dag.tags), "task_ids": dag.task_ids}
    facts["tasks"] = {
        task.task_id: {"class": f"{type(task).__module__}.{type(task).__name__}",
                       **{name: getattr(task, name) for name in sys.argv[3].split(",") if hasattr(task, name)}}
        for task in dag.tasks}
print("FACTS " + json.dumps(facts, default=str))
"""

#: Runs the DAG once in a child process through ``dag.test()`` (what ``airflow dags test`` calls) with
#: retries off, so a failing run fails in seconds instead of after two 2-minute retry delays.
RUN_ONCE = """
import json, sys
from datetime import datetime
from airflow.dag_processing.dagbag import DagBag
dag = DagBag(dag_folder=sys.argv[1]).dags[sys.argv[2]]
for task in dag.tasks:
    task.retries = 0
run = dag.test(logical_date=datetime.fromisoformat(sys.argv[3]))
print("OUTCOME " + json.dumps({"state": str(run.state),
                               "tasks": {ti.task_id: str(ti.state) for ti in run.get_task_instances()}}))
"""

#: Operator attributes reported for each task.
TASK_ATTRIBUTES = ("databricks_conn_id", "existing_cluster_id", "notebook_task", "polling_period_seconds",
                   "bash_command", "cwd", "env")


# --- settings: plain functions, no Airflow needed ---------------------------------------------------

def test_settings_default_to_the_original_dag():
    settings = load_settings(environ={})
    assert settings.dag_mode == "mwaa"
    assert settings.databricks_conn_id == "databricks_default"
    assert settings.databricks_cluster_id == "1108-162752-8okw8dgg"
    assert settings.notebook_path.endswith("/databricks_s3_to_databricks")
    assert settings.polling_period_seconds == 30
    assert settings.prefix == "124a514b9149"
    assert orchestration.notebook_task(settings) == DEFAULT_NOTEBOOK_TASK


def test_airflow_variables_win_over_plain_environment_and_defaults():
    environ = {
        "AIRFLOW_VAR_PINTEREST_DATABRICKS_CLUSTER_ID": "0101-000000-varvar",
        "PINTEREST_DATABRICKS_CLUSTER_ID": "0101-000000-plainenv",
        "PINTEREST_NOTEBOOK_PATH": "/Workspace/Users/someone/batch",
        "AIRFLOW_VAR_PINTEREST_DAG_MODE": " Local ",
        "AIRFLOW_VAR_PINTEREST_PYTHON": "/opt/py/bin/python",
        "PINTEREST_POLLING_PERIOD_SECONDS": "",
    }
    settings = load_settings(environ=environ)
    assert settings.databricks_cluster_id == "0101-000000-varvar"
    assert settings.notebook_path == "/Workspace/Users/someone/batch"
    assert settings.dag_mode == "local"
    assert settings.python == "/opt/py/bin/python"
    assert settings.polling_period_seconds == 30  # an empty value counts as unset


@pytest.mark.parametrize(("name", "value", "message"), [
    ("PINTEREST_DAG_MODE", "cloud", "PINTEREST_DAG_MODE must be one of mwaa, local"),
    ("PINTEREST_POLLING_PERIOD_SECONDS", "fast", "PINTEREST_POLLING_PERIOD_SECONDS must be a whole number"),
    ("PINTEREST_POLLING_PERIOD_SECONDS", "0", "PINTEREST_POLLING_PERIOD_SECONDS must be at least 1"),
])
def test_bad_settings_are_rejected_with_the_setting_named(name: str, value: str, message: str):
    with pytest.raises(ValueError, match=message):
        load_settings(environ={name: value})


def test_local_command_runs_the_batch_cli_with_the_configured_interpreter(tmp_path: Path):
    environ = {"PINTEREST_PYTHON": "/usr/bin/python3", "PINTEREST_LAKE_ROOT": str(tmp_path / "lake"),
               "PINTEREST_WAREHOUSE": str(tmp_path / "wh"), "PINTEREST_REPORT": str(tmp_path / "r.md"),
               "PINTEREST_PREFIX": "abc"}
    command = orchestration.local_batch_command(load_settings(environ=environ), tmp_path)
    assert command == ["/usr/bin/python3", "-m", "pinterest_pipeline.batch", "--lake-root", str(tmp_path / "lake"),
                       "--prefix", "abc", "--warehouse", str(tmp_path / "wh"), "--report", str(tmp_path / "r.md"),
                       "--logical-date", "{{ ds }}"]
    on_cluster = load_settings(environ={**environ, "AIRFLOW_VAR_PINTEREST_SPARK_MASTER": "spark://10.0.0.5:7077"})
    assert orchestration.local_batch_command(on_cluster, tmp_path) == [*command, "--master", "spark://10.0.0.5:7077"]


@pytest.mark.parametrize(("change", "problem"), [
    ({"notebook_task": {"notebook_path": "/x", "base_parameters": {"lake_root": 3}}}, "map names to strings"),
    ({"notebook_task": {"path": "/x"}}, "unknown fields"),
    ({"existing_cluster_id": None, "new_cluster": None}, "needs existing_cluster_id"),
    ({"timeout": 60}, "Unknown field 'timeout'"),
    ({"timeout_seconds": "soon"}, "timeout_seconds"),
])
def test_the_jobs_api_stub_refuses_what_the_api_refuses(change: dict, problem: str):
    good = {"run_name": "r", "existing_cluster_id": "c", "timeout_seconds": "60",
            "notebook_task": DEFAULT_NOTEBOOK_TASK}
    assert submit_problem(good) is None
    bad = {k: v for k, v in {**good, **change}.items() if v is not None}
    assert problem in (submit_problem(bad) or "")


def test_default_python_prefers_the_repository_venv(tmp_path: Path):
    assert orchestration.default_python(tmp_path) == sys.executable
    venv_python = tmp_path / ".venv" / "bin" / "python"
    venv_python.parent.mkdir(parents=True)
    venv_python.touch()
    assert orchestration.default_python(tmp_path) == str(venv_python)


# --- Airflow in child processes ---------------------------------------------------------------------

@pytest.fixture(scope="session")
def airflow_python() -> str:
    """The interpreter that has Airflow and the Databricks provider (the project's, with the airflow extra)."""
    try:  # looked up without importing: Airflow configures itself on import
        for distribution in ("apache-airflow", "apache-airflow-providers-databricks"):
            importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:  # a skip, which fails the run under CI (tests/support/run_rules.py)
        pytest.skip("Airflow is not installed: run `.venv/bin/uv pip install -e '.[airflow]'` (make venv does it)")
    return sys.executable


def airflow_env(home: Path, **extra: str) -> dict[str, str]:
    """A clean environment for an Airflow child: its own home and SQLite DB, the repository as dags folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PINTEREST_"))}
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
    })
    env.update(extra)
    return env


def run_child(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    # Shown by pytest when the test fails: the task log is in there.
    print(result.stdout[-20000:], result.stderr[-20000:], sep="\n----- stderr -----\n")
    return result


def tagged_json(stdout: str, tag: str) -> dict[str, Any]:
    lines = [line for line in stdout.splitlines() if line.startswith(tag + " ")]
    assert lines, f"no {tag} line in the child's output"
    return json.loads(lines[-1][len(tag) + 1:])


@pytest.fixture(scope="session")
def migrated_db(airflow_python: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An Airflow metadata database migrated once; each run test gets a copy."""
    home = tmp_path_factory.mktemp("airflow-template")
    result = run_child([airflow_python, "-m", "airflow", "db", "migrate"], airflow_env(home))
    assert result.returncode == 0, "airflow db migrate failed"
    return home / "airflow.db"


@pytest.fixture
def airflow_home(migrated_db: Path, tmp_path: Path) -> Path:
    home = tmp_path / "airflow"
    home.mkdir()
    shutil.copy(migrated_db, home / "airflow.db")
    return home


def dagbag_facts(airflow_python: str, home: Path, **env: str) -> dict[str, Any]:
    result = run_child([airflow_python, "-c", DAGBAG_FACTS, str(REPO_ROOT), DAG_ID,
                        ",".join(TASK_ATTRIBUTES)], airflow_env(home, **env))
    assert result.returncode == 0
    return tagged_json(result.stdout, "FACTS")


def test_dag_file_parses_with_the_original_schedule_and_task(airflow_python: str, tmp_path: Path):
    facts = dagbag_facts(airflow_python, tmp_path)
    assert facts["import_errors"] == {}
    assert facts["dag_ids"] == [DAG_ID]  # .airflowignore keeps the rest of the repository out
    dag = facts["dag"]
    assert dag["schedule"] == "@daily"
    assert dag["catchup"] is False
    assert dag["max_active_runs"] == 1
    assert dag["start_date"] == "2024-08-25T00:00:00+00:00"
    assert dag["default_args"]["owner"] == "124a514b9149"
    assert dag["default_args"]["retries"] == 2
    assert dag["default_args"]["retry_delay"] == timedelta(minutes=2).total_seconds()
    assert sorted(dag["tags"]) == ["batch", "databricks", "pinterest"]
    assert dag["task_ids"] == ["submit_pintrest_analysis_run"]
    task = facts["tasks"]["submit_pintrest_analysis_run"]
    assert task["class"] == "airflow.providers.databricks.operators.databricks.DatabricksSubmitRunOperator"
    assert task["databricks_conn_id"] == "databricks_default"
    assert task["existing_cluster_id"] == "1108-162752-8okw8dgg"
    assert task["notebook_task"] == DEFAULT_NOTEBOOK_TASK


def test_local_mode_keeps_the_task_id_and_runs_the_batch_cli(airflow_python: str, tmp_path: Path):
    facts = dagbag_facts(airflow_python, tmp_path, PINTEREST_DAG_MODE="local",
                         PINTEREST_LAKE_ROOT=str(tmp_path / "lake"), PINTEREST_PYTHON=sys.executable)
    assert facts["import_errors"] == {}
    assert facts["dag"]["task_ids"] == ["submit_pintrest_analysis_run"]
    task = facts["tasks"]["submit_pintrest_analysis_run"]
    assert task["class"] == "airflow.providers.standard.operators.bash.BashOperator"
    assert task["bash_command"].startswith(f"{sys.executable} -m pinterest_pipeline.batch ")
    assert f"--lake-root {tmp_path / 'lake'}" in task["bash_command"]
    assert task["env"]["PYSPARK_PYTHON"] == sys.executable


def test_a_bad_mode_is_an_import_error_naming_the_setting(airflow_python: str, tmp_path: Path):
    facts = dagbag_facts(airflow_python, tmp_path, AIRFLOW_VAR_PINTEREST_DAG_MODE="kubernetes")
    assert facts["dag_ids"] == []
    [error] = facts["import_errors"].values()
    assert "PINTEREST_DAG_MODE must be one of mwaa, local" in error


def run_dag_once(airflow_python: str, env: dict[str, str]) -> tuple[dict[str, Any], str]:
    """The run's outcome (DAG run and task states) and the child's whole output."""
    result = run_child([airflow_python, "-c", RUN_ONCE, str(REPO_ROOT), DAG_ID, RUN_DATE], env)
    assert result.returncode == 0
    return tagged_json(result.stdout, "OUTCOME"), result.stdout + result.stderr


def stub_env(home: Path, stub: DatabricksJobsStub) -> dict[str, str]:
    return airflow_env(home, AIRFLOW_CONN_DATABRICKS_DEFAULT=stub.connection_json(),
                       AIRFLOW_VAR_PINTEREST_POLLING_PERIOD_SECONDS="1")


def test_mwaa_mode_submits_the_notebook_run_and_succeeds_when_databricks_does(
        airflow_python: str, airflow_home: Path):
    with DatabricksJobsStub(result_state="SUCCESS") as stub:
        outcome, output = run_dag_once(airflow_python, stub_env(airflow_home, stub))
    assert outcome == {"state": "success", "tasks": {"submit_pintrest_analysis_run": "success"}}
    [submission] = stub.submissions
    assert submission.path in ("/api/2.1/jobs/runs/submit", "/api/2.2/jobs/runs/submit")
    assert submission.body == {
        "run_name": "submit_pintrest_analysis_run",
        "existing_cluster_id": "1108-162752-8okw8dgg",
        "notebook_task": SUBMITTED_NOTEBOOK_TASK,
        "timeout_seconds": str(3 * 60 * 60),  # the provider sends numbers as JSON strings, as the API accepts
    }
    [run_id] = stub.runs
    assert stub.runs[run_id].polls >= 3  # waited through PENDING and RUNNING to TERMINATED
    assert "completed successfully" in output
    assert stub.token not in output  # Airflow masks the connection's token in the task log


def test_mwaa_mode_fails_the_task_when_the_databricks_run_fails(airflow_python: str, airflow_home: Path):
    with DatabricksJobsStub(result_state="FAILED", error_message="ZeroDivisionError in cell 7") as stub:
        outcome, output = run_dag_once(airflow_python, stub_env(airflow_home, stub))
    assert outcome == {"state": "failed", "tasks": {"submit_pintrest_analysis_run": "failed"}}
    assert len(stub.submissions) == 1
    assert "ZeroDivisionError in cell 7" in output


@pytest.mark.spark
def test_local_mode_run_writes_the_batch_delta_tables_and_report(airflow_python: str, airflow_home: Path,
                                                                  tmp_path: Path):
    from pinterest_pipeline.batch.insights import INSIGHTS
    from pinterest_pipeline.source.generator import generate_rows
    from tests.support.lake_files import write_lake

    rows = generate_rows(0, 500)
    write_lake(tmp_path / "lake", DEFAULT_PREFIX, {kind: rows[SOURCE_TABLE_BY_KIND[kind]] for kind in KINDS},
               flush_size=50)
    warehouse, report = tmp_path / "warehouse", tmp_path / "out" / "report.md"
    env = airflow_env(airflow_home, PINTEREST_DAG_MODE="local", PINTEREST_PYTHON=sys.executable,
                      PINTEREST_LAKE_ROOT=str(tmp_path / "lake"), PINTEREST_WAREHOUSE=str(warehouse),
                      PINTEREST_REPORT=str(report))
    outcome, output = run_dag_once(airflow_python, env)
    assert outcome["state"] == "success"
    assert "(logical date 2024-08-26)" in output  # the task log names the day the run stands for
    assert "Logical date 2024-08-26" in report.read_text()
    tables = [f"{DEFAULT_PREFIX}_{kind}" for kind in KINDS] + list(INSIGHTS)
    missing = [name for name in tables if not (warehouse / name / "_delta_log").is_dir()]
    assert not missing, f"Delta tables not written: {missing}"
    assert report.is_file() and report.stat().st_size > 0
