"""schemathesis hook of .ci/contract/run: the spec's event streams read the way generators read them.

For `text/event-stream`, OpenAPI 3.0 says nothing about what `schema` describes. The spec follows
the generators (@hey-api/openapi-ts types each event's parsed `data:` with it; issue 14): `schema`
is the event itself, a `oneOf` discriminated on `type`. schemathesis reads a 3.0 `schema` the
OpenAPI 3.2 way instead, as the SSE frame `{event, data, id, retry}`, and would judge every frame
against the event schema. This hook rewrites each stream, for schemathesis only, into the 3.2
form with the same meaning: `itemSchema` is the frame, its `data` JSON (`contentMediaType`) of
the spec's event schema (`contentSchema`), and, for a discriminated `oneOf`, an `event:` name,
when the frame has one, equal to the discriminator value of the event it carries. So every
event is still validated, and `event:` = `type` with it.
"""

from __future__ import annotations

from typing import Any

import schemathesis

SSE = "text/event-stream"


def _component(raw_schema: dict[str, Any], schema: Any) -> Any:
    ref = schema.get("$ref") if isinstance(schema, dict) else None
    prefix = "#/components/schemas/"
    if isinstance(ref, str) and ref.startswith(prefix):
        return raw_schema.get("components", {}).get("schemas", {}).get(ref[len(prefix) :], schema)
    return schema


def _frame(data_schema: Any, event_name: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {"type": "string"}
    if event_name is not None:
        # A frame without an `event:` line is read as the SSE default, `message` (ChatKit sends
        # none; the round trips check that, and that the REST stream always names its events).
        event["enum"] = [event_name, "message"]
    return {
        "type": "object",
        "required": ["data"],
        "properties": {
            "event": event,
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": data_schema,
            },
        },
    }


def item_schema(raw_schema: dict[str, Any], event_schema: Any) -> dict[str, Any]:
    """The 3.2 `itemSchema` of a stream whose events are `event_schema`."""
    resolved = _component(raw_schema, event_schema)
    mapping = (resolved.get("discriminator") or {}).get("mapping") if isinstance(resolved, dict) else None
    if not mapping:
        return _frame(event_schema)
    return {"oneOf": [_frame({"$ref": ref}, name) for name, ref in mapping.items()]}


@schemathesis.hook
def before_load_schema(context: Any, raw_schema: dict[str, Any]) -> None:
    for path_item in raw_schema.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict):
                continue
            for response in operation.get("responses", {}).values():
                content = response.get("content", {}) if isinstance(response, dict) else {}
                for media_type, media in content.items():
                    is_sse = media_type.split(";")[0].strip().lower() == SSE
                    if is_sse and "schema" in media and "itemSchema" not in media:
                        media["itemSchema"] = item_schema(raw_schema, media.pop("schema"))
