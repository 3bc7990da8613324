"""One CloudFormation stack: create-or-update, describe, delete, each followed through its events until it settles."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Literal, Mapping

from botocore.exceptions import ClientError

Echo = Callable[[str], None]
Action = Literal["created", "updated", "unchanged"]
#: CloudFormation's answer to an update that would change nothing.
NO_UPDATES = "No updates are to be performed"
#: The template names no IAM resource, so CAPABILITY_IAM (not _NAMED_IAM) is enough.
CAPABILITIES = ["CAPABILITY_IAM"]


class StackError(Exception):
    """A stack operation that did not end as asked (the message carries the failed resources' reasons)."""


@dataclass(frozen=True)
class Stack:
    """What ``describe_stacks`` says about one stack."""

    stack_id: str
    name: str
    status: str
    reason: str
    parameters: dict[str, str]
    outputs: dict[str, str]

    @classmethod
    def from_description(cls, description: Mapping[str, Any]) -> "Stack":
        return cls(
            stack_id=description["StackId"], name=description["StackName"], status=description["StackStatus"],
            reason=description.get("StackStatusReason") or "",
            parameters={p["ParameterKey"]: p.get("ParameterValue", "") for p in description.get("Parameters", [])},
            outputs={o["OutputKey"]: o["OutputValue"] for o in description.get("Outputs", [])},
        )

    @property
    def settled(self) -> bool:
        return not self.status.endswith("_IN_PROGRESS")


def describe(cfn: Any, name_or_id: str) -> Stack | None:
    """The stack, or None when there is none of that name (a deleted one is found only by its id)."""
    try:
        answer = cfn.describe_stacks(StackName=name_or_id)
    except ClientError as error:
        if error.response["Error"]["Code"] == "ValidationError" and "does not exist" in str(error):
            return None
        raise
    return Stack.from_description(answer["Stacks"][0])


def _events(cfn: Any, stack_id: str) -> list[Mapping[str, Any]]:
    """The stack's latest events, oldest first."""
    return list(reversed(cfn.describe_stack_events(StackName=stack_id)["StackEvents"]))


def _settle(cfn: Any, stack_id: str, expected: str, echo: Echo, poll_seconds: float,
            seen: set[str]) -> Stack:
    """Print the stack's new events until it settles; the stack if it reached ``expected``, else StackError."""
    failures: list[str] = []
    while True:
        for event in _events(cfn, stack_id):
            if event["EventId"] in seen:
                continue
            seen.add(event["EventId"])
            reason = event.get("ResourceStatusReason") or ""
            echo(f"  {event['ResourceStatus']:<28} {event['LogicalResourceId']}" + (f": {reason}" if reason else ""))
            if event["ResourceStatus"].endswith("_FAILED") and reason:
                failures.append(f"{event['LogicalResourceId']}: {reason}")
        stack = describe(cfn, stack_id)
        if stack is None:
            raise StackError(f"stack {stack_id} vanished while it was being changed")
        if stack.settled:
            break
        time.sleep(poll_seconds)
    if stack.status != expected:
        raise StackError(f"{stack.name} ended {stack.status}" + "".join(f"\n  {line}" for line in failures))
    return stack


def _unchanged(cfn: Any, stack: Stack, body: str, parameters: Mapping[str, str]) -> bool:
    """True when the stack already runs this template with these parameter values."""
    current = cfn.get_template(StackName=stack.stack_id, TemplateStage="Original")["TemplateBody"]
    return current == body and all(stack.parameters.get(key) == value for key, value in parameters.items())


def _parameter_list(parameters: Mapping[str, str], previous: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """CloudFormation's parameter list: the given values, and every other parameter the stack has at its current
    value (as ``UsePreviousValue`` would; the template has no NoEcho parameter, whose value would read ``****``)."""
    values = {**(previous or {}), **parameters}
    return [{"ParameterKey": key, "ParameterValue": value} for key, value in values.items()]


def deploy(cfn: Any, name: str, body: str, parameters: Mapping[str, str], tags: Mapping[str, str], echo: Echo,
           poll_seconds: float = 10.0) -> tuple[Action, Stack]:
    """Create the stack, or update it (parameters not given keep their values); a no-change deploy does nothing."""
    stack = describe(cfn, name)
    if stack is not None and stack.status == "ROLLBACK_COMPLETE":
        echo(f"{name}: its creation failed earlier (ROLLBACK_COMPLETE): deleting it to create it again")
        delete(cfn, name, echo, poll_seconds)
        stack = None
    tag_list = [{"Key": key, "Value": value} for key, value in tags.items()]
    if stack is None:
        echo(f"{name}: creating")
        answer = cfn.create_stack(StackName=name, TemplateBody=body, Parameters=_parameter_list(parameters),
                                  Capabilities=CAPABILITIES, Tags=tag_list)
        return "created", _settle(cfn, answer["StackId"], "CREATE_COMPLETE", echo, poll_seconds, set())
    if not stack.settled:
        raise StackError(f"{name} is busy ({stack.status}); deploy again once it settles")
    if _unchanged(cfn, stack, body, parameters):
        return "unchanged", stack
    seen = {event["EventId"] for event in _events(cfn, stack.stack_id)}
    echo(f"{name}: updating")
    try:
        cfn.update_stack(StackName=stack.stack_id, TemplateBody=body,
                         Parameters=_parameter_list(parameters, stack.parameters),
                         Capabilities=CAPABILITIES, Tags=tag_list)
    except ClientError as error:
        if NO_UPDATES in str(error):
            return "unchanged", stack
        raise
    return "updated", _settle(cfn, stack.stack_id, "UPDATE_COMPLETE", echo, poll_seconds, seen)


def delete(cfn: Any, name: str, echo: Echo, poll_seconds: float = 10.0) -> Stack | None:
    """Delete the stack and wait until it is gone; None when there was none."""
    stack = describe(cfn, name)
    if stack is None:
        return None
    seen = {event["EventId"] for event in _events(cfn, stack.stack_id)}
    echo(f"{name}: deleting")
    cfn.delete_stack(StackName=stack.stack_id)
    return _settle(cfn, stack.stack_id, "DELETE_COMPLETE", echo, poll_seconds, seen)
