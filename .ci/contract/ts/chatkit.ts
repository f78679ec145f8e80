// The ChatKit part of the TypeScript round trip: every served ChatKit operation through the typed
// `POST /chatkit` schema of the spec. JSON operations use the generated `chatkit` function;
// streaming ones the generated client's SSE method with the spec's `ChatKitEvent` type (the
// generator gives one operation one response media type, and `/chatkit` answers both).

import { client } from './client/client.gen';
import { chatkit } from './client/sdk.gen';
import type {
  ChatKitEvent,
  ChatKitItem,
  ChatKitItemPage,
  ChatKitResponse,
  ChatKitThread,
  ChatKitThreadPage,
  ChatkitData,
  ChatkitErrors,
} from './client/types.gen';

type Request = ChatkitData['body'];
type Check = (cond: boolean, message: string) => void;

const SECURITY = [
  { scheme: 'bearer', type: 'http' },
  { name: 'X-API-Key', type: 'apiKey' },
] as const;

function isThread(r: ChatKitResponse): r is ChatKitThread {
  return 'id' in r && 'status' in r;
}

function isThreadPage(r: ChatKitResponse): r is ChatKitThreadPage {
  return 'data' in r && Array.isArray(r.data) && r.data.every((t) => 'status' in t);
}

function isItemPage(r: ChatKitResponse): r is ChatKitItemPage {
  return 'data' in r && Array.isArray(r.data) && r.data.every((i) => 'thread_id' in i);
}

function itemText(item: ChatKitItem): string {
  return item.content.map((c) => c.text).join('');
}

export async function chatkitRoundTrip(lesson: string, expect: Check): Promise<void> {
  const fail = (message: string): never => {
    expect(false, message);
    throw new Error(message);
  };
  const query: ChatkitData['query'] = { lesson_path: lesson };

  const json = async (body: Request): Promise<ChatKitResponse> => {
    const r = await chatkit({ body, query });
    return r.data ?? fail(`chatkit ${body.type}: status ${r.response.status} ${JSON.stringify(r.error)}`);
  };

  const stream = async (body: Request): Promise<ChatKitEvent[]> => {
    let failure: unknown;
    const names: (string | undefined)[] = [];
    const { stream: events } = await client.sse.post<{ 200: ChatKitEvent }, ChatkitErrors>({
      url: '/chatkit',
      body,
      query,
      security: SECURITY,
      headers: { 'Content-Type': 'application/json' },
      sseMaxRetryAttempts: 1,
      onSseError: (e) => {
        failure = e;
      },
      onSseEvent: (e) => {
        names.push(e.event);
      },
    });
    const seen: ChatKitEvent[] = [];
    for await (const ev of events) seen.push(ev);
    if (failure !== undefined) fail(`chatkit ${body.type}: ${String(failure)}`);
    expect(names.every((n) => n === undefined), `chatkit events carry no event: name (${names})`);
    for (const ev of seen) {
      if (ev.type === 'error') fail(`chatkit ${body.type}: error event ${ev.code} ${ev.message ?? ''}`);
    }
    return seen;
  };

  // A turn's answer: the deltas of its assistant message add up to the text it is done with.
  const answerOf = (events: ChatKitEvent[]): ChatKitItem => {
    let deltas = '';
    let answer: ChatKitItem | undefined;
    for (const ev of events) {
      if (ev.type === 'thread.item.updated' && ev.update.type === 'assistant_message.content_part.text_delta') {
        deltas += ev.update.delta;
      }
      if (ev.type === 'thread.item.done' && ev.item.type === 'assistant_message') answer = ev.item;
    }
    const item = answer ?? fail(`no assistant answer among ${events.map((e) => e.type)}`);
    expect(deltas.length > 0 && itemText(item) === deltas, 'answer text differs from its deltas');
    return item;
  };

  const input = (text: string) => ({
    content: [{ type: 'input_text' as const, text }],
    attachments: [],
    inference_options: { model: 'teach' },
  });

  const created = await stream({ type: 'threads.create', params: { input: input('Teach me') } });
  const first = created[0];
  const thread = first?.type === 'thread.created' ? first.thread : fail(`first event ${first?.type}`);
  const firstAnswer = answerOf(created);
  const next = await stream({
    type: 'threads.add_user_message',
    params: { thread_id: thread.id, input: input('A') },
  });
  answerOf(next);

  const listed = await json({ type: 'threads.list', params: { limit: 100, order: 'desc' } });
  expect(isThreadPage(listed) && listed.data.some((t) => t.id === thread.id), 'threads.list');

  const got = await json({ type: 'threads.get_by_id', params: { thread_id: thread.id } });
  expect(isThread(got) && got.id === thread.id && got.items.data.length > 0, 'threads.get_by_id');

  const page1 = await json({ type: 'items.list', params: { thread_id: thread.id, limit: 1, order: 'asc' } });
  if (!isItemPage(page1)) return fail('items.list: not a page of items');
  expect(page1.data.length === 1 && page1.has_more, 'items.list: first page');
  const after = page1.after ?? fail('items.list: no after cursor');
  const page2 = await json({ type: 'items.list', params: { thread_id: thread.id, limit: 100, after, order: 'asc' } });
  expect(isItemPage(page2) && page2.data.length >= 3, 'items.list: second page');

  const renamed = await json({ type: 'threads.update', params: { thread_id: thread.id, title: 'ChatKit trip' } });
  expect(isThread(renamed) && renamed.title === 'ChatKit trip', 'threads.update');

  const rated = await json({
    type: 'items.feedback',
    params: { thread_id: thread.id, item_ids: [firstAnswer.id], kind: 'positive' },
  });
  expect(Object.keys(rated).length === 0, 'items.feedback answers {}');

  const deleted = await json({ type: 'threads.delete', params: { thread_id: thread.id } });
  expect(Object.keys(deleted).length === 0, 'threads.delete answers {}');
  const gone = await chatkit({ body: { type: 'threads.get_by_id', params: { thread_id: thread.id } }, query });
  expect(gone.response.status === 404, `threads.get_by_id after delete: ${gone.response.status}`);
  expect(gone.error?.error.code === 'thread_not_found', `404 code ${JSON.stringify(gone.error)}`);
}
