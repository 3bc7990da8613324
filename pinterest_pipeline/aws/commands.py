"""deploy / status / delete: the stack operations and the boto3 steps around them, for one account and region."""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Mapping

import boto3
from botocore.config import Config

from pinterest_pipeline.aws import stack as stacks
from pinterest_pipeline.aws.stack import Echo, Stack
from pinterest_pipeline.aws.steps import kafka_bootstrap_servers, object_exists, redeploy_stage
from pinterest_pipeline.aws.template import STACK_TAGS, template_body
from pinterest_pipeline.config import Settings

_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=10, read_timeout=60)


def resolve_region(flag: str | None) -> str:
    """``--region``, else ``AWS_REGION``, else boto3's (``AWS_DEFAULT_REGION``, the profile), else the project's."""
    return flag or os.environ.get("AWS_REGION") or boto3.session.Session().region_name or Settings().region


@dataclass(frozen=True)
class Aws:
    """boto3 clients of one region, through the standard credential chain; ``endpoint_url``: a local stand-in."""

    region: str
    endpoint_url: str | None = None
    poll_seconds: float = 10.0

    @cached_property
    def _session(self) -> Any:
        return boto3.session.Session(region_name=self.region)

    def client(self, service: str) -> Any:
        return self._session.client(service, endpoint_url=self.endpoint_url, config=_CLIENT_CONFIG)


def deploy(aws: Aws, name: str, parameters: Mapping[str, str], echo: Echo) -> Stack:
    """Create or update the stack, redeploy the API's stage after an update, then create the Kafka connector
    once its inputs exist (CreateKafka=true)."""
    parameters = dict(parameters)
    if parameters.get("CreateKafka") == "false":
        parameters.setdefault("KafkaBootstrapServers", "")  # a later CreateKafka=true must look them up again
    action, stack = stacks.deploy(aws.client("cloudformation"), name, template_body(), parameters, STACK_TAGS, echo,
                                  aws.poll_seconds)
    echo(f"{name}: {action}")
    if action == "updated":
        deployment = redeploy_stage(aws.client("apigateway"), stack.outputs["RestApiId"], stack.outputs["StageName"])
        echo(f"{name}: stage {stack.outputs['StageName']} redeployed ({deployment})")
    return connect_kafka(aws, stack, echo)


def connect_kafka(aws: Aws, stack: Stack, echo: Echo) -> Stack:
    """The second phase of CreateKafka=true: with the cluster up and the plugin ZIP uploaded, set
    KafkaBootstrapServers (which CloudFormation cannot read from the cluster), creating the connector."""
    if stack.parameters.get("CreateKafka") != "true" or stack.parameters.get("KafkaBootstrapServers"):
        return stack
    plugin = stack.outputs["PluginLocation"]
    if not object_exists(aws.client("s3"), plugin):
        echo(f"connector: not created yet: upload the Confluent S3 sink plugin ZIP to {plugin}, then deploy again")
        return stack
    servers = kafka_bootstrap_servers(aws.client("kafka"), stack.outputs["KafkaClusterArn"])
    echo(f"connector: creating the MSK Connect S3 sink (bootstrap brokers {servers})")
    action, stack = stacks.deploy(aws.client("cloudformation"), stack.name, template_body(),
                                  {"KafkaBootstrapServers": servers}, STACK_TAGS, echo, aws.poll_seconds)
    echo(f"{stack.name}: {action}")
    return stack


def status(aws: Aws, name: str) -> Stack | None:
    """The stack as it is now, or None."""
    return stacks.describe(aws.client("cloudformation"), name)


def delete(aws: Aws, name: str, echo: Echo) -> Stack | None:
    """Delete the stack and wait; None when there was none."""
    return stacks.delete(aws.client("cloudformation"), name, echo, aws.poll_seconds)
