// SDK round trip of .ci/generators/run with openapi-generator's `typescript-fetch` client.
//
// Drives a running service through the client generated from openapi/openapi.yaml (./client).
// The stream of sendMessage is read from `sendMessageRaw(...).raw.body` (the fetch Response,
// unread): each `data:` line is parsed with the generated `TurnEventOutFromJSON` and narrowed
// on `type`. Environment: BASE_URL; API_KEY (sent as X-API-Key) or USER_ID (the development
// principal, X-User-Id). Exits 1 at the first broken expectation.
import {
  Configuration,
  ErrorBodyFromJSON,
  ItemOut,
  LessonsApi,
  MessageIn,
  Mode,
  Rating,
  ResponseError,
  SortOrder,
  ThreadsApi,
  TurnEventOut,
  TurnEventOutFromJSON,
} from "./client";

const LESSON = "01-Foundations/02-Agents/01-what-is-an-agent";

class Broken extends Error {}

function expect(cond: unknown, message: string): asserts cond {
  if (!cond) throw new Broken(message);
}

function makeConfig(): Configuration {
  const basePath = process.env.BASE_URL;
  expect(basePath, "BASE_URL is not set");
  const apiKey = process.env.API_KEY;
  if (apiKey) return new Configuration({ basePath, apiKey });
  const userId = process.env.USER_ID;
  expect(userId, "API_KEY or USER_ID must be set");
  // The development principal: no credential, the user named by X-User-Id.
  return new Configuration({ basePath, headers: { "X-User-Id": userId } });
}

async function lesson(api: LessonsApi): Promise<void> {
  const first = await api.getLessonRaw({ path: LESSON });
  expect((await first.value()).path === LESSON, "getLesson");
  const etag = first.raw.headers.get("etag");
  expect(etag, "getLesson: no ETag");
  // The client throws for every status outside 2xx, the documented 304 included.
  try {
    await api.getLessonRaw({ path: LESSON, ifNoneMatch: etag });
    throw new Broken("getLesson with If-None-Match: no 304");
  } catch (e) {
    if (!(e instanceof ResponseError)) throw e;
    expect(e.response.status === 304, `getLesson with If-None-Match: ${e.response.status}`);
  }
}

async function pageThroughThreads(api: ThreadsApi, want: string[]): Promise<void> {
  const seen = new Set<string>();
  let after: string | undefined;
  let pages = 0;
  for (;;) {
    const page = await api.listThreads({ limit: 2, after });
    pages += 1;
    for (const t of page.data) {
      expect(!seen.has(t.id), `listThreads: ${t.id} twice`);
      seen.add(t.id);
    }
    if (!page.hasMore) break;
    expect(typeof page.after === "string", "listThreads: hasMore without an after cursor");
    after = page.after;
    expect(pages < 100, "listThreads: more than 100 pages");
  }
  expect(pages >= 2, `listThreads: ${pages} page(s) for ${want.length} threads at limit 2`);
  for (const id of want) expect(seen.has(id), `listThreads: ${id} missing`);
}

/** [event name, data] of each server-sent event of a body, as it arrives. */
async function* sseEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<[string | undefined, string]> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  let name: string | undefined;
  let data: string[] = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl).replace(/\r$/, "");
      buf = buf.slice(nl + 1);
      if (line === "") {
        if (data.length > 0) yield [name, data.join("\n")];
        name = undefined;
        data = [];
      } else if (line.startsWith("event:")) {
        name = line.slice(6).trim();
      } else if (line.startsWith("data:")) {
        data.push(line.slice(5).replace(/^ /, ""));
      }
    }
  }
}

async function sendAndRead(api: ThreadsApi, threadId: string, messageIn: MessageIn): Promise<ItemOut> {
  const res = await api.sendMessageRaw({ threadId, messageIn });
  const ctype = res.raw.headers.get("content-type") ?? "";
  expect(ctype.startsWith("text/event-stream"), `sendMessage: content type ${ctype}`);
  expect(res.raw.body, "sendMessage: no body");
  const kinds: string[] = [];
  let text = "";
  let done: ItemOut | undefined;
  for await (const [name, data] of sseEvents(res.raw.body)) {
    const ev: TurnEventOut = TurnEventOutFromJSON(JSON.parse(data));
    kinds.push(ev.type);
    expect(name === ev.type, `event name ${name} differs from type ${ev.type}`);
    switch (ev.type) {
      case "user_message":
        expect(ev.item.role === "user", `user_message: role ${ev.item.role}`);
        break;
      case "delta":
        text += ev.delta;
        break;
      case "done":
        done = ev.item;
        break;
      case "thread":
        expect(ev.thread.id === threadId, "thread event of another thread");
        break;
      case "error":
        throw new Broken(`stream error event: ${ev.message}`);
    }
  }
  expect(kinds[0] === "user_message", `first event ${kinds[0]}`);
  expect(kinds.includes("delta"), `no delta among ${kinds}`);
  expect(done, `no done event among ${kinds}`);
  expect(done.role === "tutor" && done.text === text, "done item differs from the deltas");
  return done;
}

async function items(api: ThreadsApi, threadId: string, answer: ItemOut): Promise<void> {
  const p1 = await api.listItems({ threadId, limit: 1, order: SortOrder.Asc });
  expect(p1.data.length === 1 && p1.hasMore, "listItems: first page");
  expect(typeof p1.after === "string", "listItems: no after cursor");
  const p2 = await api.listItems({ threadId, limit: 100, after: p1.after, order: SortOrder.Asc });
  const all = [...p1.data, ...p2.data];
  expect(all[0]?.role === "user", "listItems: first item is not the student message");
  expect(all.some((i) => i.id === answer.id), "listItems: answer missing");
}

async function main(): Promise<void> {
  const config = makeConfig();
  const api = new ThreadsApi(config);
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await api.createThreadRaw({ createThreadIn: { lessonPath: LESSON, mode: Mode.Teach } });
    expect(r.raw.status === 201, `createThread: status ${r.raw.status}`);
    const t = await r.value();
    expect(t.lessonPath === LESSON, `createThread: ${JSON.stringify(t)}`);
    ids.push(t.id);
  }
  const mainId = ids[0];
  expect(mainId, "no thread");
  await pageThroughThreads(api, ids);

  const got = await api.getThread({ threadId: mainId });
  expect(got.id === mainId && got.createdAt instanceof Date, "getThread");
  const renamed = await api.renameThread({ threadId: mainId, renameIn: { title: "Round trip" } });
  expect(renamed.title === "Round trip", "renameThread");

  const answer = await sendAndRead(api, mainId, { text: "Teach me this lesson", mode: Mode.Teach });
  await items(api, mainId, answer);
  const rated = await api.rateItemRaw({
    threadId: mainId,
    itemId: answer.id,
    feedbackIn: { kind: Rating.Positive },
  });
  expect(rated.raw.status === 204, `rateItem: ${rated.raw.status}`);
  // A message with the student's display name, on another thread.
  const second = ids[1];
  expect(second, "no second thread");
  await sendAndRead(api, second, { text: "What is an agent?", mode: Mode.Ask, userName: "Ada" });

  await lesson(new LessonsApi(config));
  const quota = await api.getRateLimit();
  // Empty on an instance whose quotas are lifted (the run sets them unlimited).
  expect(Array.isArray(quota.buckets), "getRateLimit: no buckets");

  for (const threadId of ids) {
    const d = await api.deleteThreadRaw({ threadId });
    expect(d.raw.status === 204, `deleteThread: ${d.raw.status}`);
  }
  try {
    await api.getThread({ threadId: mainId });
    throw new Broken("getThread after delete: no error");
  } catch (e) {
    if (!(e instanceof ResponseError)) throw e;
    expect(e.response.status === 404, `getThread after delete: ${e.response.status}`);
    const body = ErrorBodyFromJSON(await e.response.json());
    expect(body.error.code === "thread_not_found", `404 code ${body.error.code}`);
  }
  console.log("openapi-generator typescript-fetch round trip: ok");
}

main().catch((e: unknown) => {
  console.error(`openapi-generator typescript-fetch round trip: FAILED: ${e instanceof Error ? e.message : e}`);
  process.exit(1);
});
