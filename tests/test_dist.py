"""``make dist``: a slim wheel that installs alone, and exactly the files each cloud piece takes."""
from __future__ import annotations

import ast
import subprocess
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

from tests.support import REPO_ROOT
from tests.support.standins import build_dist, ensure_venv, install_wheel

#: Never unconditional requirements of the wheel: the runtimes bring their own, or only some users need them.
HEAVY = {"pyspark", "delta-spark", "apache-airflow", "apache-airflow-providers-databricks", "confluent-kafka", "moto",
         "papermill"}


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_dist(tmp_path_factory.mktemp("dist"))


def wheel_of(dist: Path) -> Path:
    [wheel] = dist.glob("pinterest_pipeline-*-py3-none-any.whl")
    return wheel


def test_the_wheels_unconditional_requirements_are_slim(dist: Path) -> None:
    with zipfile.ZipFile(wheel_of(dist)) as archive:
        metadata_name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(archive.read(metadata_name).decode())
    unconditional = {r.split(";")[0].split("[")[0].split("<")[0].split(">")[0].split("=")[0].strip().lower()
                     for r in metadata.get_all("Requires-Dist") if "extra ==" not in r}
    assert unconditional == {"pyyaml", "pandas", "matplotlib", "tabulate"}
    assert not unconditional & HEAVY
    assert metadata["Requires-Python"] == ">=3.10"


def test_the_wheel_installs_alone_and_its_code_parses_as_python_3_10(dist: Path) -> None:
    with zipfile.ZipFile(wheel_of(dist)) as archive:
        for name in (n for n in archive.namelist() if n.endswith(".py")):
            ast.parse(archive.read(name), name, feature_version=(3, 10))  # SyntaxError if newer syntax crept in
    python = ensure_venv("wheel-only", ("pip",))
    install_wheel(python, wheel_of(dist))
    imported = subprocess.run(
        [str(python), "-c", "import pinterest_pipeline.config, pinterest_pipeline.contract, "
                            "pinterest_pipeline.orchestration.dag; print('ok')"],
        capture_output=True, text=True, timeout=120)
    assert imported.stdout.strip() == "ok", imported.stderr


def test_the_mwaa_and_databricks_folders_hold_exactly_what_they_take(dist: Path) -> None:
    files = {str(p.relative_to(dist)) for p in dist.rglob("*") if p.is_file()}
    wheel = wheel_of(dist).name
    assert files == {
        wheel, f"databricks/{wheel}", "databricks/databricks_s3_to_databricks.ipynb",
        "databricks/databricks_kinisis_to_databricks.ipynb", "mwaa/requirements.txt",
        "mwaa/dags/124a514b9149_dag.py", "mwaa/dags/pinterest_pipeline/.airflowignore",
        "mwaa/dags/pinterest_pipeline/__init__.py", "mwaa/dags/pinterest_pipeline/config.py",
        "mwaa/dags/pinterest_pipeline/contract.py", "mwaa/dags/pinterest_pipeline/orchestration/__init__.py",
        "mwaa/dags/pinterest_pipeline/orchestration/dag.py",
    }
    assert "apache-airflow-providers-databricks" in (dist / "mwaa" / "requirements.txt").read_text()


def test_the_wheel_carries_the_cloudformation_template(dist: Path) -> None:
    """``python -m pinterest_pipeline.aws deploy`` reads the template from the installed package."""
    with zipfile.ZipFile(wheel_of(dist)) as archive:
        packaged = archive.read("pinterest_pipeline/aws/pipeline-stack.yaml").decode("utf-8")
    assert packaged == (REPO_ROOT / "infra" / "pipeline-stack.yaml").read_text(encoding="utf-8")
