"""SDK round trip of .ci/contract/run, in Python.

Drives a running service through the client openapi-python-client generated from
openapi/openapi.yaml (package study_mode_client, on PYTHONPATH). The stream of sendMessage is read
with the generated client's httpx client and each `data:` line parsed into the generated event
model with `from_dict`. Environment: BASE_URL; API_KEY (sent as X-API-Key) or USER_ID (the
development principal, X-User-Id). Exits 1 at the first broken expectation.
"""

from __future__ import annotations

import json
import os
import sys
from http import HTTPStatus

from chatkit import chatkit_round_trip
from study_mode_client import AuthenticatedClient
from study_mode_client.api.lessons import get_lesson
from study_mode_client.api.threads import (
    create_thread,
    delete_thread,
    get_rate_limit,
    get_thread,
    list_items,
    list_threads,
    rate_item,
    rename_thread,
    send_message,
)
from study_mode_client.models import (
    CreateThreadIn,
    DeltaEvent,
    DoneEvent,
    ErrorBody,
    ErrorEvent,
    FeedbackIn,
    ItemOut,
    ItemPage,
    LessonOut,
    MessageIn,
    Mode,
    Rating,
    RateLimitStatus,
    RenameIn,
    SortOrder,
    ThreadEvent,
    ThreadOut,
    ThreadPage,
    UserMessageEvent,
)
from study_mode_client.types import UNSET

LESSON = "01-Foundations/02-Agents/01-what-is-an-agent"


class Broken(Exception):
    """A broken expectation."""


def expect(cond: object, message: str) -> None:
    if not cond:
        raise Broken(message)


def make_client() -> AuthenticatedClient:
    base_url = os.environ["BASE_URL"]
    api_key = os.environ.get("API_KEY")
    if api_key:
        return AuthenticatedClient(
            base_url=base_url, token=api_key, prefix="", auth_header_name="X-API-Key"
        )
    user_id = os.environ["USER_ID"]
    # The development principal: no credential, the user named by X-User-Id.
    return AuthenticatedClient(
        base_url=base_url, token=user_id, prefix="", auth_header_name="X-User-Id"
    )


def create_threads(client: AuthenticatedClient, n: int) -> list[ThreadOut]:
    made = []
    for _ in range(n):
        r = create_thread.sync_detailed(
            client=client, body=CreateThreadIn(lesson_path=LESSON, mode=Mode.TEACH)
        )
        expect(r.status_code == HTTPStatus.CREATED, f"createThread: status {r.status_code}")
        expect(isinstance(r.parsed, ThreadOut), f"createThread: {r.parsed!r}")
        assert isinstance(r.parsed, ThreadOut)
        expect(r.parsed.lesson_path == LESSON, f"createThread: {r.parsed!r}")
        made.append(r.parsed)
    return made


def page_through_threads(client: AuthenticatedClient, want: list[str]) -> None:
    seen: set[str] = set()
    after = UNSET
    pages = 0
    while True:
        page = list_threads.sync(client=client, limit=2, after=after)
        expect(isinstance(page, ThreadPage), f"listThreads: {page!r}")
        assert isinstance(page, ThreadPage)
        pages += 1
        for t in page.data:
            expect(t.id not in seen, f"listThreads: {t.id} twice")
            seen.add(t.id)
        if not page.has_more:
            break
        expect(isinstance(page.after, str), "listThreads: has_more without an after cursor")
        after = page.after
        expect(pages < 100, "listThreads: more than 100 pages")
    expect(pages >= 2, f"listThreads: {pages} page(s) for {len(want)} threads at limit 2")
    for tid in want:
        expect(tid in seen, f"listThreads: {tid} missing")


# The generated models of the stream's `oneOf`, by their `type` (the spec's discriminator).
EventModel = UserMessageEvent | DeltaEvent | DoneEvent | ThreadEvent | ErrorEvent
EVENT_MODELS: dict[str, type[EventModel]] = {
    "user_message": UserMessageEvent,
    "delta": DeltaEvent,
    "done": DoneEvent,
    "thread": ThreadEvent,
    "error": ErrorEvent,
}


def parse_event(name: str | None, data: str) -> EventModel:
    """One `data:` line into the generated event model its `type` names."""
    raw = json.loads(data)
    kind = raw.get("type")
    expect(name == kind, f"event name {name} differs from type {kind}")
    model = EVENT_MODELS.get(kind)
    expect(model is not None, f"unknown event type {kind}")
    assert model is not None
    return model.from_dict(raw)


def send_and_read(client: AuthenticatedClient, thread_id: str) -> ItemOut:
    # The generated request (path, body, content type) sent through the generated httpx client,
    # read as a stream.
    kwargs = send_message._get_kwargs(
        thread_id=thread_id, body=MessageIn(text="Teach me this lesson", mode=Mode.TEACH)
    )
    kinds: list[str] = []
    text = ""
    done: ItemOut | None = None
    with client.get_httpx_client().stream(**kwargs) as resp:
        expect(resp.status_code == 200, f"sendMessage: status {resp.status_code}")
        ctype = resp.headers.get("content-type", "")
        expect(ctype.startswith("text/event-stream"), f"sendMessage: content type {ctype}")
        name = None
        for line in resp.iter_lines():
            if line.startswith("event:"):
                name = line[len("event:") :].strip()
            elif line.startswith("data:"):
                ev = parse_event(name, line[len("data:") :].strip())
                kinds.append(str(ev.type_))
                if isinstance(ev, UserMessageEvent):
                    expect(ev.item.role == "user", f"user_message: role {ev.item.role}")
                elif isinstance(ev, DeltaEvent):
                    text += ev.delta
                elif isinstance(ev, DoneEvent):
                    done = ev.item
                elif isinstance(ev, ThreadEvent):
                    expect(ev.thread.id == thread_id, "thread event of another thread")
                elif isinstance(ev, ErrorEvent):
                    raise Broken(f"stream error event: {ev.message}")
            elif line == "":
                name = None
    expect(kinds and kinds[0] == "user_message", f"first event {kinds[:1]}")
    expect("delta" in kinds, f"no delta among {kinds}")
    expect(done is not None, f"no done event among {kinds}")
    assert done is not None
    expect(done.role == "tutor" and done.text == text, "done item differs from the deltas")
    return done


def items(client: AuthenticatedClient, thread_id: str, answer: ItemOut) -> None:
    p1 = list_items.sync(thread_id, client=client, limit=1, order=SortOrder.ASC)
    expect(isinstance(p1, ItemPage), f"listItems: {p1!r}")
    assert isinstance(p1, ItemPage)
    expect(len(p1.data) == 1 and p1.has_more, "listItems: first page")
    expect(isinstance(p1.after, str), "listItems: no after cursor")
    p2 = list_items.sync(thread_id, client=client, limit=100, after=p1.after, order=SortOrder.ASC)
    expect(isinstance(p2, ItemPage), f"listItems: {p2!r}")
    assert isinstance(p2, ItemPage)
    everything = p1.data + p2.data
    expect(everything[0].role == "user", "listItems: first item is not the student message")
    expect(any(i.id == answer.id for i in everything), "listItems: answer missing")


def lesson(client: AuthenticatedClient) -> None:
    first = get_lesson.sync_detailed(client=client, path=LESSON)
    expect(isinstance(first.parsed, LessonOut), f"getLesson: {first.status_code}")
    assert isinstance(first.parsed, LessonOut)
    expect(first.parsed.path == LESSON, "getLesson: path")
    etag = first.headers.get("etag")
    expect(etag, "getLesson: no ETag")
    again = get_lesson.sync_detailed(client=client, path=LESSON, if_none_match=etag)
    expect(again.status_code == HTTPStatus.NOT_MODIFIED, f"getLesson again: {again.status_code}")


def main() -> None:
    client = make_client()
    threads = create_threads(client, 3)
    ids = [t.id for t in threads]
    main_id = ids[0]
    page_through_threads(client, ids)

    got = get_thread.sync(main_id, client=client)
    expect(isinstance(got, ThreadOut) and got.id == main_id, f"getThread: {got!r}")
    renamed = rename_thread.sync(main_id, client=client, body=RenameIn(title="Round trip"))
    expect(isinstance(renamed, ThreadOut) and renamed.title == "Round trip", "renameThread")

    answer = send_and_read(client, main_id)
    items(client, main_id, answer)
    rated = rate_item.sync_detailed(
        main_id, answer.id, client=client, body=FeedbackIn(kind=Rating.POSITIVE)
    )
    expect(rated.status_code == HTTPStatus.NO_CONTENT, f"rateItem: {rated.status_code}")

    lesson(client)
    quota = get_rate_limit.sync(client=client)
    expect(isinstance(quota, RateLimitStatus), f"getRateLimit: {quota!r}")
    assert isinstance(quota, RateLimitStatus)
    if os.environ.get("API_KEY"):
        # The round trip's key is of the free tier, whose quotas are limited.
        expect(quota.tier == "free" and quota.buckets, f"quota {quota!r}")

    chatkit_round_trip(client, LESSON, expect)

    for tid in ids:
        d = delete_thread.sync_detailed(tid, client=client)
        expect(d.status_code == HTTPStatus.NO_CONTENT, f"deleteThread: {d.status_code}")
    gone = get_thread.sync_detailed(main_id, client=client)
    expect(gone.status_code == HTTPStatus.NOT_FOUND, f"getThread after delete: {gone.status_code}")
    expect(isinstance(gone.parsed, ErrorBody), f"404 body {gone.parsed!r}")
    assert isinstance(gone.parsed, ErrorBody)
    expect(gone.parsed.error.code == "thread_not_found", f"404 code {gone.parsed.error.code}")
    print("python round trip: ok")


if __name__ == "__main__":
    try:
        main()
    except Broken as e:
        print(f"python round trip: FAILED: {e}", file=sys.stderr)
        sys.exit(1)
