# pinterest-data-pipeline: `make demo` runs the pipeline on embedded defaults, `make test` runs the tests.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
UV     := $(VENV)/bin/uv
STAMP  := $(VENV)/.installed

.PHONY: venv demo demo-stream test airflow dist infra-lint clean diagram

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv
	$(UV) pip install --quiet --python $(PY) -e '.[dev,pipeline,spark,kafka,airflow]'
	touch $(STAMP)

venv: $(STAMP)  ## create .venv and install the project with its test dependencies

demo: $(STAMP)  ## seed the sample DB, start the gateway, emulate posts, run the batch job, write the report (KAFKA=1: through a real broker)
	$(PY) -m pinterest_pipeline.demo $(if $(KAFKA),--kafka,)

demo-stream: $(STAMP)  ## streaming path: moto Kinesis, gateway, streaming emulator, Structured Streaming into Delta
	$(PY) -m pinterest_pipeline.demo --stream

test: $(STAMP)  ## the whole test suite
	$(PY) -m pytest

airflow: $(STAMP)  ## a local Airflow (standalone, 127.0.0.1:8088) with this repo as its DAGs folder, local mode
	scripts/airflow-local

dist: $(STAMP)  ## the deployable artifacts: dist/*.whl (slim), dist/mwaa/ (DAG bucket files), dist/databricks/
	$(PY) scripts/build_dist.py

infra-lint: $(STAMP)  ## cfn-lint the CloudFormation stack, informational checks included (make test runs it too)
	$(VENV)/bin/cfn-lint --include-checks I -- infra/pipeline-stack.yaml

diagram:  ## re-render img/architecture.svg|png from img/architecture.dot (needs graphviz)
	dot -Tsvg img/architecture.dot -o img/architecture.svg
	dot -Tpng -Gdpi=110 img/architecture.dot -o img/architecture.png

clean:  ## remove generated data (sample DB, lake, warehouse, report)
	rm -rf data out dist
