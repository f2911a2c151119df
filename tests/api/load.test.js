// Concurrency: batched greedy decoding equals one-at-a-time decoding; clients that vanish
// mid-stream leave no running request and no leaked KV (spec api.md §3.4, §10.2).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, client, metrics, sleep } from './helpers.js';

let server;
let ai;
before(async () => {
  server = await startServer();
  ai = client(server.baseURL);
});
after(async () => {
  assert.equal((await server.stop()).code, 0);
});

test('16 simultaneous greedy requests equal their one-at-a-time outputs', async () => {
  const prompts = Array.from({ length: 16 }, (_, i) => `Request number ${i}: say something`);
  const req = (p) => ({ model: 'deepseek-chat', messages: [{ role: 'user', content: p }], max_tokens: 12, temperature: 0 });
  const serial = [];
  for (const p of prompts) serial.push((await ai.chat.completions.create(req(p))).choices[0].message.content);
  const parallel = await Promise.all(prompts.map(async (p) => (await ai.chat.completions.create(req(p))).choices[0].message.content));
  assert.deepEqual(parallel, serial);
});

test('100 requests with random disconnects leave no busy slot and no leaked KV', async () => {
  const body = { model: 'deepseek-chat', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 64, stream: true };
  // Baseline: KV held once a request like these has finished (prefix cache included).
  await ai.chat.completions.create({ ...body, stream: false, max_tokens: 2 });
  await sleep(200);
  const base = await metrics(server.baseURL);
  const one = async (i) => {
    const controller = new AbortController();
    const abortAfter = (i * 37) % 150;
    const timer = setTimeout(() => controller.abort(), abortAfter);
    try {
      const res = await fetch(`${server.baseURL}/chat/completions`, {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body), signal: controller.signal,
      });
      const reader = res.body.getReader();
      while (!(await reader.read()).done) { /* drain until done or aborted */ }
    } catch (e) {
      if (e.name !== 'AbortError') throw e;
    } finally {
      clearTimeout(timer);
    }
  };
  for (let wave = 0; wave < 5; ++wave) await Promise.all(Array.from({ length: 20 }, (_, i) => one(wave * 20 + i)));
  let m;
  for (let i = 0; i < 100; ++i) {
    m = await metrics(server.baseURL);
    if (m.get('whale_requests_running') === 0 && m.get('whale_requests_queued') === 0 &&
        m.get('whale_kv_cache_tokens') <= base.get('whale_kv_cache_tokens')) break;
    await sleep(100);
  }
  assert.equal(m.get('whale_requests_running'), 0);
  assert.equal(m.get('whale_requests_queued'), 0);
  assert.ok(m.get('whale_kv_cache_tokens') <= base.get('whale_kv_cache_tokens'),
    `KV tokens ${m.get('whale_kv_cache_tokens')} > baseline ${base.get('whale_kv_cache_tokens')}`);
  // The server still answers.
  const r = await ai.chat.completions.create({ ...body, stream: false, max_tokens: 3 });
  assert.equal(r.choices.length, 1);
});
