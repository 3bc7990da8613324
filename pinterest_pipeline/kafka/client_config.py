"""Client settings for confluent-kafka: bootstrap servers plus pass-through options (MSK SASL/SSL).

Options come from, lowest first: a Java-style properties file (``KAFKA_CONFIG_FILE`` or an argument), then
``KAFKA_<NAME>`` environment variables (``KAFKA_SECURITY_PROTOCOL`` → ``security.protocol``,
``KAFKA_SASL_PASSWORD`` → ``sasl.password``), then the bootstrap servers given explicitly. Variables that
Kafka's own shell scripts use (``KAFKA_HEAP_OPTS``...) and this project's ``KAFKA_LOCAL_*`` are not client
options. Secret values never leave this module unredacted except inside the config handed to the client.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

CONFIG_FILE_VARIABLE = "KAFKA_CONFIG_FILE"
#: ``KAFKA_*`` variables that are not client options (Kafka's scripts, this project's local broker).
_NOT_CLIENT_OPTIONS = frozenset({"CONFIG_FILE", "BOOTSTRAP_SERVERS", "DEBUG", "HOME", "LOG_DIR", "MODE"})
_SECRET_WORDS = ("password", "secret", "jaas", "token", "pem", "key")


def is_secret(key: str) -> bool:
    """True for options whose value must not be shown (passwords, keys, tokens, JAAS lines)."""
    return any(word in key.lower() for word in _SECRET_WORDS)


def redacted(config: Mapping[str, object]) -> dict[str, object]:
    """A copy of ``config`` fit for logs: secret values replaced by ``***``."""
    return {key: "***" if is_secret(key) else value for key, value in config.items()}


def read_properties(path: str | Path) -> dict[str, str]:
    """``key=value`` lines of a client properties file; ``#`` / ``!`` comments and blank lines skipped."""
    options: dict[str, str] = {}
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line[0] in "#!":
            continue
        key, separator, value = line.partition("=")
        if not separator:
            raise ValueError(f"{path}:{number}: expected key=value")
        options[key.strip()] = value.strip()
    return options


def options_from_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """Client options named by ``KAFKA_<NAME>`` variables (``_`` → ``.``, lower case)."""
    options = {}
    for variable, value in environ.items():
        if not variable.startswith("KAFKA_") or not value:
            continue
        name = variable.removeprefix("KAFKA_")
        if name in _NOT_CLIENT_OPTIONS or name.endswith("_OPTS") or name.startswith("LOCAL_"):
            continue
        options[name.lower().replace("_", ".")] = value
    return options


def client_config(
    bootstrap_servers: str | None = None,
    environ: Mapping[str, str] | None = None,
    config_file: str | Path | None = None,
) -> dict[str, str]:
    """The confluent-kafka configuration: properties file, then environment, then ``bootstrap_servers``."""
    environ = os.environ if environ is None else environ
    config_file = config_file or environ.get(CONFIG_FILE_VARIABLE)
    config = read_properties(config_file) if config_file else {}
    config.update(options_from_environment(environ))
    bootstrap_servers = bootstrap_servers or environ.get("KAFKA_BOOTSTRAP_SERVERS") or config.get("bootstrap.servers")
    if not bootstrap_servers:
        raise ValueError("no Kafka bootstrap servers: set KAFKA_BOOTSTRAP_SERVERS or pass them explicitly")
    config["bootstrap.servers"] = bootstrap_servers
    return config
