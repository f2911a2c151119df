// The official openai client against `whale serve` (spec api.md §11): chat, streaming,
// reasoning, usage, stop, logprobs, JSON mode, tools, errors, auth, metrics.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, client, metrics, rawPost } from './helpers.js';

let server;
let ai;
const ask = (content) => [{ role: 'user', content }];

before(async () => {
  server = await startServer();
  ai = client(server.baseURL);
});
after(async () => {
  const { code } = await server.stop();
  assert.equal(code, 0, 'graceful shutdown exits 0');
});

function checkUsage(u, { thinking = false } = {}) {
  assert.equal(u.total_tokens, u.prompt_tokens + u.completion_tokens);
  assert.equal(u.prompt_tokens, u.prompt_cache_hit_tokens + u.prompt_cache_miss_tokens);
  assert.equal(u.prompt_tokens_details.cached_tokens, u.prompt_cache_hit_tokens);
  assert.equal(u.prompt_cache_hit_tokens % 64, 0);
  const r = u.completion_tokens_details.reasoning_tokens;
  assert.ok(r <= u.completion_tokens);
  if (thinking) assert.ok(r > 0);
  else assert.equal(r, 0);
}

test('chat completion: shape and usage', async () => {
  const r = await ai.chat.completions.create({ model: 'deepseek-chat', messages: ask('Hello'), max_tokens: 16 });
  assert.match(r.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.model, 'deepseek-chat');
  assert.ok(Number.isInteger(r.created));
  assert.match(r.system_fingerprint, /^fp_[0-9a-f]{10}/);
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].logprobs, null);
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.equal(typeof r.choices[0].message.content, 'string');
  assert.ok(['stop', 'length'].includes(r.choices[0].finish_reason));
  if (r.choices[0].finish_reason === 'length') assert.equal(r.usage.completion_tokens, 16);
  checkUsage(r.usage);
});

test('all chat routes and model listings agree', async () => {
  const body = { model: 'deepseek-chat', messages: ask('Hi'), max_tokens: 4, temperature: 0 };
  const texts = [];
  for (const path of ['/chat/completions', '/v1/chat/completions', '/beta/chat/completions']) {
    const r = await rawPost(server.baseURL, path, body);
    assert.equal(r.status, 200, r.text);
    texts.push(JSON.parse(r.text).choices[0].message.content);
  }
  assert.equal(new Set(texts).size, 1);
  const models = await ai.models.list();
  const ids = models.data.map((m) => m.id);
  assert.deepEqual(ids.slice(0, 2), ['deepseek-chat', 'deepseek-reasoner']);
  for (const m of models.data) assert.equal(m.owned_by, 'deepseek');
  const raw = await (await fetch(`${server.baseURL}/models`)).json();
  assert.equal(raw.object, 'list');
});

test('streaming: framing, role chunk, one finish chunk with usage, same text as non-stream (greedy)', async () => {
  const req = { model: 'deepseek-chat', messages: ask('Tell me a story'), max_tokens: 24, temperature: 0 };
  const plain = await ai.chat.completions.create(req);
  const stream = await ai.chat.completions.create({ ...req, stream: true, stream_options: { include_usage: true } });
  let text = '';
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  assert.equal(chunks[0].choices[0].delta.role, 'assistant');
  const finishIdx = chunks.findIndex((c) => c.choices[0]?.finish_reason);
  assert.equal(finishIdx, chunks.length - 1);
  for (const c of chunks) {
    assert.equal(c.id, chunks[0].id);
    assert.equal(c.created, chunks[0].created);
    assert.equal(c.object, 'chat.completion.chunk');
    text += c.choices[0]?.delta?.content ?? '';
  }
  for (const c of chunks.slice(0, -1)) assert.equal(c.usage, null);
  assert.equal(text, plain.choices[0].message.content);
  assert.equal(chunks.at(-1).choices[0].finish_reason, plain.choices[0].finish_reason);
  checkUsage(chunks.at(-1).usage);
  assert.equal(chunks.at(-1).usage.completion_tokens, plain.usage.completion_tokens);
  // Raw framing.
  const raw = await rawPost(server.baseURL, '/chat/completions', { ...req, stream: true });
  assert.match(raw.headers.get('content-type'), /^text\/event-stream/);
  const events = raw.text.split('\n\n').filter((e) => e.length);
  for (const e of events) assert.ok(e.startsWith('data: ') || e.startsWith(':'), e);
  assert.equal(events.at(-1), 'data: [DONE]');
});

test('reasoning: reasoning_content before content, no think tags, reasoning tokens counted', async () => {
  const r = await ai.chat.completions.create({ model: 'deepseek-reasoner', messages: ask('Hi'), max_tokens: 24, temperature: 1.5, top_p: 0.1 });
  const m = r.choices[0].message;
  assert.equal(typeof m.reasoning_content, 'string');
  assert.ok(!m.content.includes('<think>') && !m.content.includes('</think>'));
  checkUsage(r.usage, { thinking: true });
  const stream = await ai.chat.completions.create({ model: 'deepseek-reasoner', messages: ask('Hi'), max_tokens: 24, stream: true });
  let contentStarted = false;
  let first = true;
  for await (const c of stream) {
    const d = c.choices[0]?.delta;
    if (!d) continue;
    if (first) { assert.equal(d.content, null); assert.equal(d.reasoning_content, ''); first = false; continue; }
    if (d.reasoning_content) { assert.ok(!contentStarted, 'reasoning after content'); assert.equal(d.content, null); }
    if (d.content) { contentStarted = true; assert.equal(d.reasoning_content, null); }
  }
  await assert.rejects(ai.chat.completions.create({ model: 'deepseek-reasoner', messages: ask('Hi'), logprobs: true }),
    (e) => e.status === 400 && /logprobs/.test(e.message));
});

test('stop string ends generation and is not returned', async () => {
  const req = { model: 'deepseek-chat', messages: ask('Count'), max_tokens: 40, temperature: 0 };
  const full = (await ai.chat.completions.create(req)).choices[0].message.content;
  // Pick a stop string from the middle of the greedy output (it may span several tokens).
  const at = Math.floor(full.length / 2);
  const stop = full.slice(at, at + 3);
  if (stop.length < 3) return;
  const r = await ai.chat.completions.create({ ...req, stop: [stop] });
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.equal(r.choices[0].message.content, full.slice(0, full.indexOf(stop)));
  let text = '';
  for await (const c of await ai.chat.completions.create({ ...req, stop, stream: true })) text += c.choices[0]?.delta?.content ?? '';
  assert.equal(text, r.choices[0].message.content);
});

test('logprobs: at most top_logprobs alternatives with their bytes', async () => {
  const r = await ai.chat.completions.create({ model: 'deepseek-chat', messages: ask('Hi'), max_tokens: 8, logprobs: true, top_logprobs: 3 });
  const items = r.choices[0].logprobs.content;
  assert.ok(items.length > 0 && items.length <= 8);
  for (const it of items) {
    assert.ok(it.logprob <= 0);
    assert.ok(Array.isArray(it.bytes));
    const decoded = Buffer.from(it.bytes).toString('utf8');
    if (!decoded.includes('\uFFFD')) assert.equal(it.token, decoded);
    assert.ok(it.top_logprobs.length <= 3);
    for (const t of it.top_logprobs) assert.ok(t.logprob <= 0);
  }
});

test('JSON mode: output parses whenever finish_reason is stop', async () => {
  const r = await ai.chat.completions.create({ model: 'deepseek-chat', messages: ask('Return a JSON object.'), max_tokens: 200, response_format: { type: 'json_object' } });
  const c = r.choices[0];
  assert.ok(['stop', 'length'].includes(c.finish_reason));
  if (c.finish_reason === 'stop') assert.equal(typeof JSON.parse(c.message.content), 'object');
  await assert.rejects(ai.chat.completions.create({ model: 'deepseek-chat', messages: ask('Hi'), response_format: { type: 'json_object' } }),
    (e) => e.status === 400 && e.message.includes("Prompt must contain the word 'json'"));
});

test('tools: forced call, tool result, answer', async () => {
  const tools = [{ type: 'function', function: { name: 'get_weather', description: 'Weather of a city', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
  const messages = ask('Weather in Paris?');
  const r = await ai.chat.completions.create({ model: 'deepseek-chat', messages, tools, tool_choice: { type: 'function', function: { name: 'get_weather' } }, max_tokens: 200 });
  const c = r.choices[0];
  if (c.finish_reason !== 'tool_calls') return;  // arguments ran past max_tokens
  const call = c.message.tool_calls[0];
  assert.equal(call.type, 'function');
  assert.equal(call.function.name, 'get_weather');
  assert.equal(typeof call.function.arguments, 'string');
  JSON.parse(call.function.arguments);
  messages.push(c.message, { role: 'tool', tool_call_id: call.id, content: '{"temp_c": 18}' });
  const answer = await ai.chat.completions.create({ model: 'deepseek-chat', messages, tools, max_tokens: 16 });
  assert.equal(answer.choices.length, 1);
  // Streaming form: a header delta with id and name, then argument fragments.
  const stream = await ai.chat.completions.create({ model: 'deepseek-chat', messages: ask('Weather?'), tools, tool_choice: 'required', max_tokens: 200, stream: true });
  let header = null;
  let finish = null;
  for await (const ch of stream) {
    const tc = ch.choices[0]?.delta?.tool_calls?.[0];
    if (tc && tc.id) header = tc;
    if (ch.choices[0]?.finish_reason) finish = ch.choices[0].finish_reason;
  }
  if (finish === 'tool_calls') { assert.equal(header.function.name, 'get_weather'); assert.equal(header.function.arguments, ''); }
});

test('errors: status and body', async () => {
  const cases = [
    [{ model: 'nope', messages: ask('x') }, 400, /^Model Not Exist$/],
    [{ model: 'deepseek-chat', messages: ask('x'), top_p: 0 }, 400, /valid range of top_p is \(0, 1\.0\]/],
    [{ model: 'deepseek-chat', messages: ask('x'), max_tokens: 0 }, 400, /valid range of max_tokens is \[1, 8192\]/],
    [{ model: 'deepseek-chat', messages: ask('x'), temperature: 2.01 }, 400, /temperature/],
    [{ model: 'deepseek-chat', messages: ask('x'), n: 2 }, 400, /only n = 1/],
    [{ model: 'deepseek-chat', messages: ask('x'), temperature: '1.3' }, 400, /^Failed to deserialize the JSON body into the target type: temperature/],
    [{ model: 'deepseek-chat', messages: ask('x'), tool_choice: 'sometimes' }, 400, /tool_choice/],
    [{ model: 'deepseek-chat', messages: ask('x'.repeat(20000)), max_tokens: 8192 }, 400, /maximum context length is \d+ tokens/],
  ];
  for (const [body, status, re] of cases) {
    const r = await rawPost(server.baseURL, '/chat/completions', body);
    assert.equal(r.status, status, r.text);
    const e = JSON.parse(r.text).error;
    assert.match(e.message, re);
    assert.equal(e.type, 'invalid_request_error');
    assert.equal(e.param, null);
  }
  const bad = await rawPost(server.baseURL, '/chat/completions', '{"model": ');
  assert.equal(bad.status, 400);
  assert.match(JSON.parse(bad.text).error.message, /^Failed to parse the request body as JSON: /);
  const nf = await fetch(`${server.baseURL}/nowhere`);
  assert.equal(nf.status, 404);
  assert.ok((await nf.json()).error);
  const wm = await fetch(`${server.baseURL}/chat/completions`);
  assert.equal(wm.status, 405);
});

test('FIM completion', async () => {
  const r = await ai.completions.create({ model: 'deepseek-chat', prompt: 'def add(a, b):\n', suffix: '\n', max_tokens: 8 });
  assert.equal(r.object, 'text_completion');
  assert.equal(typeof r.choices[0].text, 'string');
  const over = await rawPost(server.baseURL, '/beta/completions', { model: 'deepseek-chat', prompt: 'x', max_tokens: 4097 });
  assert.equal(over.status, 400);
  const reasoner = await rawPost(server.baseURL, '/beta/completions', { model: 'deepseek-reasoner', prompt: 'x' });
  assert.equal(reasoner.status, 400);
});

test('health and metrics follow usage', async () => {
  const h = await (await fetch(`${server.baseURL}/health`)).json();
  assert.equal(h.status, 'ok');
  const before = await metrics(server.baseURL);
  const r = await ai.chat.completions.create({ model: 'deepseek-chat', messages: ask('metrics'), max_tokens: 5 });
  const after = await metrics(server.baseURL);
  const delta = (k) => (after.get(k) ?? 0) - (before.get(k) ?? 0);
  assert.equal(delta('whale_prompt_tokens_total'), r.usage.prompt_tokens);
  assert.equal(delta('whale_completion_tokens_total'), r.usage.completion_tokens);
  assert.equal(delta('whale_prompt_cache_hit_tokens_total'), r.usage.prompt_cache_hit_tokens);
  for (const k of ['whale_requests_running', 'whale_requests_queued', 'whale_kv_cache_usage_ratio', 'whale_kv_cache_tokens',
    'whale_time_to_first_token_seconds_count', 'whale_inter_token_latency_seconds_count', 'whale_request_duration_seconds_count'])
    assert.ok(after.has(k), k);
});

test('auth: wrong and missing keys give 401, the right key works', async () => {
  const keyed = await startServer(['--api-key', 'sk-test-secret']);
  try {
    const body = { model: 'deepseek-chat', messages: ask('x'), max_tokens: 2 };
    const missing = await rawPost(keyed.baseURL, '/chat/completions', body);
    assert.equal(missing.status, 401);
    assert.equal(JSON.parse(missing.text).error.type, 'authentication_error');
    await assert.rejects(client(keyed.baseURL, 'sk-wrong-7f3a').chat.completions.create(body),
      (e) => e.status === 401 && e.message.includes('****7f3a'));
    const ok = await client(keyed.baseURL, 'sk-test-secret').chat.completions.create(body);
    assert.equal(ok.choices.length, 1);
  } finally {
    assert.equal((await keyed.stop()).code, 0);
  }
});
