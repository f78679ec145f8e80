"""The ChatKit part of the Python round trip: the served ChatKit operations through the typed
`POST /chatkit` schema, with the models openapi-python-client generated. JSON operations go
through the generated `chatkit` module; the streaming ones send its request (`_get_kwargs`)
through the generated client's httpx client and parse each `data:` line into the generated
event model of its `type` (ChatKit events have no `event:` line).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from study_mode_client import AuthenticatedClient
from study_mode_client.api.chat_kit import chatkit
from study_mode_client.models import (
    ChatKitAddUserMessageParams,
    ChatKitAnnotation,
    ChatKitAssistantMessageContentPartAnnotationAddedUpdate,
    ChatKitAssistantMessageContentPartTextDeltaUpdate,
    ChatKitAssistantMessageItem,
    ChatKitCreateParams,
    ChatKitEmpty,
    ChatKitEntitySource,
    ChatKitErrorEvent,
    ChatKitFeedbackKind,
    ChatKitFeedbackParams,
    ChatKitInferenceOptionsInput,
    ChatKitInputTextContentInput,
    ChatKitInputTextContentInputType,
    ChatKitItemPage,
    ChatKitItemsFeedbackRequest,
    ChatKitItemsFeedbackRequestType,
    ChatKitItemsListParams,
    ChatKitItemsListRequest,
    ChatKitItemsListRequestType,
    ChatKitListParams,
    ChatKitOrder,
    ChatKitStreamOptionsEvent,
    ChatKitThread,
    ChatKitThreadCreatedEvent,
    ChatKitThreadItemAddedEvent,
    ChatKitThreadItemDoneEvent,
    ChatKitThreadItemUpdatedEvent,
    ChatKitThreadPage,
    ChatKitThreadParams,
    ChatKitThreadsAddUserMessageRequest,
    ChatKitThreadsAddUserMessageRequestType,
    ChatKitThreadsCreateRequest,
    ChatKitThreadsCreateRequestType,
    ChatKitThreadsDeleteRequest,
    ChatKitThreadsDeleteRequestType,
    ChatKitThreadsGetByIdRequest,
    ChatKitThreadsGetByIdRequestType,
    ChatKitThreadsListRequest,
    ChatKitThreadsListRequestType,
    ChatKitThreadsUpdateRequest,
    ChatKitThreadsUpdateRequestType,
    ChatKitThreadUpdatedEvent,
    ChatKitUpdateParams,
    ChatKitUserMessageInput,
    ErrorBody,
)

# The stream's oneOf (`ChatKitEvent`), by its discriminator `type`.
EVENTS: dict[str, Any] = {
    "thread.created": ChatKitThreadCreatedEvent,
    "thread.updated": ChatKitThreadUpdatedEvent,
    "thread.item.added": ChatKitThreadItemAddedEvent,
    "thread.item.updated": ChatKitThreadItemUpdatedEvent,
    "thread.item.done": ChatKitThreadItemDoneEvent,
    "stream_options": ChatKitStreamOptionsEvent,
    "error": ChatKitErrorEvent,
}

Check = Callable[[object, str], None]


def _message(text: str, mode: str = "teach") -> ChatKitUserMessageInput:
    return ChatKitUserMessageInput(
        content=[ChatKitInputTextContentInput(type_=ChatKitInputTextContentInputType.INPUT_TEXT, text=text)],
        attachments=[],
        inference_options=ChatKitInferenceOptionsInput(model=mode),
    )


def _stream(client: AuthenticatedClient, body: Any, lesson: str, expect: Check) -> list[Any]:
    kwargs = chatkit._get_kwargs(body=body, lesson_path=lesson)
    events: list[Any] = []
    with client.get_httpx_client().stream(**kwargs) as resp:
        expect(resp.status_code == 200, f"chatkit {body.type_}: status {resp.status_code}")
        for line in resp.iter_lines():
            expect(not line.startswith("event:"), "a ChatKit event with an event: line")
            if line.startswith("data:"):
                raw = json.loads(line[len("data:") :])
                model = EVENTS.get(raw.get("type"))
                expect(model is not None, f"unknown ChatKit event {raw.get('type')}")
                event = model.from_dict(raw)
                expect(not isinstance(event, ChatKitErrorEvent), f"error event {raw}")
                events.append(event)
    return events


def _answer(events: list[Any], expect: Check) -> ChatKitAssistantMessageItem:
    deltas = ""
    answer = None
    for ev in events:
        if isinstance(ev, ChatKitThreadItemUpdatedEvent) and isinstance(
            ev.update, ChatKitAssistantMessageContentPartTextDeltaUpdate
        ):
            deltas += ev.update.delta
        if isinstance(ev, ChatKitThreadItemDoneEvent) and isinstance(ev.item, ChatKitAssistantMessageItem):
            answer = ev.item
    expect(answer is not None, f"no assistant answer among {[str(e.type_) for e in events]}")
    assert answer is not None
    expect(deltas and "".join(c.text for c in answer.content) == deltas, "answer differs from its deltas")
    return answer


def chatkit_round_trip(client: AuthenticatedClient, lesson: str, expect: Check) -> None:
    def call(body: Any) -> Any:
        r = chatkit.sync_detailed(client=client, body=body, lesson_path=lesson)
        expect(r.status_code == 200, f"chatkit {body.type_}: status {r.status_code} {r.parsed!r}")
        return r.parsed

    created = _stream(
        client,
        ChatKitThreadsCreateRequest(
            type_=ChatKitThreadsCreateRequestType.THREADS_CREATE,
            params=ChatKitCreateParams(input_=_message("Teach me")),
        ),
        lesson,
        expect,
    )
    expect(created and isinstance(created[0], ChatKitThreadCreatedEvent), "first event not thread.created")
    thread_id = created[0].thread.id
    first_answer = _answer(created, expect)
    _answer(
        _stream(
            client,
            ChatKitThreadsAddUserMessageRequest(
                type_=ChatKitThreadsAddUserMessageRequestType.THREADS_ADD_USER_MESSAGE,
                params=ChatKitAddUserMessageParams(thread_id=thread_id, input_=_message("A")),
            ),
            lesson,
            expect,
        ),
        expect,
    )

    # Ask mode: the answer cites the lesson's sections as annotations, streamed and stored.
    asked = _stream(
        client,
        ChatKitThreadsAddUserMessageRequest(
            type_=ChatKitThreadsAddUserMessageRequestType.THREADS_ADD_USER_MESSAGE,
            params=ChatKitAddUserMessageParams(
                thread_id=thread_id, input_=_message("What do tools let an agent do?", "ask")
            ),
        ),
        lesson,
        expect,
    )
    cited = _answer(asked, expect)
    notes = [n for part in cited.content for n in part.annotations]
    expect(
        bool(notes)
        and all(isinstance(n, ChatKitAnnotation) and isinstance(n.source, ChatKitEntitySource) for n in notes),
        f"ask answer without lesson citations: {cited!r}",
    )
    added = [
        ev.update
        for ev in asked
        if isinstance(ev, ChatKitThreadItemUpdatedEvent)
        and isinstance(ev.update, ChatKitAssistantMessageContentPartAnnotationAddedUpdate)
    ]
    expect(len(added) == len(notes), f"{len(added)} annotation_added events for {len(notes)} annotations")

    listed = call(
        ChatKitThreadsListRequest(
            type_=ChatKitThreadsListRequestType.THREADS_LIST,
            params=ChatKitListParams(limit=100, order=ChatKitOrder.DESC),
        )
    )
    expect(isinstance(listed, ChatKitThreadPage), f"threads.list: {listed!r}")
    expect(any(t.id == thread_id for t in listed.data), "threads.list: thread missing")

    by_id = ChatKitThreadsGetByIdRequest(
        type_=ChatKitThreadsGetByIdRequestType.THREADS_GET_BY_ID,
        params=ChatKitThreadParams(thread_id=thread_id),
    )
    got = call(by_id)
    expect(isinstance(got, ChatKitThread) and got.id == thread_id, f"threads.get_by_id: {got!r}")

    page = call(
        ChatKitItemsListRequest(
            type_=ChatKitItemsListRequestType.ITEMS_LIST,
            params=ChatKitItemsListParams(thread_id=thread_id, limit=1, order=ChatKitOrder.ASC),
        )
    )
    expect(isinstance(page, ChatKitItemPage) and page.has_more and len(page.data) == 1, "items.list")
    rest = call(
        ChatKitItemsListRequest(
            type_=ChatKitItemsListRequestType.ITEMS_LIST,
            params=ChatKitItemsListParams(thread_id=thread_id, limit=100, after=page.after, order=ChatKitOrder.ASC),
        )
    )
    expect(isinstance(rest, ChatKitItemPage) and len(rest.data) >= 3, f"items.list after: {rest!r}")

    renamed = call(
        ChatKitThreadsUpdateRequest(
            type_=ChatKitThreadsUpdateRequestType.THREADS_UPDATE,
            params=ChatKitUpdateParams(thread_id=thread_id, title="ChatKit trip"),
        )
    )
    expect(isinstance(renamed, ChatKitThread) and renamed.title == "ChatKit trip", "threads.update")

    rated = call(
        ChatKitItemsFeedbackRequest(
            type_=ChatKitItemsFeedbackRequestType.ITEMS_FEEDBACK,
            params=ChatKitFeedbackParams(
                thread_id=thread_id, item_ids=[first_answer.id], kind=ChatKitFeedbackKind.POSITIVE
            ),
        )
    )
    expect(isinstance(rated, ChatKitEmpty), f"items.feedback: {rated!r}")
    deleted = call(
        ChatKitThreadsDeleteRequest(
            type_=ChatKitThreadsDeleteRequestType.THREADS_DELETE,
            params=ChatKitThreadParams(thread_id=thread_id),
        )
    )
    expect(isinstance(deleted, ChatKitEmpty), f"threads.delete: {deleted!r}")
    gone = chatkit.sync_detailed(client=client, body=by_id, lesson_path=lesson)
    expect(gone.status_code == 404, f"threads.get_by_id after delete: {gone.status_code}")
    expect(isinstance(gone.parsed, ErrorBody) and gone.parsed.error.code == "thread_not_found", "404 code")
