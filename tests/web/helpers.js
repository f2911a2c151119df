// Shared pieces of the browser tests: Debian's headless chromium through playwright-core, the
// page's origin (a running `whale serve` given by WHALE_URL, or a static server over web/ when
// the tests run on their own) and a fake API that replays crafted SSE chunks.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The network is closed and no browser can be downloaded: always the system chromium, with
// everything that would phone home switched off. launch() gives it a fresh temporary profile.
export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.WHALE_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

// A page that fails the test on any uncaught script error or alert/confirm/prompt dialog.
export async function openPage(browser, url) {
  const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
  const page = await context.newPage();
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push(`page error: ${e.message}`));
  page.on('dialog', (d) => { page.problems.push(`dialog ${d.type()}: ${d.message()}`); d.dismiss(); });
  await page.goto(url);
  await page.waitForSelector('body[data-ready="true"]');
  return page;
}

function listen(server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${server.address().port}`)));
}

function close(server) {
  server.closeAllConnections?.();
  return new Promise((resolve) => server.close(() => resolve()));
}

// The origin the page is loaded from: WHALE_URL (the embedded assets) or web/ served here.
export async function pageOrigin() {
  if (process.env.WHALE_URL) return { url: process.env.WHALE_URL, stop: async () => {} };
  const root = path.resolve(here, '../../web');
  const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };
  const server = http.createServer((req, res) => {
    const name = new URL(req.url, 'http://x').pathname.replace(/^\/$/, '/index.html');
    const file = path.join(root, path.normalize(name));
    if (!file.startsWith(root) || !fs.existsSync(file)) { res.writeHead(404).end(); return; }
    res.writeHead(200, { 'Content-Type': types[path.extname(file)] || 'application/octet-stream' });
    res.end(fs.readFileSync(file));
  });
  const url = await listen(server);
  return { url, stop: () => close(server) };
}

// A chat chunk as whale and the hosted API stream it (spec api.md §3.4).
export function chunk(delta, extra = {}) {
  return {
    id: 'fake-1', object: 'chat.completion.chunk', created: 1767225600, model: 'fake-model',
    system_fingerprint: 'fp_fake',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: extra.finish_reason ?? null }],
    ...(extra.usage ? { usage: extra.usage } : {}),
  };
}

export function usage({ prompt = 10, completion = 5, hit = 0, reasoning = 0 } = {}) {
  return {
    prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: hit }, prompt_cache_hit_tokens: hit,
    prompt_cache_miss_tokens: prompt - hit, completion_tokens_details: { reasoning_tokens: reasoning },
  };
}

// A fake API on its own origin (so it also exercises the page's ?api= parameter and CORS).
// `fake.reply` is the handler for each chat request: (body, req, res, send) where
// send(chunks, delayMs) streams the chunks as SSE and then [DONE]. Requests are recorded in
// `fake.requests` ({body, headers}); `fake.requireKey` makes every API call need that key.
export async function startFakeApi() {
  const fake = { requests: [], requireKey: '', reply: null, closed: 0 };
  const cors = {
    'Access-Control-Allow-Origin': '*',
    'Access-Control-Allow-Headers': 'Content-Type, Authorization',
    'Access-Control-Allow-Methods': 'GET, POST, OPTIONS',
  };
  const server = http.createServer(async (req, res) => {
    if (req.method === 'OPTIONS') { res.writeHead(204, cors).end(); return; }
    let raw = '';
    for await (const part of req) raw += part;
    if (fake.requireKey && req.headers.authorization !== `Bearer ${fake.requireKey}`) {
      res.writeHead(401, { ...cors, 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: {
        message: req.headers.authorization ? 'Authentication Fails, Your api key: ****oops is invalid'
                                           : 'Authentication Fails, no api key provided',
        type: 'authentication_error', param: null, code: 'invalid_request_error' } }));
      return;
    }
    if (req.url.startsWith('/v1/models')) {
      res.writeHead(200, { ...cors, 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data: [{ id: 'fake-model', object: 'model', owned_by: 'deepseek' }] }));
      return;
    }
    const body = JSON.parse(raw);
    fake.requests.push({ body, headers: req.headers });
    res.on('close', () => { fake.closed++; });
    const send = async (chunks, delayMs = 0) => {
      res.writeHead(200, { ...cors, 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache' });
      for (const c of chunks) {
        if (res.destroyed) return;
        res.write(typeof c === 'string' ? c : `data: ${JSON.stringify(c)}\n\n`);
        if (delayMs) await sleep(delayMs);
      }
      res.end('data: [DONE]\n\n');
    };
    await fake.reply(body, req, res, send);
  });
  fake.url = await listen(server);
  fake.stop = () => close(server);
  return fake;
}

// Sends `text` from the composer and waits until the reply has finished streaming.
export async function sendAndWait(page, text, { timeout = 60000 } = {}) {
  const before = await page.locator('.msg.assistant').count();
  await page.fill('#input', text);
  await page.press('#input', 'Enter');
  await page.waitForFunction((n) => document.querySelectorAll('.msg.assistant').length > n, before);
  await page.waitForSelector('.msg.assistant.pending', { state: 'detached', timeout });
  return page.locator('.msg.assistant').last();
}
