"""``python -m pinterest_pipeline.aws deploy|status|delete --endpoint-url <moto>`` end to end, checked through boto3.

moto's CloudFormation creates the buckets, streams, IAM role and the REST API's resources, methods and integration
URIs; it skips the API key, usage plan and MSK resources, drops integration templates, credentials and headers,
and leaves the REST API behind on delete (tests/aws/test_template.py asserts those on the template).
"""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any, Iterator

import pytest
from botocore.exceptions import ClientError

from pinterest_pipeline.demo.processes import MotoServer

#: A credential the output must never show (moto accepts any).
SECRET = "do-not-print-5b1c9e"
PROXY = "ec2-203-0-113-7.compute-1.amazonaws.com"


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str


def aws_command(moto: MotoServer, *args: str) -> Run:
    """The CLI as a user runs it, in its own process, with credentials from the environment."""
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": SECRET,
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"}
    env.pop("AWS_ENDPOINT_URL", None)
    done = subprocess.run([sys.executable, "-m", "pinterest_pipeline.aws", *args, "--endpoint-url", moto.url],
                          env=env, capture_output=True, text=True, timeout=120)
    assert SECRET not in done.stdout + done.stderr
    return Run(done.returncode, done.stdout, done.stderr)


def outputs_of(moto: MotoServer, stack: str) -> dict[str, str]:
    [description] = moto.client("cloudformation").describe_stacks(StackName=stack)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in description["Outputs"]}


@pytest.fixture(scope="module")
def deployed(moto: MotoServer) -> Iterator[tuple[Run, dict[str, str]]]:
    """One stack with prefix ``a1b2c3``: the first deploy's output and the stack's outputs."""
    run = aws_command(moto, "deploy", "--stack-name", "pipeline-a1b2c3", "--parameter", "Prefix=a1b2c3",
                      "--parameter", f"RestProxyAddress={PROXY}")
    assert run.returncode == 0, run.stderr
    yield run, outputs_of(moto, "pipeline-a1b2c3")


def policy_document(value: Any) -> Any:
    """An IAM policy document as boto3 returns it: a dict from AWS; from moto's CloudFormation, the text of a Python
    dict (it stores the template's mapping with ``str``)."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return ast.literal_eval(value)


def routes(apigateway: Any, api_id: str) -> dict[tuple[str, str], dict[str, Any]]:
    """(path, method) → get_method's answer, for the whole REST API."""
    found = {}
    for resource in apigateway.get_resources(restApiId=api_id)["items"]:
        for method in resource.get("resourceMethods", {}):
            found[(resource["path"], method)] = apigateway.get_method(
                restApiId=api_id, resourceId=resource["id"], httpMethod=method)
    return found


def test_deploy_prints_the_invoke_url_and_the_emulators_command_lines(
        deployed: tuple[Run, dict[str, str]]) -> None:
    run, outputs = deployed
    invoke_url = outputs["InvokeUrl"]
    assert invoke_url == f"https://{outputs['RestApiId']}.execute-api.us-east-1.amazonaws.com/prod"
    assert "pipeline-a1b2c3: created" in run.stdout
    assert f"python user_posting_emulation.py --invoke-url {invoke_url}" in run.stdout
    assert f"python user_posting_emulation_streaming.py --invoke-url {invoke_url}" in run.stdout


def test_deploy_creates_the_buckets_and_the_three_streams(moto: MotoServer,
                                                          deployed: tuple[Run, dict[str, str]]) -> None:
    _, outputs = deployed
    assert (outputs["LakeBucket"], outputs["DagBucket"]) == ("user-a1b2c3-bucket", "mwaa-dags-a1b2c3-bucket")
    s3 = moto.client("s3")
    for bucket in (outputs["LakeBucket"], outputs["DagBucket"]):
        s3.head_bucket(Bucket=bucket)
    assert s3.get_bucket_encryption(Bucket=outputs["LakeBucket"])["ServerSideEncryptionConfiguration"]["Rules"][0][
        "ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    kinesis = moto.client("kinesis")
    for kind in ("pin", "geo", "user"):
        summary = kinesis.describe_stream_summary(StreamName=f"streaming-a1b2c3-{kind}")["StreamDescriptionSummary"]
        assert (summary["StreamStatus"], summary["OpenShardCount"]) == ("ACTIVE", 1)


def test_deploy_creates_the_rest_apis_routes_with_their_integrations(moto: MotoServer,
                                                                      deployed: tuple[Run, dict[str, str]]) -> None:
    _, outputs = deployed
    apigateway = moto.client("apigateway")
    found = routes(apigateway, outputs["RestApiId"])
    kinesis = "arn:aws:apigateway:us-east-1:kinesis:action/"
    expected = {
        ("/", "ANY"): ("HTTP_PROXY", "ANY", f"http://{PROXY}:8082/"),
        ("/{proxy+}", "ANY"): ("HTTP_PROXY", "ANY", f"http://{PROXY}:8082/{{proxy}}"),
        ("/streams", "GET"): ("AWS", "POST", kinesis + "ListStreams"),
        ("/streams/{stream-name}", "GET"): ("AWS", "POST", kinesis + "DescribeStream"),
        ("/streams/{stream-name}", "POST"): ("AWS", "POST", kinesis + "CreateStream"),
        ("/streams/{stream-name}", "DELETE"): ("AWS", "POST", kinesis + "DeleteStream"),
        ("/streams/{stream-name}/record", "PUT"): ("AWS", "POST", kinesis + "PutRecord"),
        ("/streams/{stream-name}/records", "PUT"): ("AWS", "POST", kinesis + "PutRecords"),
    }
    assert {route: (m["methodIntegration"]["type"], m["methodIntegration"]["httpMethod"],
                    m["methodIntegration"]["uri"]) for route, m in found.items()} == expected
    assert all(m["apiKeyRequired"] and m["authorizationType"] == "NONE" for m in found.values())
    assert apigateway.get_stage(restApiId=outputs["RestApiId"], stageName="prod")["deploymentId"]


def test_deploy_creates_the_api_gateway_role_with_its_least_privilege_policy(
        moto: MotoServer, deployed: tuple[Run, dict[str, str]]) -> None:
    _, outputs = deployed
    iam = moto.client("iam")
    role_name = outputs["ApiGatewayKinesisRoleArn"].rsplit("/", 1)[-1]
    trust = iam.get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"]
    assert [s["Principal"] for s in trust["Statement"]] == [{"Service": "apigateway.amazonaws.com"}]
    assert iam.list_role_policies(RoleName=role_name)["PolicyNames"] == ["kinesis-streams"]
    policy = policy_document(iam.get_role_policy(RoleName=role_name, PolicyName="kinesis-streams")["PolicyDocument"])
    kinesis = moto.client("kinesis")
    arns = [kinesis.describe_stream_summary(StreamName=f"streaming-a1b2c3-{kind}")["StreamDescriptionSummary"][
        "StreamARN"] for kind in ("pin", "geo", "user")]
    assert policy["Statement"] == [
        {"Sid": "ListStreamsHasNoResourceLevelPermissions", "Effect": "Allow", "Action": "kinesis:ListStreams",
         "Resource": "*"},
        {"Sid": "TheThreeStreams", "Effect": "Allow",
         "Action": ["kinesis:CreateStream", "kinesis:DeleteStream", "kinesis:DescribeStream", "kinesis:PutRecord",
                    "kinesis:PutRecords"],
         "Resource": arns},
    ]


def test_a_second_deploy_with_nothing_changed_does_nothing(moto: MotoServer,
                                                           deployed: tuple[Run, dict[str, str]]) -> None:
    _, outputs = deployed
    cfn, apigateway = moto.client("cloudformation"), moto.client("apigateway")
    events = cfn.describe_stack_events(StackName="pipeline-a1b2c3")["StackEvents"]
    deployments = apigateway.get_deployments(restApiId=outputs["RestApiId"])["items"]
    run = aws_command(moto, "deploy", "--stack-name", "pipeline-a1b2c3", "--parameter", "Prefix=a1b2c3")
    assert run.returncode == 0, run.stderr
    assert "pipeline-a1b2c3: unchanged" in run.stdout
    assert cfn.describe_stack_events(StackName="pipeline-a1b2c3")["StackEvents"] == events
    assert apigateway.get_deployments(restApiId=outputs["RestApiId"])["items"] == deployments
    assert outputs_of(moto, "pipeline-a1b2c3") == outputs


def test_status_prints_the_stack_and_its_outputs(moto: MotoServer, deployed: tuple[Run, dict[str, str]]) -> None:
    _, outputs = deployed
    run = aws_command(moto, "status", "--stack-name", "pipeline-a1b2c3")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("pipeline-a1b2c3: CREATE_COMPLETE\n")
    assert all(key in run.stdout and value in run.stdout for key, value in outputs.items())
    missing = aws_command(moto, "status", "--stack-name", "no-such-stack")
    assert missing.returncode == 1 and "no such stack" in missing.stderr


def test_an_update_changes_the_stack_and_redeploys_the_stage(moto: MotoServer) -> None:
    created = aws_command(moto, "deploy", "--stack-name", "pipeline-u7", "--parameter", "Prefix=u7",
                          "--parameter", f"RestProxyAddress={PROXY}")
    assert created.returncode == 0, created.stderr
    outputs = outputs_of(moto, "pipeline-u7")
    apigateway = moto.client("apigateway")
    before = apigateway.get_stage(restApiId=outputs["RestApiId"], stageName="prod")["deploymentId"]
    run = aws_command(moto, "deploy", "--stack-name", "pipeline-u7", "--parameter", "StreamShardCount=2")
    assert run.returncode == 0, run.stderr
    assert "pipeline-u7: updated" in run.stdout and "stage prod redeployed" in run.stdout
    summary = moto.client("kinesis").describe_stream_summary(StreamName="streaming-u7-pin")["StreamDescriptionSummary"]
    assert summary["OpenShardCount"] == 2
    assert apigateway.get_stage(restApiId=outputs["RestApiId"], stageName="prod")["deploymentId"] != before
    parameters = moto.client("cloudformation").describe_stacks(StackName="pipeline-u7")["Stacks"][0]["Parameters"]
    assert {p["ParameterKey"]: p["ParameterValue"] for p in parameters}["RestProxyAddress"] == PROXY  # kept


def test_delete_removes_the_stack_and_its_resources(moto: MotoServer) -> None:
    created = aws_command(moto, "deploy", "--stack-name", "pipeline-d9", "--parameter", "Prefix=d9",
                          "--parameter", f"RestProxyAddress={PROXY}")
    assert created.returncode == 0, created.stderr
    role_name = outputs_of(moto, "pipeline-d9")["ApiGatewayKinesisRoleArn"].rsplit("/", 1)[-1]
    run = aws_command(moto, "delete", "--stack-name", "pipeline-d9")
    assert run.returncode == 0, run.stderr
    assert run.stdout.rstrip().endswith("pipeline-d9: DELETE_COMPLETE")
    s3, kinesis, iam = moto.client("s3"), moto.client("kinesis"), moto.client("iam")
    for bucket in ("user-d9-bucket", "mwaa-dags-d9-bucket"):
        with pytest.raises(ClientError, match="404"):
            s3.head_bucket(Bucket=bucket)
    assert not [name for name in kinesis.list_streams()["StreamNames"] if name.startswith("streaming-d9-")]
    with pytest.raises(ClientError, match="NoSuchEntity"):
        iam.get_role(RoleName=role_name)
    with pytest.raises(ClientError, match="does not exist"):
        moto.client("cloudformation").describe_stacks(StackName="pipeline-d9")
    again = aws_command(moto, "delete", "--stack-name", "pipeline-d9")
    assert again.returncode == 0 and "nothing to delete" in again.stdout
