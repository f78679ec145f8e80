// SDK round trip of .ci/contract/run: drives a running service through the client that
// @hey-api/openapi-ts generated from openapi/openapi.yaml (into ./client), with no hand-written
// HTTP. Environment: BASE_URL; API_KEY (sent by the generated auth hook as X-API-Key) or USER_ID
// (the development principal, X-User-Id). Exits 1 at the first broken expectation.

import { chatkitRoundTrip } from './chatkit';
import { client } from './client/client.gen';
import {
  createThread,
  deleteThread,
  getLesson,
  getRateLimit,
  getThread,
  listItems,
  listThreads,
  rateItem,
  renameThread,
  sendMessage,
} from './client/sdk.gen';
import type { ItemOut, SendMessageResponse, ThreadOut } from './client/types.gen';

const LESSON = '01-Foundations/02-Agents/01-what-is-an-agent';

function fail(message: string): never {
  throw new Error(message);
}

function expect(cond: boolean, message: string): asserts cond {
  if (!cond) fail(message);
}

function env(name: string): string | undefined {
  const v = process.env[name];
  return v === undefined || v === '' ? undefined : v;
}

function configure(): void {
  const baseUrl = env('BASE_URL') ?? fail('BASE_URL is not set');
  const apiKey = env('API_KEY');
  const userId = env('USER_ID');
  client.setConfig({
    baseUrl,
    // The generated security lists bearer and X-API-Key; answer only the API-key scheme.
    auth: (scheme) => (scheme.type === 'apiKey' ? apiKey : undefined),
    headers: userId ? { 'X-User-Id': userId } : {},
  });
}

async function createThreads(n: number): Promise<ThreadOut[]> {
  const made: ThreadOut[] = [];
  for (let i = 0; i < n; i++) {
    const r = await createThread({ body: { lesson_path: LESSON, mode: 'teach' } });
    expect(r.response.status === 201, `createThread: status ${r.response.status}`);
    const t = r.data ?? fail('createThread: no body');
    expect(t.id.length > 0 && t.lesson_path === LESSON, `createThread: ${JSON.stringify(t)}`);
    made.push(t);
  }
  return made;
}

async function pageThroughThreads(want: string[]): Promise<void> {
  const seen = new Set<string>();
  let after: string | undefined;
  let pages = 0;
  for (;;) {
    const r = await listThreads({ query: { limit: 2, ...(after ? { after } : {}) } });
    const page = r.data ?? fail(`listThreads: status ${r.response.status}`);
    pages++;
    for (const t of page.data) {
      expect(!seen.has(t.id), `listThreads: ${t.id} twice`);
      seen.add(t.id);
    }
    if (!page.has_more) break;
    after = page.after ?? fail('listThreads: has_more without an after cursor');
    expect(pages < 100, 'listThreads: more than 100 pages');
  }
  expect(pages >= 2, `listThreads: ${pages} page(s) for ${want.length} threads at limit 2`);
  for (const id of want) expect(seen.has(id), `listThreads: ${id} missing`);
}

async function sendAndRead(threadId: string): Promise<ItemOut> {
  const kinds: string[] = [];
  let text = '';
  let done: ItemOut | undefined;
  let streamError: unknown;
  const names: (string | undefined)[] = [];
  const { stream } = await sendMessage({
    path: { thread_id: threadId },
    body: { text: 'Teach me this lesson', mode: 'teach' },
    // A POST must not be re-sent: the message would be stored twice.
    sseMaxRetryAttempts: 1,
    onSseError: (e) => {
      streamError = e;
    },
    onSseEvent: (e) => {
      names.push(e.event);
    },
  });
  for await (const event of stream) {
    const ev: SendMessageResponse = event;
    kinds.push(ev.type);
    switch (ev.type) {
      case 'user_message':
        expect(ev.item.role === 'user', `user_message: role ${ev.item.role}`);
        break;
      case 'delta':
        text += ev.delta;
        break;
      case 'done':
        done = ev.item;
        break;
      case 'thread':
        expect(ev.thread.id === threadId, 'thread event of another thread');
        break;
      case 'error':
        fail(`stream error event: ${ev.message}`);
    }
  }
  if (streamError !== undefined) fail(`sendMessage: ${String(streamError)}`);
  expect(kinds[0] === 'user_message', `first event ${kinds[0]}`);
  expect(kinds.includes('delta'), `no delta among ${kinds.join(',')}`);
  const item = done ?? fail(`no done event among ${kinds.join(',')}`);
  expect(item.role === 'tutor' && item.text === text, 'done item differs from the deltas');
  names.forEach((name, i) => {
    expect(name === kinds[i], `event ${i}: name ${name}, type ${kinds[i]}`);
  });
  return item;
}

async function items(threadId: string, tutorItem: ItemOut): Promise<void> {
  const first = await listItems({ path: { thread_id: threadId }, query: { limit: 1, order: 'asc' } });
  const p1 = first.data ?? fail(`listItems: status ${first.response.status}`);
  expect(p1.data.length === 1 && p1.has_more, 'listItems: first page');
  const after = p1.after ?? fail('listItems: no after cursor');
  const rest = await listItems({ path: { thread_id: threadId }, query: { limit: 100, after, order: 'asc' } });
  const p2 = rest.data ?? fail(`listItems: status ${rest.response.status}`);
  const all = [...p1.data, ...p2.data];
  expect(all[0]?.role === 'user', 'listItems: first item is not the student message');
  expect(all.some((i) => i.id === tutorItem.id && i.role === 'tutor'), 'listItems: answer missing');
}

async function lesson(): Promise<void> {
  const first = await getLesson({ query: { path: LESSON } });
  const body = first.data ?? fail(`getLesson: status ${first.response.status}`);
  expect(body.path === LESSON && body.title.length > 0, 'getLesson: body');
  const etag = first.response.headers.get('etag') ?? fail('getLesson: no ETag');
  const again = await getLesson({ query: { path: LESSON }, headers: { 'If-None-Match': etag } });
  expect(again.response.status === 304, `getLesson with If-None-Match: ${again.response.status}`);
}

async function main(): Promise<void> {
  configure();
  const threads = await createThreads(3);
  const ids = threads.map((t) => t.id);
  const main = threads[0] ?? fail('no thread');
  await pageThroughThreads(ids);

  const got = await getThread({ path: { thread_id: main.id } });
  expect(got.data?.id === main.id, `getThread: status ${got.response.status}`);
  const renamed = await renameThread({ path: { thread_id: main.id }, body: { title: 'Round trip' } });
  expect(renamed.data?.title === 'Round trip', `renameThread: status ${renamed.response.status}`);

  const answer = await sendAndRead(main.id);
  await items(main.id, answer);
  const rated = await rateItem({
    path: { thread_id: main.id, item_id: answer.id },
    body: { kind: 'positive' },
  });
  expect(rated.response.status === 204, `rateItem: status ${rated.response.status}`);

  await lesson();
  const quota = await getRateLimit();
  const q = quota.data ?? fail(`getRateLimit: status ${quota.response.status}`);
  expect(Array.isArray(q.buckets), 'getRateLimit: no buckets');
  if (env('API_KEY')) {
    // The round trip's key is of the free tier, whose quotas are limited.
    expect(q.tier === 'free' && q.buckets.length > 0, `getRateLimit: ${JSON.stringify(q)}`);
  }

  await chatkitRoundTrip(LESSON, expect);

  for (const id of ids) {
    const del = await deleteThread({ path: { thread_id: id } });
    expect(del.response.status === 204, `deleteThread: status ${del.response.status}`);
  }
  const gone = await getThread({ path: { thread_id: main.id } });
  expect(gone.response.status === 404, `getThread after delete: ${gone.response.status}`);
  expect(gone.error?.error.code === 'thread_not_found', `404 code ${JSON.stringify(gone.error)}`);
  console.log('typescript round trip: ok');
}

main().catch((e: unknown) => {
  console.error(`typescript round trip: FAILED: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
