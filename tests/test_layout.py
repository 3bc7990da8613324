"""The package's architecture rules, read from the source: one folder per stage, Spark only where Spark belongs,
no import circles, thin entry points, and no reliance on a repository checkout."""
from __future__ import annotations

import ast
import functools
from importlib import resources
from pathlib import Path

import pytest

import pinterest_pipeline

PACKAGE = Path(pinterest_pipeline.__file__).parent
#: The stages, in the order data flows, plus the shared Spark layer and the local harness.
STAGES = ("source", "emulator", "gateway", "kafka", "lake", "kinesis", "spark", "batch", "streaming",
          "orchestration", "aws", "demo")
TOP_LEVEL_MODULES = {"__init__", "contract", "config"}
SPARK_STAGES = {"spark", "batch", "streaming"}
#: Stages that may import one another's code; every other stage imports only these and itself.
SHARED = {"contract", "config"}
ALLOWED_STAGE_IMPORTS: dict[str, set[str]] = {
    "source": set(),
    "emulator": {"source"},
    "lake": set(),
    "kinesis": set(),
    "kafka": {"lake"},
    "gateway": {"lake", "kafka", "kinesis"},
    "spark": set(),
    "batch": {"spark", "lake"},
    "streaming": {"spark", "kinesis"},
    "orchestration": set(),
    "aws": set(),
    "demo": set(STAGES) - {"demo"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@functools.cache
def package_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


@functools.cache
def imported_modules(path: Path) -> frozenset[str]:
    """Every module ``path`` imports, at any depth of its code (absolute names)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return frozenset(found)


def stage_of(module: str) -> str:
    """``pinterest_pipeline.gateway.app`` → ``gateway``; ``pinterest_pipeline.config`` → ``config``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


@functools.cache
def internal_dependencies() -> dict[str, set[str]]:
    modules = package_modules()
    return {name: {m for m in imported_modules(path) if m in modules and m != name}
            for name, path in modules.items()}


def test_the_package_is_one_folder_per_stage_and_two_shared_modules() -> None:
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    assert folders == set(STAGES)
    assert modules == TOP_LEVEL_MODULES


@pytest.mark.parametrize("module", sorted(package_modules()))
def test_spark_is_imported_only_by_the_spark_stages(module: str) -> None:
    spark_imports = {m for m in imported_modules(package_modules()[module]) if m.split(".")[0] in ("pyspark", "delta")}
    if stage_of(module) not in SPARK_STAGES:
        assert not spark_imports, f"{module} imports {sorted(spark_imports)}"


@pytest.mark.parametrize("module", sorted(package_modules()))
def test_stages_import_only_what_comes_before_them(module: str) -> None:
    stage = stage_of(module)
    if stage in SHARED or not stage:
        allowed = SHARED
    else:
        allowed = SHARED | ALLOWED_STAGE_IMPORTS[stage] | {stage}
    used = {stage_of(m) for m in internal_dependencies()[module]}
    assert used <= allowed, f"{module} imports from {sorted(used - allowed)}"


def test_there_are_no_import_circles() -> None:
    graph = internal_dependencies()
    # A package imports its own modules through __init__; that edge is not a circle of code.
    graph = {name: {d for d in deps if not name.startswith(d + ".") and not d.startswith(name + ".")}
             for name, deps in graph.items()}
    visiting: list[str] = []
    done: set[str] = set()

    def visit(name: str) -> None:
        if name in done:
            return
        assert name not in visiting, "import circle: " + " → ".join(visiting[visiting.index(name):] + [name])
        visiting.append(name)
        for dependency in sorted(graph[name]):
            visit(dependency)
        visiting.pop()
        done.add(name)

    for module in sorted(graph):
        visit(module)


@pytest.mark.parametrize("main", sorted(PACKAGE.rglob("__main__.py")), ids=lambda p: p.parent.name)
def test_every_command_is_a_thin_main_over_a_cli_module(main: Path) -> None:
    code = [line for line in main.read_text().splitlines() if line.strip()]
    assert len(code) <= 4, f"{main} has logic: keep it in {main.parent.name}/cli.py"
    assert any(f"pinterest_pipeline.{main.parent.name}.cli import" in line for line in code)
    assert (main.parent / "cli.py").is_file()


@pytest.mark.parametrize("module", sorted(package_modules()))
def test_package_code_does_not_assume_a_repository_checkout(module: str) -> None:
    text = package_modules()[module].read_text()
    for marker in ("REPO_ROOT", ".parent.parent", "parents[1]", "parents[2]"):
        assert marker not in text, f"{module} refers to the repository layout ({marker!r})"


def test_files_the_package_reads_ship_inside_it() -> None:
    assert (resources.files("pinterest_pipeline.kafka") / "kafka-pom.xml").is_file()
    assert (resources.files("pinterest_pipeline.aws") / "pipeline-stack.yaml").is_file()
