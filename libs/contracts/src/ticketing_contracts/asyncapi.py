"""The AsyncAPI document of the published topics, generated from the event models.

`python -m ticketing_contracts > libs/contracts/asyncapi.json` refreshes the committed
copy; a test fails when the copy and the models disagree.
"""

from __future__ import annotations

import json
from typing import Any

from ticketing_contracts import headers as kafka_headers
from ticketing_contracts.envelope import EventEnvelope
from ticketing_contracts.events import registered_events
from ticketing_contracts.events.base import PublicEvent
from ticketing_contracts.topics import ALL_TOPICS, DEAD_LETTERS

_HEADER_NAMES = [
    kafka_headers.CE_SPECVERSION,
    kafka_headers.CE_ID,
    kafka_headers.CE_TYPE,
    kafka_headers.CE_SOURCE,
    kafka_headers.CE_TIME,
    kafka_headers.CE_SUBJECT,
    kafka_headers.CE_DATASCHEMA_VERSION,
    kafka_headers.CONTENT_TYPE,
    kafka_headers.CORRELATION_ID,
    kafka_headers.CAUSATION_ID,
]


def message_name(event_class: type[PublicEvent]) -> str:
    return f"{event_class.__name__}V{event_class.VERSION}"


def _channel_id(topic: str) -> str:
    return topic.replace(".", "_").replace("-", "_")


def build_document(version: str = "1.0.0") -> dict[str, Any]:
    events = sorted(registered_events(), key=lambda cls: (cls.TOPIC, cls.TYPE, cls.VERSION))
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {"EventEnvelope": EventEnvelope.model_json_schema()}
    channels: dict[str, Any] = {}
    for topic in ALL_TOPICS:
        channels[_channel_id(topic)] = {"address": topic, "messages": {}}
    for event_class in events:
        name = message_name(event_class)
        schemas[name] = event_class.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schemas[name].pop("$defs", {}))
        messages[name] = {
            "name": event_class.TYPE,
            "title": f"{event_class.TYPE} v{event_class.VERSION}",
            "summary": (event_class.__doc__ or event_class.TYPE).strip().splitlines()[0],
            "contentType": "application/json",
            "headers": {
                "type": "object",
                "properties": {name: {"type": "string"} for name in _HEADER_NAMES},
            },
            "payload": {
                "allOf": [
                    {"$ref": "#/components/schemas/EventEnvelope"},
                    {
                        "properties": {
                            "type": {"const": event_class.TYPE},
                            "version": {"const": event_class.VERSION},
                            "data": {"$ref": f"#/components/schemas/{name}"},
                        }
                    },
                ]
            },
            "bindings": {"kafka": {"key": {"type": "string", "description": "Show id"}}},
        }
        channels[_channel_id(event_class.TOPIC)]["messages"][name] = {
            "$ref": f"#/components/messages/{name}"
        }
    channels[_channel_id(DEAD_LETTERS)]["description"] = (
        "Messages that could not be processed, with dlt_* headers naming the error and origin"
    )
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Ticketing platform events",
            "version": version,
            "description": (
                "Public, versioned event contract. A breaking change to an event's data "
                "is published under a new version; consumers select on (ce_type, version). "
                "Delivery is at least once: a relay retry, and every rebuild of the Kafka "
                "cluster (the platform republishes its durable log), redelivers events with "
                "the same ce_id, so consumers deduplicate by ce_id. Order holds per key "
                "(the event/show id)."
            ),
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "components": {"messages": messages, "schemas": schemas},
    }


def render() -> str:
    return json.dumps(build_document(), indent=2, sort_keys=True) + "\n"
