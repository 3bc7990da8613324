"""What the commands print once a stack has settled: its outputs and the emulators' command lines."""
from __future__ import annotations

import shlex
from pathlib import Path

from pinterest_pipeline.aws.stack import Stack

BATCH_EMULATOR = "user_posting_emulation.py"
STREAMING_EMULATOR = "user_posting_emulation_streaming.py"


def output_lines(stack: Stack) -> list[str]:
    """``<stack>: <status>`` and one line per output, sorted by key."""
    lines = [f"{stack.name}: {stack.status}" + (f" ({stack.reason})" if stack.reason else "")]
    if stack.outputs:
        width = max(len(key) for key in stack.outputs)
        lines += ["outputs:"] + [f"  {key:<{width}}  {stack.outputs[key]}" for key in sorted(stack.outputs)]
    return lines


def api_key_command(key_id: str, region: str, endpoint_url: str | None) -> str:
    """An AWS CLI line that prints the key's value (this command never does)."""
    endpoint = f" --endpoint-url {shlex.quote(endpoint_url)}" if endpoint_url else ""
    return (f"aws apigateway get-api-key --api-key {shlex.quote(key_id)} --include-value --query value "
            f"--output text --region {shlex.quote(region)}{endpoint}")


def emulator_lines(stack: Stack, region: str, endpoint_url: str | None, api_key_file: Path | None) -> list[str]:
    """How to point both emulators at the stack's API: the invoke URL and where the API key comes from."""
    invoke_url = stack.outputs.get("InvokeUrl")
    if not invoke_url:
        return []
    key_id = stack.outputs.get("ApiKeyId")
    key_flag = f" --api-key-file {shlex.quote(str(api_key_file))}" if api_key_file else ""
    lines = ["next: send rows (the emulators read db_creds.yml for the source database; --allow-sample-data sends "
             "the built-in sample rows instead)"]
    if api_key_file:
        lines.append(f"  # the API key's value is in {api_key_file} (mode 600)")
    elif key_id:
        lines.append(f'  export PINTEREST_API_KEY="$({api_key_command(key_id, region, endpoint_url)})"'
                     "   # or: deploy/status --api-key-file PATH, then --api-key-file PATH")
    else:
        lines.append("  # the stack reports no API key (ApiKeyId): this endpoint did not create one")
    for script in (BATCH_EMULATOR, STREAMING_EMULATOR):
        lines.append(f"  python {script} --invoke-url {shlex.quote(invoke_url)}{key_flag}")
    return lines
