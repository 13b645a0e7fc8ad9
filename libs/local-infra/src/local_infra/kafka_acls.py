"""ACLs on a local broker with a SCRAM listener, granted by Apache Kafka's own AclCommand
(what kafka-acls.sh runs): aiokafka has no ACL API.

AclCommand grants every `--operation` it is given on every resource it names, so
`grant_acls` runs it once per operation (and pattern type) with that operation's
resources, and runs those at once: each run is a JVM that takes about a second to start.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from local_infra.broker import KafkaBroker, java_executable, kafka_libs_dir
from local_infra.errors import InfrastructureUnavailable

ACL_COMMAND_CLASS = "org.apache.kafka.tools.AclCommand"
# A tool that lives for a second starts fastest with the quick JIT and the simplest GC.
_TOOL_JVM_OPTIONS = (
    "-XX:TieredStopAtLevel=1",
    "-XX:+UseSerialGC",
    "-Xmx256m",
    "-Djava.awt.headless=true",
)
ACL_COMMAND_TIMEOUT_SECONDS = 60.0

ResourceType = Literal["topic", "group"]
PatternType = Literal["literal", "prefixed"]


@dataclass(frozen=True)
class Acl:
    """Allow `operations` (Kafka's names: Read, Write, Describe...) on one topic or group,
    from any host; the words are those of Strimzi's KafkaUser `spec.authorization.acls`."""

    resource_type: ResourceType
    resource_name: str
    operations: frozenset[str]
    pattern_type: PatternType = "literal"


async def grant_acls(broker: KafkaBroker, principal: str, acls: Iterable[Acl]) -> None:
    """Add `acls` for `principal` (e.g. "User:inventory") on the running `broker`, logged
    in as its super user: it may then do each operation on each resource, nothing more
    (ACLs it already had stay)."""
    if broker.scram is None:
        raise ValueError("ACLs need a broker with a SCRAM listener (a plaintext one has no ACLs)")
    command_config = broker.home / "acl-command.properties"
    properties = broker.scram.java_client_properties(broker.scram.super_user)
    command_config.touch(mode=0o600)
    command_config.write_text("".join(f"{key}={value}\n" for key, value in properties.items()))
    resources: defaultdict[tuple[str, PatternType], list[str]] = defaultdict(list)
    for acl in acls:
        for operation in sorted(acl.operations):
            resources[operation, acl.pattern_type] += [f"--{acl.resource_type}", acl.resource_name]
    runs = []
    for (operation, pattern_type), named in resources.items():
        arguments = [
            "--bootstrap-server", broker.bootstrap_servers,
            "--command-config", str(command_config),
            "--add",
            "--allow-principal", principal,
            "--operation", operation,
            "--resource-pattern-type", pattern_type,
            *named,
        ]  # fmt: skip
        runs.append(_acl_command(arguments))
    await asyncio.gather(*runs)


async def _acl_command(arguments: list[str]) -> None:
    process = await asyncio.create_subprocess_exec(
        java_executable(),
        *_TOOL_JVM_OPTIONS,
        "-cp",
        f"{kafka_libs_dir()}/*",
        ACL_COMMAND_CLASS,
        *arguments,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), ACL_COMMAND_TIMEOUT_SECONDS)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise InfrastructureUnavailable(
            f"AclCommand {' '.join(arguments)} gave no answer in {ACL_COMMAND_TIMEOUT_SECONDS}s"
        ) from None
    if process.returncode != 0:
        raise InfrastructureUnavailable(
            f"AclCommand {' '.join(arguments)} failed ({process.returncode}):\n"
            f"{output.decode(errors='replace').strip()[:3000]}"
        )
