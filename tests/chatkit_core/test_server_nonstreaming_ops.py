"""JSON operations: listing, paging and the other non-streaming requests (§5.7-§5.16)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chatkit_core.actions import Action
from chatkit_core.store import AttachmentStore, MemoryStore, NotFoundError
from chatkit_core.types import (
    Attachment,
    AttachmentCreateParams,
    AttachmentUploadDescriptor,
    AudioInput,
    FeedbackKind,
    HiddenContextItem,
    ImageAttachment,
    SyncCustomActionResponse,
    ThreadMetadata,
    TranscriptionResult,
    WidgetItem,
)
from chatkit_core.widgets import Card, Text

from ._server_harness import (
    CTX,
    Context,
    ScriptedServer,
    assistant,
    call,
    new_thread,
    store_state,
)

EMPTY_PAGE = {"data": [], "has_more": False}


async def _threads(store: MemoryStore[Context], count: int) -> list[str]:
    """Store `count` threads one second apart; return their ids oldest first."""
    start = datetime(2025, 6, 1, tzinfo=UTC)
    ids = [f"thr_{number:02d}" for number in range(count)]
    for number, thread_id in enumerate(ids):
        await store.save_thread(
            ThreadMetadata(id=thread_id, created_at=start + timedelta(seconds=number)), CTX
        )
    return ids


async def _items(store: MemoryStore[Context], thread_id: str, count: int) -> list[str]:
    ids = [f"msg_{number:02d}" for number in range(count)]
    for number, item_id in enumerate(ids):
        await store.add_thread_item(thread_id, assistant(item_id, thread_id, "x", number), CTX)
    return ids


async def test_threads_list_returns_at_most_twenty_newest_first() -> None:
    store: MemoryStore[Context] = MemoryStore()
    ids = await _threads(store, 25)

    page = await call(ScriptedServer(store), "threads.list", {})

    assert [thread["id"] for thread in page["data"]] == ids[::-1][:20]
    assert page["has_more"] is True and page["after"] == ids[5]


async def test_threads_list_pages_with_an_exclusive_cursor() -> None:
    store: MemoryStore[Context] = MemoryStore()
    oldest, middle, newest = await _threads(store, 3)
    server = ScriptedServer(store)

    first = await call(server, "threads.list", {"limit": 2})
    second = await call(server, "threads.list", {"limit": 2, "after": first["after"]})
    ascending = await call(server, "threads.list", {"order": "asc"})

    assert [t["id"] for t in first["data"]] == [newest, middle]
    assert first["has_more"] is True and first["after"] == middle
    assert [t["id"] for t in second["data"]] == [oldest]
    assert second["has_more"] is False and "after" not in second
    assert [t["id"] for t in ascending["data"]] == [oldest, middle, newest]


@pytest.mark.parametrize("limit", [0, None])
async def test_a_zero_or_null_limit_means_twenty(limit: int | None) -> None:
    store: MemoryStore[Context] = MemoryStore()
    await _threads(store, 21)
    thread_id = (await _threads(store, 1))[0]
    await _items(store, thread_id, 21)
    server = ScriptedServer(store)

    threads = await call(server, "threads.list", {"limit": limit})
    items = await call(server, "items.list", {"thread_id": thread_id, "limit": limit})

    assert len(threads["data"]) == 20 and threads["has_more"] is True
    assert len(items["data"]) == 20 and items["has_more"] is True


async def test_every_listed_thread_has_an_empty_items_page_and_no_private_metadata() -> None:
    store: MemoryStore[Context] = MemoryStore()
    await store.save_thread(
        ThreadMetadata(id="thr_1", created_at=datetime.now(UTC), metadata={"owner": "x"}), CTX
    )
    await _items(store, "thr_1", 2)

    page = await call(ScriptedServer(store), "threads.list", {})

    assert page["data"][0]["items"] == EMPTY_PAGE
    assert page["data"][0]["metadata"] == {}


async def test_items_list_defaults_to_twenty_newest_first_with_an_exclusive_cursor() -> None:
    store: MemoryStore[Context] = MemoryStore()
    thread_id = (await _threads(store, 1))[0]
    ids = await _items(store, thread_id, 25)
    server = ScriptedServer(store)

    first = await call(server, "items.list", {"thread_id": thread_id})
    second = await call(server, "items.list", {"thread_id": thread_id, "after": first["after"]})
    ascending = await call(
        server, "items.list", {"thread_id": thread_id, "order": "asc", "limit": 3}
    )

    assert [item["id"] for item in first["data"]] == ids[::-1][:20]
    assert first["has_more"] is True and first["after"] == ids[5]
    assert [item["id"] for item in second["data"]] == ids[4::-1]
    assert second["has_more"] is False and "after" not in second
    assert [item["id"] for item in ascending["data"]] == ids[:3]


async def test_items_list_filters_hidden_items_after_paging() -> None:
    store: MemoryStore[Context] = MemoryStore()
    thread_id = (await _threads(store, 1))[0]
    await _items(store, thread_id, 3)
    hidden = HiddenContextItem(
        id="hc_1",
        thread_id=thread_id,
        created_at=datetime.now(UTC) + timedelta(minutes=5),
        content="only for the model",
    )
    await store.add_thread_item(thread_id, hidden, CTX)
    server = ScriptedServer(store)

    page = await call(server, "items.list", {"thread_id": thread_id, "limit": 2})
    following = await call(
        server, "items.list", {"thread_id": thread_id, "limit": 2, "after": page["after"]}
    )

    assert [item["id"] for item in page["data"]] == ["msg_02"]
    assert page["has_more"] is True and page["after"] == "msg_02"
    assert [item["id"] for item in following["data"]] == ["msg_01", "msg_00"]


async def test_get_by_id_embeds_the_oldest_twenty_visible_items_in_ascending_order() -> None:
    store: MemoryStore[Context] = MemoryStore()
    thread_id = (await _threads(store, 1))[0]
    hidden = HiddenContextItem(
        id="hc_0",
        thread_id=thread_id,
        created_at=datetime.now(UTC) - timedelta(minutes=5),
        content=1,
    )
    await store.add_thread_item(thread_id, hidden, CTX)
    ids = await _items(store, thread_id, 25)

    thread = await call(ScriptedServer(store), "threads.get_by_id", {"thread_id": thread_id})

    assert [item["id"] for item in thread["items"]["data"]] == ids[:19]
    assert thread["items"]["has_more"] is True and thread["items"]["after"] == ids[18]
    assert thread["id"] == thread_id and thread["metadata"] == {}


async def test_get_by_id_of_an_unknown_thread_raises_not_found() -> None:
    with pytest.raises(NotFoundError):
        await call(ScriptedServer(), "threads.get_by_id", {"thread_id": "thr_nope"})


async def test_threads_update_sets_and_persists_the_title() -> None:
    store: MemoryStore[Context] = MemoryStore()
    server = ScriptedServer(store)
    thread_id = await new_thread(server)

    thread = await call(server, "threads.update", {"thread_id": thread_id, "title": "New"})

    assert thread["title"] == "New" and thread["id"] == thread_id
    assert thread["items"] == EMPTY_PAGE
    assert (await store.load_thread(thread_id, CTX)).title == "New"


async def test_threads_delete_answers_an_empty_object_and_the_thread_is_gone() -> None:
    store: MemoryStore[Context] = MemoryStore()
    server = ScriptedServer(store)
    thread_id = await new_thread(server)

    result = await server.process(
        b'{"type":"threads.delete","params":{"thread_id":"%s"}}' % thread_id.encode(), CTX
    )

    assert result.json == b"{}"  # type: ignore[union-attr]
    with pytest.raises(NotFoundError):
        await call(server, "threads.get_by_id", {"thread_id": thread_id})
    with pytest.raises(NotFoundError):
        await call(server, "items.list", {"thread_id": thread_id})


class FeedbackServer(ScriptedServer):
    def __init__(self, store: MemoryStore[Context] | None = None) -> None:
        super().__init__(store)
        self.received: list[tuple[str, list[str], str, Context]] = []

    async def add_feedback(
        self, thread_id: str, item_ids: list[str], feedback: FeedbackKind, context: Context
    ) -> None:
        self.received.append((thread_id, item_ids, feedback, context))


async def test_items_feedback_passes_the_thread_items_to_the_hook_and_answers_empty() -> None:
    store: MemoryStore[Context] = MemoryStore()
    server = FeedbackServer(store)
    thread_id = await new_thread(server)
    for item_id in ("msg_1", "msg_2"):
        await store.add_thread_item(thread_id, assistant(item_id, thread_id, "x"), CTX)

    answer = await call(
        server,
        "items.feedback",
        {"thread_id": thread_id, "item_ids": ["msg_1", "msg_2"], "kind": "negative"},
    )

    assert answer == {}
    assert server.received == [(thread_id, ["msg_1", "msg_2"], "negative", CTX)]


async def test_items_feedback_on_an_unknown_thread_is_not_found_and_calls_no_hook() -> None:
    server = FeedbackServer()

    with pytest.raises(NotFoundError):
        await call(
            server, "items.feedback", {"thread_id": "thr_x", "item_ids": [], "kind": "positive"}
        )
    assert server.received == []


async def test_items_feedback_passes_only_ids_of_items_of_that_thread() -> None:
    store: MemoryStore[Context] = MemoryStore()
    server = FeedbackServer(store)
    mine, other = await new_thread(server), await new_thread(server)
    await store.add_thread_item(mine, assistant("msg_mine", mine, "x"), CTX)
    await store.add_thread_item(other, assistant("msg_other", other, "x"), CTX)

    await call(
        server,
        "items.feedback",
        {"thread_id": mine, "item_ids": ["msg_other", "msg_mine", "msg_gone"], "kind": "positive"},
    )
    await call(
        server, "items.feedback", {"thread_id": mine, "item_ids": ["msg_gone"], "kind": "negative"}
    )

    assert server.received == [(mine, ["msg_mine"], "positive", CTX), (mine, [], "negative", CTX)]


async def test_the_default_feedback_hook_accepts_feedback() -> None:
    server = ScriptedServer()
    thread_id = await new_thread(server)
    answer = await call(
        server, "items.feedback", {"thread_id": thread_id, "item_ids": [], "kind": "positive"}
    )
    assert answer == {}


class Uploads(AttachmentStore[Context]):
    def __init__(self) -> None:
        self.deleted: list[str] = []

    async def create_attachment(
        self, input: AttachmentCreateParams, context: Context
    ) -> Attachment:
        attachment_id = self.generate_attachment_id(input.mime_type, context)
        return ImageAttachment(
            id=attachment_id,
            name=input.name,
            mime_type=input.mime_type,
            preview_url=f"https://files.example.com/p/{attachment_id}",  # type: ignore[arg-type]
            upload_descriptor=AttachmentUploadDescriptor(
                url=f"https://files.example.com/u/{attachment_id}",  # type: ignore[arg-type]
                method="POST",
            ),
            metadata={"bucket": "private"},
        )

    async def delete_attachment(self, attachment_id: str, context: Context) -> None:
        self.deleted.append(attachment_id)


async def test_attachments_create_returns_an_uploadable_image_and_stores_it() -> None:
    store: MemoryStore[Context] = MemoryStore()
    server = ScriptedServer(store, attachment_store=Uploads())

    created = await call(
        server, "attachments.create", {"name": "a.png", "size": 10, "mime_type": "image/png"}
    )

    assert created["type"] == "image" and created["name"] == "a.png"
    assert created["id"].startswith("atc_")
    assert created["preview_url"] == f"https://files.example.com/p/{created['id']}"
    assert created["upload_descriptor"] == {
        "url": f"https://files.example.com/u/{created['id']}",
        "method": "POST",
        "headers": {},
    }
    assert "metadata" not in created
    stored = await store.load_attachment(created["id"], CTX)
    assert stored.metadata == {"bucket": "private"}


async def test_attachments_delete_removes_bytes_and_metadata() -> None:
    store: MemoryStore[Context] = MemoryStore()
    uploads = Uploads()
    server = ScriptedServer(store, attachment_store=uploads)
    created = await call(server, "attachments.create", {"name": "a", "size": 1, "mime_type": "a/b"})

    answer = await call(server, "attachments.delete", {"attachment_id": created["id"]})

    assert answer == {}
    assert uploads.deleted == [created["id"]]
    with pytest.raises(NotFoundError):
        await store.load_attachment(created["id"], CTX)


async def test_transcribe_hands_bytes_raw_type_and_media_type_to_the_hook() -> None:
    heard: list[tuple[bytes, str, str]] = []

    class Dictation(ScriptedServer):
        async def transcribe(
            self, audio_input: AudioInput, context: Context
        ) -> TranscriptionResult:
            heard.append((audio_input.data, audio_input.mime_type, audio_input.media_type))
            return TranscriptionResult(text="héllo")

    audio = b"\x00\x01binary\xff"
    answer = await call(
        Dictation(),
        "input.transcribe",
        {"audio_base64": base64.b64encode(audio).decode(), "mime_type": "audio/webm;codecs=opus"},
    )

    assert answer == {"text": "héllo"}
    assert heard == [(audio, "audio/webm;codecs=opus", "audio/webm")]


class SyncServer(ScriptedServer):
    def __init__(self, store: MemoryStore[Context], reply: bool) -> None:
        super().__init__(store)
        self.reply = reply
        self.senders: list[WidgetItem | None] = []

    async def sync_action(
        self,
        thread: ThreadMetadata,
        action: Action[str, Any],
        sender: WidgetItem | None,
        context: Context,
    ) -> SyncCustomActionResponse:
        self.senders.append(sender)
        if not self.reply or sender is None:
            return SyncCustomActionResponse()
        updated = sender.model_copy(update={"widget": Card(children=[Text(value=action.type)])})
        return SyncCustomActionResponse(updated_item=updated)


async def _with_widget(store: MemoryStore[Context], server: ScriptedServer) -> str:
    thread_id = await new_thread(server)
    widget = WidgetItem(
        id="wdg_1",
        thread_id=thread_id,
        created_at=datetime.now(UTC),
        widget=Card(children=[Text(value="before")]),
    )
    await store.add_thread_item(thread_id, widget, CTX)
    return thread_id


@pytest.mark.parametrize("reply", [True, False])
async def test_sync_custom_action_answers_the_updated_item_or_nothing_and_stores_nothing(
    reply: bool,
) -> None:
    store: MemoryStore[Context] = MemoryStore()
    server = SyncServer(store, reply)
    thread_id = await _with_widget(store, server)
    before = await store_state(store)

    answer = await call(
        server,
        "threads.sync_custom_action",
        {"thread_id": thread_id, "item_id": "wdg_1", "action": {"type": "after"}},
    )

    if reply:
        assert answer["updated_item"]["id"] == "wdg_1"
        assert answer["updated_item"]["widget"]["children"][0]["value"] == "after"
    else:
        assert answer == {}
    sender = server.senders[0]
    assert sender is not None and sender.id == "wdg_1"
    assert await store_state(store) == before


async def test_sync_custom_action_without_an_item_has_no_sender() -> None:
    store: MemoryStore[Context] = MemoryStore()
    server = SyncServer(store, reply=True)
    thread_id = await new_thread(server)

    answer = await call(
        server, "threads.sync_custom_action", {"thread_id": thread_id, "action": {"type": "x"}}
    )

    assert answer == {}
    assert server.senders == [None]


async def test_context_reaches_the_store_for_every_operation() -> None:
    seen: list[Any] = []

    class Recording(MemoryStore[Context]):
        async def load_threads(
            self, limit: int, after: str | None, order: str, context: Context
        ) -> Any:
            seen.append(context)
            return await super().load_threads(limit, after, order, context)

    other = {"user": "u2"}
    await call(ScriptedServer(Recording()), "threads.list", {}, ctx=other)

    assert seen == [other]
