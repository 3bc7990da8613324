"""The boto3 steps CloudFormation cannot express, which the deploy command runs once the stack has settled."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import ClientError


class StepError(Exception):
    """A step that cannot be done with what the stack or the account holds."""


def redeploy_stage(apigateway: Any, rest_api_id: str, stage_name: str) -> str:
    """Deploy the API's current methods to its stage; the new deployment's id.

    A stack update changes the methods but not the stage, which keeps serving the snapshot taken when the
    ``AWS::ApiGateway::Deployment`` was created.
    """
    answer = apigateway.create_deployment(restApiId=rest_api_id, stageName=stage_name,
                                          description="python -m pinterest_pipeline.aws deploy")
    return answer["id"]


def kafka_bootstrap_servers(kafka: Any, cluster_arn: str) -> str:
    """The MSK cluster's IAM bootstrap brokers (``AWS::MSK::Cluster`` returns no such attribute)."""
    servers = kafka.get_bootstrap_brokers(ClusterArn=cluster_arn).get("BootstrapBrokerStringSaslIam")
    if not servers:
        raise StepError(f"{cluster_arn} lists no IAM bootstrap brokers (is IAM client authentication on?)")
    return servers


def object_exists(s3: Any, url: str) -> bool:
    """True when the object ``s3://bucket/key`` exists."""
    parts = urlsplit(url)
    try:
        s3.head_object(Bucket=parts.netloc, Key=parts.path.lstrip("/"))
    except ClientError as error:
        if error.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


def write_api_key(apigateway: Any, key_id: str, path: Path) -> None:
    """Write the API key's value to ``path``, readable by its owner only; the value is never printed."""
    value = apigateway.get_api_key(apiKey=key_id, includeValue=True)["value"]
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # an existing file keeps its mode through os.open
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(value + "\n")
