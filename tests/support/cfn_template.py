"""The packaged CloudFormation template as data (cfn-lint's decoder: intrinsic functions stay ``{"Ref": ...}``),
and its API Gateway methods by route."""
from __future__ import annotations

from typing import Any

from cfnlint.decode import decode_str

from pinterest_pipeline.aws.template import template_body

ROOT = {"Fn::GetAtt": ["RestApi", "RootResourceId"]}


def load_template() -> dict[str, Any]:
    """The template, decoded; fails on a template that does not parse."""
    template, errors = decode_str(template_body())
    assert not errors, errors
    return template


def resource_path(resources: dict[str, Any], reference: Any) -> str:
    """``/streams/{stream-name}`` for a ``Ref`` to an ``AWS::ApiGateway::Resource`` (``/`` for the root)."""
    if reference == ROOT:
        return "/"
    resource = resources[reference["Ref"]]
    assert resource["Type"] == "AWS::ApiGateway::Resource"
    parent = resource_path(resources, resource["Properties"]["ParentId"])
    return parent.rstrip("/") + "/" + resource["Properties"]["PathPart"]


def methods_by_route(template: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """Every ``AWS::ApiGateway::Method``'s properties, keyed by (resource path, HTTP method)."""
    resources = template["Resources"]
    return {(resource_path(resources, r["Properties"]["ResourceId"]), r["Properties"]["HttpMethod"]): r["Properties"]
            for r in resources.values() if r["Type"] == "AWS::ApiGateway::Method"}
