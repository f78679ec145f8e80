"""SDK round trip of .ci/generators/run with openapi-generator's `python` client.

Drives a running service through the package openapi-generator generated from
openapi/openapi.yaml (study_mode_api_client, on PYTHONPATH). The stream of sendMessage is read
with `send_message_without_preload_content` (the urllib3 response, unread) and each `data:` line
parsed into the generated `TurnEventOut` oneOf with `from_json`. Environment: BASE_URL; API_KEY
(sent as X-API-Key) or USER_ID (the development principal, X-User-Id). Exits 1 at the first
broken expectation.
"""

from __future__ import annotations

import os
import re
import sys

from study_mode_api_client import ApiClient, Configuration, LessonsApi, ThreadsApi
from study_mode_api_client.exceptions import ApiException, NotFoundException
from study_mode_api_client.models import (
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
    RateLimitStatus,
    Rating,
    RenameIn,
    SortOrder,
    ThreadEvent,
    ThreadOut,
    ThreadPage,
    TurnEventOut,
    UserMessageEvent,
)

LESSON = "01-Foundations/02-Agents/01-what-is-an-agent"


class Broken(Exception):
    """A broken expectation."""


def expect(cond: object, message: str) -> None:
    if not cond:
        raise Broken(message)


def make_api() -> ThreadsApi:
    config = Configuration(host=os.environ["BASE_URL"])
    api_key = os.environ.get("API_KEY")
    if api_key:
        config.api_key["apiKeyAuth"] = api_key
        return ThreadsApi(ApiClient(config))
    # The development principal: no credential, the user named by X-User-Id.
    return ThreadsApi(
        ApiClient(config, header_name="X-User-Id", header_value=os.environ["USER_ID"])
    )


def create_threads(api: ThreadsApi, n: int) -> list[ThreadOut]:
    made = []
    for _ in range(n):
        r = api.create_thread_with_http_info(CreateThreadIn(lesson_path=LESSON, mode=Mode.TEACH))
        expect(r.status_code == 201, f"createThread: status {r.status_code}")
        expect(isinstance(r.data, ThreadOut), f"createThread: {r.data!r}")
        expect(r.data.lesson_path == LESSON, f"createThread: {r.data!r}")
        made.append(r.data)
    return made


def page_through_threads(api: ThreadsApi, want: list[str]) -> None:
    seen: set[str] = set()
    after = None
    pages = 0
    while True:
        page = api.list_threads(limit=2, after=after)
        expect(isinstance(page, ThreadPage), f"listThreads: {page!r}")
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


def sse_events(resp):
    """(event name, data) of each event of a urllib3 response, read as it arrives."""
    name, data, buf = None, [], b""
    for chunk in resp.stream(1024, decode_content=True):
        buf += chunk
        while b"\n" in buf:
            raw, buf = buf.split(b"\n", 1)
            line = raw.decode("utf-8").rstrip("\r")
            if line == "":
                if data:
                    yield name, "\n".join(data)
                name, data = None, []
            elif line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip(" "))


def send_and_read(api: ThreadsApi, thread_id: str, message: MessageIn) -> ItemOut:
    resp = api.send_message_without_preload_content(thread_id, message)
    try:
        expect(resp.status == 200, f"sendMessage: status {resp.status}")
        ctype = resp.headers.get("content-type", "")
        expect(ctype.startswith("text/event-stream"), f"sendMessage: content type {ctype}")
        kinds: list[str] = []
        text = ""
        done: ItemOut | None = None
        for name, data in sse_events(resp):
            ev = TurnEventOut.from_json(data).actual_instance
            kinds.append(ev.type)
            expect(name == ev.type, f"event name {name} differs from type {ev.type}")
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
            else:
                raise Broken(f"unexpected event {ev!r}")
    finally:
        resp.release_conn()
    expect(kinds and kinds[0] == "user_message", f"first event {kinds[:1]}")
    expect("delta" in kinds, f"no delta among {kinds}")
    expect(done is not None, f"no done event among {kinds}")
    expect(done.role == "tutor" and done.text == text, "done item differs from the deltas")
    return done


def items(api: ThreadsApi, thread_id: str, answer: ItemOut) -> None:
    p1 = api.list_items(thread_id, limit=1, order=SortOrder.ASC)
    expect(isinstance(p1, ItemPage), f"listItems: {p1!r}")
    expect(len(p1.data) == 1 and p1.has_more, "listItems: first page")
    expect(isinstance(p1.after, str), "listItems: no after cursor")
    p2 = api.list_items(thread_id, limit=100, after=p1.after, order=SortOrder.ASC)
    everything = p1.data + p2.data
    expect(everything[0].role == "user", "listItems: first item is not the student message")
    expect(any(i.id == answer.id for i in everything), "listItems: answer missing")


def lesson(api: LessonsApi) -> None:
    first = api.get_lesson_with_http_info(path=LESSON)
    expect(isinstance(first.data, LessonOut) and first.data.path == LESSON, "getLesson")
    etag = first.headers.get("etag")
    expect(etag, "getLesson: no ETag")
    # The client raises for every status outside 2xx, the documented 304 included.
    try:
        api.get_lesson_with_http_info(path=LESSON, if_none_match=etag)
        raise Broken("getLesson with If-None-Match: no 304")
    except ApiException as e:
        expect(e.status == 304, f"getLesson with If-None-Match: {e.status}")


def main() -> None:
    api = make_api()
    threads = create_threads(api, 3)
    ids = [t.id for t in threads]
    main_id = ids[0]
    page_through_threads(api, ids)

    got = api.get_thread(main_id)
    expect(isinstance(got, ThreadOut) and got.id == main_id, f"getThread: {got!r}")
    renamed = api.rename_thread(main_id, RenameIn(title="Round trip"))
    expect(isinstance(renamed, ThreadOut) and renamed.title == "Round trip", "renameThread")

    answer = send_and_read(api, main_id, MessageIn(text="Teach me this lesson", mode=Mode.TEACH))
    items(api, main_id, answer)
    rated = api.rate_item_with_http_info(main_id, answer.id, FeedbackIn(kind=Rating.POSITIVE))
    expect(rated.status_code == 204, f"rateItem: {rated.status_code}")

    lesson(LessonsApi(api.api_client))
    quota = api.get_rate_limit()
    # Empty on an instance whose quotas are lifted (the run sets them unlimited).
    expect(isinstance(quota, RateLimitStatus), f"getRateLimit: {quota!r}")

    # A message with the student's display name: the generated model checks `user_name`
    # against the spec's pattern with Python's `re`.
    try:
        named = MessageIn(text="What is an agent?", mode=Mode.ASK, user_name="Ada")
    except re.error as e:
        raise Broken(f"MessageIn(user_name='Ada'): the spec's pattern is not a Python regex: {e}")
    send_and_read(api, ids[1], named)

    for tid in ids:
        d = api.delete_thread_with_http_info(tid)
        expect(d.status_code == 204, f"deleteThread: {d.status_code}")
    try:
        api.get_thread(main_id)
        raise Broken("getThread after delete: no error")
    except NotFoundException as e:
        expect(isinstance(e.data, ErrorBody), f"404 body {e.data!r}")
        expect(e.data.error.code == "thread_not_found", f"404 code {e.data.error.code}")
    print("openapi-generator python round trip: ok")


if __name__ == "__main__":
    try:
        main()
    except Broken as e:
        print(f"openapi-generator python round trip: FAILED: {e}", file=sys.stderr)
        sys.exit(1)
