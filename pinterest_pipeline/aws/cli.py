"""``python -m pinterest_pipeline.aws deploy|status|delete --stack-name NAME [--endpoint-url URL]``.

``deploy`` creates or updates the stack of ``infra/pipeline-stack.yaml`` (a second deploy with nothing changed does
nothing), waits for it, runs the steps CloudFormation cannot express and prints the outputs and the emulators'
command lines; ``status`` prints the stack's status and outputs; ``delete`` deletes it and waits. Credentials come
from boto3's chain and are never printed, nor is the API key's value.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from pinterest_pipeline.aws import commands
from pinterest_pipeline.aws.commands import Aws
from pinterest_pipeline.aws.stack import Stack, StackError
from pinterest_pipeline.aws.steps import StepError, write_api_key
from pinterest_pipeline.aws.summary import emulator_lines, output_lines


def parameter(text: str) -> tuple[str, str]:
    """``Key=Value`` (the value may be empty or hold ``=``); argparse exits 2 otherwise."""
    key, equals, value = text.partition("=")
    if not equals or not key.strip():
        raise argparse.ArgumentTypeError(f"expected Key=Value, not {text!r}")
    return key.strip(), value


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--stack-name", required=True, help="the CloudFormation stack")
    common.add_argument("--endpoint-url", help="an AWS stand-in such as a moto server (default: AWS itself)")
    common.add_argument("--region", help="default: AWS_REGION, AWS_DEFAULT_REGION, the profile's, else us-east-1")
    key_file = argparse.ArgumentParser(add_help=False)
    key_file.add_argument("--api-key-file", type=Path, metavar="PATH",
                          help="write the API key's value to PATH (mode 600) for the emulators' --api-key-file")
    parser = argparse.ArgumentParser(prog="python -m pinterest_pipeline.aws", description=__doc__.splitlines()[0])
    commands_ = parser.add_subparsers(dest="command", required=True)
    deploy = commands_.add_parser("deploy", parents=[common, key_file], help="create or update the stack")
    deploy.add_argument("--parameter", type=parameter, action="append", default=[], metavar="KEY=VALUE",
                        help="a template parameter (repeatable); on an update, parameters not given keep their value")
    commands_.add_parser("status", parents=[common, key_file], help="the stack's status and outputs")
    commands_.add_parser("delete", parents=[common], help="delete the stack and wait")
    return parser


def _report(aws: Aws, stack: Stack, api_key_file: Path | None) -> None:
    """Outputs, then (API key written first, if asked) the emulators' command lines."""
    print("\n".join(output_lines(stack)))
    if api_key_file is not None:
        key_id = stack.outputs.get("ApiKeyId")
        if key_id:
            write_api_key(aws.client("apigateway"), key_id, api_key_file)
        else:
            print(f"no API key written to {api_key_file}: the stack reports no ApiKeyId", file=sys.stderr)
            api_key_file = None
    lines = emulator_lines(stack, aws.region, aws.endpoint_url, api_key_file)
    if lines:
        print("\n".join(lines))


def run(args: argparse.Namespace) -> int:
    aws = Aws(region=commands.resolve_region(args.region), endpoint_url=args.endpoint_url)
    if args.command == "deploy":
        stack = commands.deploy(aws, args.stack_name, dict(args.parameter), print)
        _report(aws, stack, args.api_key_file)
        return 0
    if args.command == "status":
        found = commands.status(aws, args.stack_name)
        if found is None:
            print(f"{args.stack_name}: no such stack in {aws.region}", file=sys.stderr)
            return 1
        _report(aws, found, args.api_key_file)
        return 0
    deleted = commands.delete(aws, args.stack_name, print)
    print(f"{args.stack_name}: " + ("nothing to delete" if deleted is None else deleted.status))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except NoCredentialsError:
        print("no AWS credentials: configure a profile, AWS_PROFILE, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY",
              file=sys.stderr)
        return 2
    except (StackError, StepError) as error:
        print(f"{args.command} failed: {error}", file=sys.stderr)
        return 1
    except ClientError as error:
        details = error.response.get("Error", {})
        print(f"{args.command} failed: {details.get('Code')}: {details.get('Message')}", file=sys.stderr)
        return 1
    except BotoCoreError as error:
        print(f"{args.command} failed: {error}", file=sys.stderr)
        return 1
