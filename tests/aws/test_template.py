"""The CloudFormation template, read offline: cfn-lint in every region, and what moto cannot show (mapping templates,
integration credentials and headers, API key wiring, MSK and MSK Connect) asserted on the template itself."""
from __future__ import annotations

from typing import Any

import pytest
from cfnlint.api import REGIONS, ManualArgs, lint

from pinterest_pipeline.aws.template import template_body
from tests.support import REPO_ROOT
from tests.support.cfn_template import load_template, methods_by_route

ROLE_ARN = {"Fn::GetAtt": ["ApiGatewayKinesisRole", "Arn"]}
STREAM = "$input.params('stream-name')"
#: (path, method) → (Kinesis action, the original's mapping template); PutRecords' is rendered in
#: test_mapping_templates.py.
KINESIS_ROUTES = {
    ("/streams", "GET"): ("ListStreams", "{}"),
    ("/streams/{stream-name}", "GET"): ("DescribeStream", f'{{"StreamName": "{STREAM}"}}'),
    ("/streams/{stream-name}", "POST"): (
        "CreateStream",
        "{\"ShardCount\": #if($input.path('$.ShardCount') == '') 5 #else $input.path('$.ShardCount') #end, "
        f'"StreamName": "{STREAM}"}}'),
    ("/streams/{stream-name}", "DELETE"): ("DeleteStream", f'{{"StreamName": "{STREAM}"}}'),
    ("/streams/{stream-name}/record", "PUT"): (
        "PutRecord",
        f'{{"StreamName": "{STREAM}", "Data": "$util.base64Encode($input.json(\'$.Data\'))", '
        "\"PartitionKey\": \"$input.path('$.PartitionKey')\"}"),
    ("/streams/{stream-name}/records", "PUT"): ("PutRecords", None),
}
KAFKA_ROUTES = {("/{proxy+}", "ANY"): "http://${RestProxyAddress}:${RestProxyPort}/{proxy}",
                ("/", "ANY"): "http://${RestProxyAddress}:${RestProxyPort}/"}
#: The original's MSK Connect configuration (Confluent S3 sink 10.0.3), bucket and region from the stack.
CONNECTOR_CONFIGURATION = {
    "connector.class": "io.confluent.connect.s3.S3SinkConnector",
    "s3.region": {"Ref": "AWS::Region"},
    "flush.size": "1",
    "schema.compatibility": "NONE",
    "tasks.max": "3",
    "topics.regex": {"Fn::Sub": "${Prefix}.*"},
    "format.class": "io.confluent.connect.s3.format.json.JsonFormat",
    "partitioner.class": "io.confluent.connect.storage.partitioner.DefaultPartitioner",
    "value.converter.schemas.enable": "false",
    "value.converter": "org.apache.kafka.connect.json.JsonConverter",
    "storage.class": "io.confluent.connect.s3.storage.S3Storage",
    "key.converter": "org.apache.kafka.connect.storage.StringConverter",
    "s3.bucket.name": {"Ref": "LakeBucket"},
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def resources_of(template: dict[str, Any], kind: str) -> dict[str, Any]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def test_cfn_lint_finds_nothing_in_any_region() -> None:
    """Errors, warnings and informational findings, in all of cfn-lint's regions (experimental rules aside)."""
    matches = lint(template_body(), config=ManualArgs(include_checks=["I"], regions=REGIONS))
    assert [f"{m.rule.id} line {m.linenumber}: {m.message}" for m in matches] == []


def test_infra_holds_the_packaged_template() -> None:
    assert (REPO_ROOT / "infra" / "pipeline-stack.yaml").read_text(encoding="utf-8") == template_body()


def test_the_api_has_exactly_the_originals_routes(template: dict[str, Any]) -> None:
    assert set(methods_by_route(template)) == set(KINESIS_ROUTES) | set(KAFKA_ROUTES)


@pytest.mark.parametrize("route", sorted(KINESIS_ROUTES), ids=lambda r: f"{r[1]} {r[0]}")
def test_kinesis_routes_are_aws_integrations_with_the_originals_templates(template: dict[str, Any],
                                                                          route: tuple[str, str]) -> None:
    action, mapping_template = KINESIS_ROUTES[route]
    method = methods_by_route(template)[route]
    integration = method["Integration"]
    assert integration["Type"] == "AWS" and integration["IntegrationHttpMethod"] == "POST"
    uri = f"arn:${{AWS::Partition}}:apigateway:${{AWS::Region}}:kinesis:action/{action}"
    assert integration["Uri"] == {"Fn::Sub": uri}
    assert integration["Credentials"] == ROLE_ARN
    assert integration["RequestParameters"] == {
        "integration.request.header.Content-Type": "'application/x-amz-json-1.1'"}
    assert set(integration["RequestTemplates"]) == {"application/json"}
    if mapping_template is not None:
        assert integration["RequestTemplates"]["application/json"] == mapping_template
    assert integration["IntegrationResponses"] == [{"StatusCode": "200"}]
    assert method["MethodResponses"] == [{"StatusCode": "200"}]
    if "{stream-name}" in route[0]:
        assert method["RequestParameters"] == {"method.request.path.stream-name": True}


@pytest.mark.parametrize("route", sorted(KAFKA_ROUTES), ids=lambda r: r[0])
def test_the_kafka_routes_proxy_to_the_rest_proxy(template: dict[str, Any], route: tuple[str, str]) -> None:
    integration = methods_by_route(template)[route]["Integration"]
    assert (integration["Type"], integration["IntegrationHttpMethod"]) == ("HTTP_PROXY", "ANY")
    assert integration["Uri"] == {"Fn::Sub": KAFKA_ROUTES[route]}
    if route[0] == "/{proxy+}":
        assert integration["RequestParameters"] == {"integration.request.path.proxy": "method.request.path.proxy"}


def test_every_method_needs_the_api_key_and_is_in_the_deployment(template: dict[str, Any]) -> None:
    methods = resources_of(template, "AWS::ApiGateway::Method")
    assert all(m["Properties"]["ApiKeyRequired"] is True for m in methods.values())
    deployment = template["Resources"]["Deployment"]
    assert set(deployment["DependsOn"]) == set(methods)
    assert deployment["Properties"]["StageName"] == {"Ref": "StageName"}
    plan = template["Resources"]["UsagePlan"]["Properties"]
    assert plan["ApiStages"] == [{"ApiId": {"Ref": "RestApi"}, "Stage": {"Ref": "StageName"}}]
    assert template["Resources"]["UsagePlanKey"]["Properties"] == {
        "KeyId": {"Ref": "ApiKey"}, "KeyType": "API_KEY", "UsagePlanId": {"Ref": "UsagePlan"}}


def test_the_api_gateway_role_reaches_only_the_three_streams(template: dict[str, Any]) -> None:
    role = template["Resources"]["ApiGatewayKinesisRole"]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "apigateway.amazonaws.com"}
    [policy] = role["Policies"]
    statements = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    assert statements["ListStreamsHasNoResourceLevelPermissions"]["Action"] == "kinesis:ListStreams"
    streams = statements["TheThreeStreams"]
    assert streams["Resource"] == [{"Fn::GetAtt": [f"{kind}Stream", "Arn"]} for kind in ("Pin", "Geo", "User")]
    assert set(streams["Action"]) == {f"kinesis:{action}" for action, _ in KINESIS_ROUTES.values()} - {
        "kinesis:ListStreams"}


def test_the_streams_and_buckets_follow_the_prefix(template: dict[str, Any]) -> None:
    streams = resources_of(template, "AWS::Kinesis::Stream")
    assert sorted(s["Properties"]["Name"]["Fn::Sub"] for s in streams.values()) == [
        "streaming-${Prefix}-geo", "streaming-${Prefix}-pin", "streaming-${Prefix}-user"]
    lake = template["Resources"]["LakeBucket"]["Properties"]["BucketName"]
    assert lake == {"Fn::If": ["DefaultLakeBucket", {"Fn::Sub": "user-${Prefix}-bucket"}, {"Ref": "LakeBucketName"}]}
    assert template["Parameters"]["Prefix"]["Default"] == "124a514b9149"


def test_kafka_is_off_by_default_and_the_connector_waits_for_its_brokers(template: dict[str, Any]) -> None:
    assert template["Parameters"]["CreateKafka"]["Default"] == "false"
    conditions = {name: r.get("Condition") for name, r in template["Resources"].items()}
    assert {name for name, c in conditions.items() if c == "WithKafka"} == {
        "KafkaConfiguration", "KafkaCluster", "RestProxyKafkaPolicy"}
    assert {name for name, c in conditions.items() if c == "WithConnector"} == {
        "ConnectorPlugin", "ConnectorRole", "Connector"}
    assert template["Conditions"]["WithConnector"] == {"Fn::And": [
        {"Condition": "WithKafka"}, {"Fn::Not": [{"Fn::Equals": [{"Ref": "KafkaBootstrapServers"}, ""]}]}]}


def test_the_connector_is_the_originals_s3_sink(template: dict[str, Any]) -> None:
    connector = template["Resources"]["Connector"]["Properties"]
    assert connector["ConnectorConfiguration"] == CONNECTOR_CONFIGURATION
    assert connector["KafkaCluster"]["ApacheKafkaCluster"]["BootstrapServers"] == {"Ref": "KafkaBootstrapServers"}
    assert connector["KafkaClusterClientAuthentication"] == {"AuthenticationType": "IAM"}
    cluster = template["Resources"]["KafkaCluster"]["Properties"]
    assert cluster["ClientAuthentication"] == {"Sasl": {"Iam": {"Enabled": True}}}
    plugin = template["Resources"]["ConnectorPlugin"]["Properties"]["Location"]["S3Location"]
    assert plugin["FileKey"] == {"Ref": "PluginFileKey"}


def test_the_kafka_roles_are_scoped_to_the_prefix(template: dict[str, Any]) -> None:
    role = template["Resources"]["ConnectorRole"]["Properties"]
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Condition"]["ArnLike"] == {"aws:SourceArn": {"Fn::Sub": (
        "arn:${AWS::Partition}:kafkaconnect:${AWS::Region}:${AWS::AccountId}:connector/pinterest-${Prefix}-s3-sink/*")}}
    statements = role["Policies"][0]["PolicyDocument"]["Statement"]
    resources = [r for s in statements for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])]
    assert "*" not in resources
    s3_writes = next(s for s in statements if "s3:PutObject" in s["Action"])
    assert s3_writes["Resource"] == {"Fn::Sub": "${LakeBucket.Arn}/topics/*"}
    prefix_topics = ("arn:${AWS::Partition}:kafka:${AWS::Region}:${AWS::AccountId}:"
                     "topic/pinterest-${Prefix}-cluster/*/${Prefix}.*")
    reads = next(s for s in statements if "kafka-cluster:ReadData" in s["Action"])
    assert reads["Resource"] == {"Fn::Sub": prefix_topics}
    proxy = template["Resources"]["RestProxyKafkaPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    writes = next(s for s in proxy if "kafka-cluster:WriteData" in s["Action"])
    assert writes["Resource"] == {"Fn::Sub": prefix_topics}
