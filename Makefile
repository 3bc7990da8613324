# pinterest-data-pipeline: `make demo` runs the pipeline on embedded defaults, `make test` runs the tests.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
UV     := $(VENV)/bin/uv
STAMP  := $(VENV)/.installed
REPORT ?= out/report.html

.PHONY: venv demo demo-stream report report-screenshot test airflow dist infra-lint clean diagram

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv
	$(UV) pip install --quiet --python $(PY) -e '.[dev,pipeline,spark,kafka,airflow]'
	touch $(STAMP)

venv: $(STAMP)  ## create .venv and install the project with its test dependencies

demo: $(STAMP)  ## seed the sample DB, start the gateway, emulate posts, run the batch job, write the report (KAFKA=1: through a real broker)
	@$(PY) -m pinterest_pipeline.demo $(if $(KAFKA),--kafka,)

demo-stream: $(STAMP)  ## streaming path: moto Kinesis, gateway, streaming emulator, Structured Streaming into Delta
	@$(PY) -m pinterest_pipeline.demo --stream

report:  ## open the last run's report (out/report.html) in a browser, or print its path
	@test -f $(REPORT) || { echo "no $(REPORT) yet: run make demo first" >&2; exit 1; }
	@if command -v xdg-open >/dev/null 2>&1 && [ -n "$${DISPLAY}$${WAYLAND_DISPLAY}" ]; then \
		xdg-open $(REPORT) >/dev/null 2>&1 & echo "opening $(REPORT)"; \
	elif [ "$$(uname)" = Darwin ]; then open $(REPORT); \
	else echo "report: file://$(abspath $(REPORT))"; fi

report-screenshot: $(STAMP)  ## re-render img/report.png: the report test's headless Chromium screenshot (a phone's width)
	PINTEREST_REPORT_SCREENSHOT=$(CURDIR)/img/report.png $(PY) -m pytest -q tests/batch/test_report.py -k chromium

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
