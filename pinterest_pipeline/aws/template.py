"""The packaged CloudFormation template (``infra/pipeline-stack.yaml`` in a checkout points at it)."""
from __future__ import annotations

from importlib import resources

TEMPLATE_FILE = "pipeline-stack.yaml"
#: Tags on the stack, which CloudFormation copies to every resource that takes tags (cost allocation).
STACK_TAGS = {"project": "pinterest-data-pipeline"}


def template_body() -> str:
    """The template's YAML text, as CloudFormation receives it."""
    return resources.files(__package__).joinpath(TEMPLATE_FILE).read_text(encoding="utf-8")
