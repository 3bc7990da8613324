"""``dist/mwaa/dags`` dropped into an MWAA-like DAG folder beside another team's DAG: both load, nothing of theirs is
hidden or overwritten, on MWAA's Airflow versions 2.10 and 3.0, each in a virtualenv holding only Airflow and the
Databricks provider."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pinterest_pipeline.orchestration.dag import DAG_ID, TASK_ID
from tests.support.standins import build_dist, ensure_venv

#: MWAA's Airflow 2 line; the provider comes from PyPI within Airflow's own requirements (MWAA's constraints
#: file lives on GitHub, out of reach here).
AIRFLOWS = {
    "2": ("apache-airflow==2.10.3", "apache-airflow-providers-databricks"),
    "3": ("apache-airflow==3.0.6", "apache-airflow-providers-databricks"),
}
NEIGHBOUR_DAG = '''
from datetime import datetime
from airflow import DAG
from airflow.operators.empty import EmptyOperator

with DAG("neighbour_team_dag", start_date=datetime(2024, 1, 1), schedule=None) as dag:
    EmptyOperator(task_id="noop")
'''
#: Prints the DagBag of argv[1] as JSON.
DAGBAG = """
import json, sys
from airflow.models.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1], include_examples=False) if sys.argv[2] == "2" else DagBag(dag_folder=sys.argv[1])
dag = bag.dags.get(sys.argv[3])
task = dag.get_task(sys.argv[4]) if dag else None
payload = getattr(task, "json", None) or {}  # provider 6/7 keep the request in .json, later ones in attributes
print("BAG " + json.dumps({
    "dag_ids": sorted(bag.dag_ids), "errors": {str(k): str(v) for k, v in bag.import_errors.items()},
    "files": sorted(str(stat.file) for stat in bag.dagbag_stats),
    "operator": type(task).__name__ if task else None,
    "timeout_seconds": getattr(task, "timeout_seconds", None) or payload.get("timeout_seconds"),
    "notebook_task": getattr(task, "notebook_task", None) or payload.get("notebook_task"),
}, default=str))
"""


@pytest.fixture(scope="module")
def mwaa_dags(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_dist(tmp_path_factory.mktemp("dist")) / "mwaa" / "dags"


def airflow_python(major: str) -> str:
    requirements = AIRFLOWS[major]
    return str(ensure_venv(f"mwaa-{requirements[0].split('==')[1]}", requirements))


@pytest.mark.parametrize("major", ["2", "3"])
def test_the_dag_loads_beside_a_neighbours_dag(major: str, mwaa_dags: Path, tmp_path: Path) -> None:
    bucket = tmp_path / "dags"
    bucket.mkdir()
    (bucket / "neighbour_team_dag.py").write_text(NEIGHBOUR_DAG)
    (bucket / ".airflowignore").write_text("their_scratch/\n")  # the neighbour's own ignore file
    shutil.copytree(mwaa_dags, bucket, dirs_exist_ok=True)  # what the docs say: aws s3 cp --recursive
    assert (bucket / ".airflowignore").read_text() == "their_scratch/\n"  # not overwritten

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PINTEREST_"))}
    env.update({"AIRFLOW_HOME": str(tmp_path / "home"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path / 'airflow.db'}",
                "PYTHONPATH": str(bucket)})  # MWAA puts the dags folder on sys.path
    done = subprocess.run([airflow_python(major), "-c", DAGBAG, str(bucket), major, DAG_ID, TASK_ID],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    bag = json.loads(next(line for line in done.stdout.splitlines() if line.startswith("BAG "))[4:])
    assert bag["errors"] == {}
    assert bag["dag_ids"] == sorted([DAG_ID, "neighbour_team_dag"])
    assert not [f for f in bag["files"] if "pinterest_pipeline" in f]  # the package is not parsed as DAGs
    assert bag["operator"] == "DatabricksSubmitRunOperator"
    assert int(bag["timeout_seconds"]) == 3 * 60 * 60
    assert bag["notebook_task"]["notebook_path"].endswith("/databricks_s3_to_databricks")
