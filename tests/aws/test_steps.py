"""The boto3 steps CloudFormation cannot express, against moto where moto has the API; the region's sources and the
command line's syntax."""
from __future__ import annotations

import stat
from pathlib import Path
from urllib.parse import unquote

import boto3
import pytest

from pinterest_pipeline.aws.cli import build_parser
from pinterest_pipeline.aws.commands import Aws, connect_kafka, resolve_region
from pinterest_pipeline.aws.stack import Stack
from pinterest_pipeline.aws.steps import StepError, kafka_bootstrap_servers, object_exists, write_api_key
from pinterest_pipeline.demo.processes import MotoServer
from tests.support.scripted_http_server import ScriptedServer

CLUSTER_ARN = "arn:aws:kafka:us-east-1:123456789012:cluster/pinterest-124a514b9149-cluster/5b1c-9e"
BROKERS = "b-1.pinterest.kafka.us-east-1.amazonaws.com:9098,b-2.pinterest.kafka.us-east-1.amazonaws.com:9098"


def test_write_api_key_writes_the_value_for_its_owner_only(moto: MotoServer, tmp_path: Path) -> None:
    apigateway = moto.client("apigateway")
    key = apigateway.create_api_key(name="steps-test-key", enabled=True, value="k3y-value-0123456789abcdef")
    path = tmp_path / "api-key"
    path.write_text("an older key\n")
    path.chmod(0o644)
    write_api_key(apigateway, key["id"], path)
    assert path.read_text() == "k3y-value-0123456789abcdef\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_object_exists_tells_a_missing_plugin_from_an_uploaded_one(moto: MotoServer) -> None:
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="steps-plugin-bucket")
    url = "s3://steps-plugin-bucket/kafka-connect-s3/confluentinc-kafka-connect-s3-10.0.3.zip"
    assert not object_exists(s3, url)
    s3.put_object(Bucket="steps-plugin-bucket", Key="kafka-connect-s3/confluentinc-kafka-connect-s3-10.0.3.zip",
                  Body=b"PK\x05\x06" + bytes(18))
    assert object_exists(s3, url)


def test_the_connector_waits_for_its_plugin(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """CreateKafka=true without the plugin ZIP: the stack is left as it is and the user told what to upload."""
    moto.client("s3").create_bucket(Bucket="steps-empty-lake")
    stack = Stack(stack_id="id", name="pipeline", status="CREATE_COMPLETE", reason="",
                  parameters={"CreateKafka": "true", "KafkaBootstrapServers": ""},
                  outputs={"KafkaClusterArn": CLUSTER_ARN, "PluginLocation": "s3://steps-empty-lake/plugin.zip"})
    for name, value in moto.environment().items():
        monkeypatch.setenv(name, value)
    said: list[str] = []
    assert connect_kafka(Aws(region="us-east-1", endpoint_url=moto.url), stack, said.append) is stack
    assert said == ["connector: not created yet: upload the Confluent S3 sink plugin ZIP to "
                    "s3://steps-empty-lake/plugin.zip, then deploy again"]


def msk_client(url: str) -> object:
    """A boto3 MSK client of a scripted endpoint: moto has no GetBootstrapBrokers."""
    return boto3.client("kafka", endpoint_url=url, region_name="us-east-1", aws_access_key_id="AKIDEXAMPLE",
                        aws_secret_access_key="not-a-secret")


def test_kafka_bootstrap_servers_reads_the_clusters_iam_brokers() -> None:
    with ScriptedServer([(200, {"bootstrapBrokerStringSaslIam": BROKERS, "bootstrapBrokerStringTls": "b-1:9094"})]) \
            as server:
        assert kafka_bootstrap_servers(msk_client(server.url), CLUSTER_ARN) == BROKERS
    [request] = server.requests
    assert request["method"] == "GET"
    assert unquote(request["path"]) == f"/v1/clusters/{CLUSTER_ARN}/bootstrap-brokers"


def test_a_cluster_without_iam_brokers_is_an_error() -> None:
    with ScriptedServer([(200, {"bootstrapBrokerStringTls": "b-1:9094"})]) as server:
        with pytest.raises(StepError, match="no IAM bootstrap brokers"):
            kafka_bootstrap_servers(msk_client(server.url), CLUSTER_ARN)


@pytest.mark.parametrize("text, expected", [
    ("Prefix=a1b2c3", ("Prefix", "a1b2c3")),
    ("LakeBucketName=", ("LakeBucketName", "")),
    ("KafkaBootstrapServers=b-1:9098,b-2:9098", ("KafkaBootstrapServers", "b-1:9098,b-2:9098")),
    ("Odd=a=b", ("Odd", "a=b")),
])
def test_parameters_are_key_equals_value(text: str, expected: tuple[str, str]) -> None:
    args = build_parser().parse_args(["deploy", "--stack-name", "s", "--parameter", text])
    assert args.parameter == [expected]


@pytest.mark.parametrize("argv", [
    ["deploy", "--stack-name", "s", "--parameter", "NoEquals"],
    ["deploy", "--stack-name", "s", "--parameter", "=value"],
    ["deploy"],
    ["delete", "--stack-name", "s", "--parameter", "A=b"],
])
def test_bad_command_lines_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(argv)
    assert exit_.value.code == 2


def test_the_region_comes_from_the_flag_then_the_environment_then_the_profile_then_the_default(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "aws-config"
    config.write_text("[default]\nregion = ap-south-1\n")
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    assert resolve_region(None) == "ap-south-1"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    assert resolve_region(None) == "eu-central-1"
    monkeypatch.setenv("AWS_REGION", "eu-west-2")
    assert resolve_region(None) == "eu-west-2"
    assert resolve_region("us-west-2") == "us-west-2"
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name)
    config.write_text("[default]\n")
    assert resolve_region(None) == "us-east-1"
