"""`POST /chatkit` against the upstream ChatKit types (issue 17): the official Python package
`openai-chatkit` (requirements.txt here; only its `chatkit.types` pydantic models are used).

    python3 check_chatkit.py PATH/TO/study-mode-api

Starts the service twice over the sample lessons (a development instance, SQLite in a temporary
folder, the book synced at start): once with a fake OpenAI-compatible model served here (its
answer cites source [1]), once with the offline tutor. Each time it asks a question in ask mode,
validates the request with `ChatKitReq` and every `data:` line of the stream with
`ThreadStreamEvent` (pydantic strict mode, and no field the upstream types lack), checks that
the citation arrives as an `annotation_added` update with an `EntitySource` and stays on the
finished answer, then reads the thread back (`items.list`, `threads.get_by_id`, `threads.list`,
sent as the upstream models serialize them; answers validated as `Page[ThreadItem]`, `Thread`,
`Page[Thread]`) with the annotations stored.
Prints one line per check; exits 1 when any failed. Needs pydantic, typing_extensions, jinja2
and the upstream `chatkit` package on the path (not .ci/contract/py, whose `chatkit` is ours).
"""

from __future__ import annotations

import json
import re
import signal
import sys
import tempfile
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

try:
    import chatkit.types as ck  # the upstream package, not .ci/contract/py/chatkit.py
except ImportError as err:
    sys.exit(f"the upstream openai-chatkit package is not on the path: {err}")

sys.dont_write_bytecode = True  # no __pycache__ in the tree for the module below
from instances import FakeModel, Service, http, start_fake_model  # noqa: E402

LESSON = "01-Foundations/02-Agents/01-what-is-an-agent"
OTHER = "01-Foundations/02-Agents/02-the-agent-loop"
OTHER_TITLE = "The Agent Loop"
SENTENCE = (
    "The loop ends when the goal is met, when a step limit is reached, or when the agent "
    "decides it needs a person."
)

EVENT = TypeAdapter(ck.ThreadStreamEvent)
REQUEST = TypeAdapter(ck.ChatKitReq)
ITEMS = TypeAdapter(ck.Page[ck.ThreadItem])
THREAD = TypeAdapter(ck.Thread)
# threads.list: upstream ChatKitServer answers threads with an empty page of items.
THREADS = TypeAdapter(ck.Page[ck.Thread])

FAILED = 0


def check(ok: bool, name: str, detail: str = "") -> bool:
    global FAILED
    print(f"{'PASS' if ok else 'FAIL'}  {name}" + ("" if ok or not detail else f": {detail}"), flush=True)
    FAILED += 0 if ok else 1
    return ok


# --- Validation ------------------------------------------------------------------------------


def unknown_fields(value: Any, raw: Any, where: str = "$") -> list[str]:
    """JSON members of `raw` that the validated upstream model `value` has no field for
    (pydantic ignores them, so validation alone does not see them)."""
    found: list[str] = []
    if isinstance(value, BaseModel) and isinstance(raw, dict):
        fields = type(value).model_fields
        names = {f.alias or n: n for n, f in fields.items()}
        for key, member in raw.items():
            if key not in names:
                found.append(f"{where}.{key}")
            else:
                found += unknown_fields(getattr(value, names[key]), member, f"{where}.{key}")
    elif isinstance(value, list) and isinstance(raw, list):
        for i, (v, r) in enumerate(zip(value, raw, strict=True)):
            found += unknown_fields(v, r, f"{where}[{i}]")
    return found


def validate(adapter: TypeAdapter, text: str) -> tuple[Any, str]:
    """(the upstream model, "") or (None, why it does not validate)."""
    try:
        value = adapter.validate_json(text, strict=True)
    except ValidationError as err:
        return None, f"{err} in {text}"
    extra = unknown_fields(value, json.loads(text))
    return (None, f"members the upstream types lack {extra} in {text}") if extra else (value, "")


# --- The checks ------------------------------------------------------------------------------


def chatkit_request(service: Service, body: dict, what: str) -> bool:
    """Validates `body` as an upstream `ChatKitReq`."""
    _, why = validate(REQUEST, json.dumps(body))
    return check(not why, f"{service.name}: the {what} request is an upstream ChatKitReq", why)


def stream(service: Service, body: dict) -> list[Any] | None:
    """POSTs a streaming request; every `data:` line validated as a `ThreadStreamEvent`."""
    status, raw, headers = http("POST", f"{service.url}/chatkit?lesson_path={LESSON}", body, timeout=60)
    if not check(status == 200, f"{service.name}: the stream starts", f"status {status}: {raw[:500]!r}"):
        return None
    check(
        headers.get("content-type", "").startswith("text/event-stream"),
        f"{service.name}: the stream is text/event-stream",
        headers.get("content-type", ""),
    )
    events, bad = [], []
    for frame in raw.decode().split("\n\n"):
        for line in frame.splitlines():
            if line.startswith(":"):
                continue  # an SSE comment (keep-alive)
            if not line.startswith("data:"):
                bad.append(f"a line that is not data: {line!r}")
                continue
            event, why = validate(EVENT, line[len("data:") :].strip())
            if why:
                bad.append(why)
            else:
                events.append(event)
    types = [e.type for e in events]
    check(
        not bad and bool(events),
        f"{service.name}: all {len(events)} events validate as upstream ThreadStreamEvent",
        "; ".join(bad) or "no events",
    )
    check(
        not any(isinstance(e, ck.ErrorEvent) for e in events), f"{service.name}: no error event", str(types)
    )
    check(
        bool(events) and isinstance(events[0], ck.ThreadCreatedEvent),
        f"{service.name}: the stream opens with thread.created",
        str(types),
    )
    return events


def annotations_added(events: list[Any]) -> list[Any]:
    return [
        e.update.annotation
        for e in events
        if isinstance(e, ck.ThreadItemUpdatedEvent)
        and isinstance(e.update, ck.AssistantMessageContentPartAnnotationAdded)
    ]


def answer_checks(service: Service, events: list[Any], path: str, title: str) -> None:
    """The citation streams as an annotation of an `EntitySource` on `path` (described by the
    lesson's `title`) and stays on the finished answer; the marker is gone from the text."""
    name = service.name
    added = annotations_added(events)
    done = [
        e.item
        for e in events
        if isinstance(e, ck.ThreadItemDoneEvent) and isinstance(e.item, ck.AssistantMessageItem)
    ]
    deltas = "".join(
        e.update.delta
        for e in events
        if isinstance(e, ck.ThreadItemUpdatedEvent)
        and isinstance(e.update, ck.AssistantMessageContentPartTextDelta)
    )
    check(bool(added), f"{name}: an assistant_message.content_part.annotation_added update")
    if check(
        bool(added) and all(isinstance(a.source, ck.EntitySource) for a in added),
        f"{name}: its annotation's source is an upstream EntitySource",
        str([a.source for a in added]),
    ):
        source = added[0].source
        check(source.data.get("path") == path, f"{name}: the EntitySource cites {path}", str(source.data))
        check(source.description == title, f"{name}: the EntitySource describes {title!r}", str(source))
    if not check(len(done) == 1, f"{name}: one finished assistant_message item", str(len(done))):
        return
    final = done[0].content
    stored = [a for part in final for a in part.annotations]
    check(
        stored == added, f"{name}: the finished answer holds the streamed annotations", f"{stored} != {added}"
    )
    text = "".join(part.text for part in final)
    check("[1]" not in text, f"{name}: the citation marker left the text", repr(text))
    check(text == deltas, f"{name}: the finished text equals its deltas", f"{text!r} != {deltas!r}")
    at = stored[0].index if stored else None
    check(
        at is not None and 0 <= at <= len(text),
        f"{name}: the annotation has an inline place",
        f"{at} in {text!r}",
    )


def json_op(service: Service, body: dict, answer: TypeAdapter, what: str) -> Any:
    """A JSON operation: `body` validated as a `ChatKitReq` and sent as the upstream models
    serialize it (defaults and nulls included); its answer validated with `answer`."""
    name = service.name
    if not chatkit_request(service, body, body["type"]):
        return None
    sent = json.loads(REQUEST.dump_json(REQUEST.validate_python(body)))
    status, raw, _ = http("POST", f"{service.url}/chatkit?lesson_path={LESSON}", sent)
    if not check(status == 200, f"{name}: {body['type']} answers 200", f"{status}: {raw[:500]!r}"):
        return None
    value, why = validate(answer, raw.decode())
    return value if check(not why, f"{name}: {body['type']} validates as upstream {what}", why) else None


def items_checks(service: Service, thread_id: str, added: list[Any]) -> None:
    """items.list, threads.get_by_id and threads.list of the new thread: the question and the
    answer, its annotations stored."""
    name = service.name
    page = json_op(
        service,
        {"type": "items.list", "params": {"thread_id": thread_id, "order": "asc"}},
        ITEMS,
        "Page[ThreadItem]",
    )
    thread = json_op(
        service, {"type": "threads.get_by_id", "params": {"thread_id": thread_id}}, THREAD, "Thread"
    )
    threads = json_op(service, {"type": "threads.list", "params": {}}, THREADS, "Page[Thread]")
    if threads:
        check(
            any(t.id == thread_id for t in threads.data),
            f"{name}: threads.list holds the thread",
            str([t.id for t in threads.data]),
        )
    for items, what in ((page, "items.list"), (thread and thread.items, "threads.get_by_id")):
        if not items:
            continue
        kinds = [type(i).__name__ for i in items.data]
        answers = [i for i in items.data if isinstance(i, ck.AssistantMessageItem)]
        check(
            any(isinstance(i, ck.UserMessageItem) for i in items.data) and len(answers) == 1,
            f"{name}: {what} holds the question and the answer",
            str(kinds),
        )
        stored = [a for i in answers for part in i.content for a in part.annotations]
        check(
            bool(stored) and stored == added,
            f"{name}: {what} keeps the answer's annotations",
            f"{stored} != {added}",
        )


def ask(service: Service, question: str, cited: Callable[[], tuple[str, str] | None]) -> None:
    """Asks `question` in ask mode as a new thread; `cited()` is the (path, title) the answer
    must cite, known once it streamed."""
    body = {
        "type": "threads.create",
        "params": {
            "input": {
                "content": [{"type": "input_text", "text": question}],
                "attachments": [],
                "inference_options": {"model": "ask"},
            }
        },
    }
    if not chatkit_request(service, body, "threads.create"):
        return
    events = stream(service, body)
    expected = cited() if events else None
    if not events or not expected:
        return
    answer_checks(service, events, *expected)
    if isinstance(events[0], ck.ThreadCreatedEvent):
        items_checks(service, events[0].thread.id, annotations_added(events))


def cited_source_1() -> tuple[str, str] | None:
    """The fake model's answer cites source [1]: the lesson of source 1 in its last prompt
    (title and path, known for the two sample lessons)."""
    if not check(FakeModel.last_body is not None, "model: the fake model was asked"):
        return None
    system = FakeModel.last_body["messages"][0]["content"]
    found = re.search(r'<source number="1" lesson="([^"]*)"', system)
    title = found.group(1) if found else ""
    path = {"What Is an AI Agent?": LESSON, OTHER_TITLE: OTHER}.get(title)
    check(path is not None, "model: the prompt's source 1 is a sample lesson", title)
    return (path, title) if path else None


def ready(service: Service) -> bool:
    why = service.wait_ready()
    return check(not why, f"{service.name}: ready, the two sample lessons indexed", why)


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    binary = sys.argv[1]
    print(f"openai-chatkit {version('openai-chatkit')} types from {Path(ck.__file__).parent}", flush=True)
    # A SIGTERM (the run's time bound) unwinds through the `finally` that stops the services.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    model = start_fake_model()
    services: list[Service] = []
    with tempfile.TemporaryDirectory(prefix="study-mode-upstream-") as tmp:
        work = Path(tmp)
        try:
            # The model tutor against the fake model: its answer cites source [1].
            base = f"http://127.0.0.1:{model.server_address[1]}/v1"
            fake = {"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": base, "MODEL_TIMEOUT_SECS": "10"}
            svc = Service(binary, "model", work, fake)
            services.append(svc)
            if ready(svc):
                ask(svc, "When does the agent loop end?", cited_source_1)
            svc.stop()

            # The offline tutor: it quotes the other lesson's sentence and cites that lesson.
            svc = Service(binary, "offline", work, {})
            services.append(svc)
            if ready(svc):
                ask(svc, SENTENCE, lambda: (OTHER, OTHER_TITLE))
            svc.stop()
        finally:
            for svc in services:
                svc.stop()
            model.shutdown()
        if FAILED:
            for svc in services:
                print(f"---- {svc.name} service log (last lines)\n{svc.tail()}", file=sys.stderr)
    print(f"{'FAILED' if FAILED else 'all checks passed'} ({FAILED} failed)", flush=True)
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
