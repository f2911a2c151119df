// The chat page against a fake API that replays crafted chunks, for replies a random-weight
// model cannot be made to produce: reasoning, hostile markup, exact usage numbers, 401s.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, openPage, pageOrigin, startFakeApi, chunk, usage, sendAndWait, sleep } from './helpers.js';

let browser;
let origin;
let fake;
let pageUrl;

before(async () => {
  browser = await launchBrowser();
  origin = await pageOrigin();
  fake = await startFakeApi();
  pageUrl = `${origin.url}/?api=${encodeURIComponent(fake.url)}`;
});

after(async () => {
  await browser?.close();
  await fake?.stop();
  await origin?.stop();
});

beforeEach(() => {
  fake.requests = [];
  fake.requireKey = '';
  fake.closed = 0;
});

const text = (s) => ({ content: s });

test('a thinking reply shows its reasoning apart from the answer, collapsible, with its token count', async () => {
  fake.reply = (body, req, res, send) => send([
    chunk({ role: 'assistant', content: null, reasoning_content: '' }),
    chunk({ content: null, reasoning_content: 'The user asks for 6 times 7. ' }),
    chunk({ content: null, reasoning_content: 'That is 42.' }),
    chunk({ content: 'The answer is ', reasoning_content: null }),
    chunk({ content: '**42**.', reasoning_content: null }),
    chunk({ content: '', reasoning_content: null },
          { finish_reason: 'stop', usage: usage({ prompt: 80, completion: 9, hit: 64, reasoning: 6 }) }),
  ], 30);
  const page = await openPage(browser, pageUrl);
  const reply = await sendAndWait(page, 'What is 6 times 7?');

  const reasoning = reply.locator('details.reasoning');
  assert.equal(await reasoning.isVisible(), true);
  assert.equal(await reply.locator('.reasoning-text').textContent(), 'The user asks for 6 times 7. That is 42.');
  assert.match(await reasoning.locator('summary').textContent(), /\b6 tokens\b/);
  // The answer holds only the answer, with its markdown rendered.
  assert.equal(await reply.locator('.content').textContent(), 'The answer is 42.');
  assert.equal(await reply.locator('.content strong').textContent(), '42');
  // Folded once the answer started; the summary opens and closes it.
  assert.equal(await reasoning.evaluate((d) => d.open), false);
  await reasoning.locator('summary').click();
  assert.equal(await reasoning.evaluate((d) => d.open), true);
  assert.equal(await reply.locator('.reasoning-text').isVisible(), true);
  await reasoning.locator('summary').click();
  assert.equal(await reasoning.evaluate((d) => d.open), false);

  // Per-reply statistics come from the usage chunk.
  assert.equal(await reply.locator('.stat-tokens').textContent(), '9 tokens');
  assert.match(await reply.locator('.stat-tps').textContent(), /^\d+(\.\d)? tok\/s$/);
  assert.match(await reply.locator('.stat-ttft').textContent(), /^TTFT \d+ ms$/);
  assert.equal(await reply.locator('.stat-cache').textContent(), 'cache hit 64 / 80 prompt tokens');

  const sent = fake.requests[0].body;
  assert.equal(sent.stream, true);
  assert.deepEqual(sent.stream_options, { include_usage: true });
  assert.deepEqual(page.problems, []);
});

const HOSTILE = [
  '<img src=x onerror=alert(1)>',
  '<script>window.__pwned = 1; alert(2)</script>',
  '<iframe src="javascript:alert(3)"></iframe>',
  '[click me](javascript:alert(4)) and <a href="javascript:alert(5)">link</a>',
  '```html\n<b>bold?</b><img src=x onerror=alert(6)>\n```',
  '`<svg onload=alert(7)>` **<u>x</u>**',
].join('\n\n');

test('a hostile reply is shown as inert text', async () => {
  // Split at awkward places, as a tokenizer would.
  const pieces = HOSTILE.match(/[\s\S]{1,5}/g);
  fake.reply = (body, req, res, send) => send([
    chunk({ role: 'assistant', content: null, reasoning_content: '' }),
    chunk({ content: null, reasoning_content: '<img src=x onerror=alert(8)><script>window.__pwned=2</script>' }),
    ...pieces.map((p) => chunk({ content: p, reasoning_content: null })),
    chunk({ content: '' }, { finish_reason: 'stop', usage: usage({ completion: pieces.length }) }),
  ], 2);
  const page = await openPage(browser, pageUrl);
  const reply = await sendAndWait(page, 'Say something nasty');
  // Let anything that could have been injected run.
  await sleep(300);

  const messages = page.locator('#messages');
  for (const tag of ['img', 'script', 'iframe', 'svg', 'b', 'u', 'object', 'embed']) {
    assert.equal(await messages.locator(tag).count(), 0, `no <${tag}> element from model text`);
  }
  assert.equal(await messages.locator('a').count(), 0, 'javascript: links are not made links');
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  assert.deepEqual(page.problems, [], 'no dialog opened and no script error');

  const shown = await reply.locator('.content').innerText();
  assert.ok(shown.includes('<img src=x onerror=alert(1)>'), shown);
  assert.ok(shown.includes('<script>window.__pwned = 1; alert(2)</script>'), shown);
  assert.ok(shown.includes('<b>bold?</b><img src=x onerror=alert(6)>'), shown);
  assert.equal(await reply.locator('pre code').textContent(), '<b>bold?</b><img src=x onerror=alert(6)>');
  assert.equal(await reply.locator('.code-lang').textContent(), 'html');
  assert.equal(await reply.locator('.reasoning-text').textContent(),
               '<img src=x onerror=alert(8)><script>window.__pwned=2</script>');

  // Hostile text survives the round trip through localStorage and a reload just as inertly.
  await page.reload();
  await page.waitForSelector('body[data-ready="true"]');
  assert.ok((await page.locator('.msg.assistant .content').last().innerText()).includes('<img src=x onerror=alert(1)>'));
  assert.equal(await page.locator('#messages img, #messages script').count(), 0);
  assert.deepEqual(page.problems, []);
});

test('markdown: code blocks, inline code, lists, safe links', async () => {
  fake.reply = (body, req, res, send) => send([
    chunk({ role: 'assistant', content: '' }),
    chunk(text('# Title\n\nUse `ls -l`:\n\n```sh\nls -l | wc -l\n  indented\n```\n\n')),
    chunk(text('- one\n- *two*\n\n1. first\n2. second\n\nSee [docs](https://example.com/a?b=1).')),
    chunk(text(''), { finish_reason: 'stop', usage: usage() }),
  ]);
  const page = await openPage(browser, pageUrl);
  const reply = await sendAndWait(page, 'format test');
  const content = reply.locator('.content');
  assert.equal(await content.locator('h3').textContent(), 'Title');
  assert.equal(await content.locator('p code').first().textContent(), 'ls -l');
  assert.equal(await content.locator('pre code').textContent(), 'ls -l | wc -l\n  indented');
  assert.deepEqual(await content.locator('ul li').allTextContents(), ['one', 'two']);
  assert.equal(await content.locator('ul em').textContent(), 'two');
  assert.deepEqual(await content.locator('ol li').allTextContents(), ['first', 'second']);
  const link = content.locator('a');
  assert.equal(await link.getAttribute('href'), 'https://example.com/a?b=1');
  assert.match(await link.getAttribute('rel'), /noopener/);
});

test('multi-turn: history, system prompt, temperature and max tokens go into the request', async () => {
  let turn = 0;
  fake.reply = (body, req, res, send) => {
    turn++;
    return send([
      chunk({ role: 'assistant', content: null, reasoning_content: '' }),
      chunk({ content: null, reasoning_content: `thinking ${turn}` }),
      chunk({ content: `reply ${turn}`, reasoning_content: null }),
      chunk({ content: '' }, { finish_reason: 'stop', usage: usage({ reasoning: 2 }) }),
    ]);
  };
  const page = await openPage(browser, pageUrl);
  await page.fill('#system', 'You are terse.');
  await page.fill('#temperature', '0.3');
  await page.fill('#max-tokens', '77');
  await sendAndWait(page, 'first question');
  await sendAndWait(page, 'second question');

  assert.equal(fake.requests.length, 2);
  const second = fake.requests[1].body;
  assert.equal(second.model, 'fake-model');
  assert.equal(second.temperature, 0.3);
  assert.equal(second.max_tokens, 77);
  // Earlier reasoning is not sent back (spec api.md §4.3).
  assert.deepEqual(second.messages, [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: 'first question' },
    { role: 'assistant', content: 'reply 1' },
    { role: 'user', content: 'second question' },
  ]);
  assert.deepEqual(await page.locator('.msg.user').allTextContents(), ['first question', 'second question']);
  assert.deepEqual(await page.locator('.msg.assistant .content').allTextContents(), ['reply 1', 'reply 2']);

  // Settings are kept across a reload.
  await page.reload();
  await page.waitForSelector('body[data-ready="true"]');
  assert.equal(await page.inputValue('#system'), 'You are terse.');
  assert.equal(await page.inputValue('#max-tokens'), '77');
});

test('Enter sends, Shift+Enter adds a line', async () => {
  fake.reply = (body, req, res, send) => send([chunk(text('ok'), { finish_reason: 'stop', usage: usage() })]);
  const page = await openPage(browser, pageUrl);
  await page.click('#new-chat');
  await page.click('#input');
  await page.keyboard.type('line one');
  await page.keyboard.press('Shift+Enter');
  await page.keyboard.type('line two');
  assert.equal(await page.inputValue('#input'), 'line one\nline two');
  assert.equal(fake.requests.length, 0);
  await page.keyboard.press('Enter');
  await page.waitForSelector('.msg.assistant:not(.pending) .content:has-text("ok")');
  assert.equal(fake.requests.length, 1);
  assert.equal(fake.requests[0].body.messages.at(-1).content, 'line one\nline two');
  assert.equal(await page.locator('.msg.user').last().innerText(), 'line one\nline two');
  assert.equal(await page.inputValue('#input'), '');
});

test('the stop button aborts the request', async () => {
  // An endless slow stream: only the page closing the connection ends it.
  fake.reply = async (body, req, res) => {
    res.writeHead(200, { 'Access-Control-Allow-Origin': '*', 'Content-Type': 'text/event-stream' });
    res.write(`data: ${JSON.stringify(chunk({ role: 'assistant', content: '' }))}\n\n`);
    for (let i = 0; !res.destroyed && i < 2000; i++) {
      res.write(`data: ${JSON.stringify(chunk(text(`word${i} `)))}\n\n`);
      await sleep(20);
    }
  };
  const page = await openPage(browser, pageUrl);
  await page.fill('#input', 'never ending');
  await page.press('#input', 'Enter');
  await page.waitForSelector('.msg.assistant.pending .content:has-text("word5")');
  assert.equal(await page.isVisible('#stop'), true);
  await page.click('#stop');
  await page.waitForSelector('#send', { state: 'visible' });
  const reply = page.locator('.msg.assistant').last();
  assert.equal(await reply.locator('.stat-stopped').textContent(), 'stopped');
  const frozen = await reply.locator('.content').textContent();
  for (let i = 0; i < 50 && fake.closed === 0; i++) await sleep(20);
  assert.equal(fake.closed, 1, 'the server saw the connection close');
  await sleep(200);
  assert.equal(await reply.locator('.content').textContent(), frozen, 'no text after stop');
  assert.match(frozen, /^word0 word1 /);
});

test('a reply cut off by a reload keeps what had arrived, marked interrupted', async () => {
  fake.reply = async (body, req, res) => {
    res.writeHead(200, { 'Access-Control-Allow-Origin': '*', 'Content-Type': 'text/event-stream' });
    for (let i = 0; !res.destroyed && i < 2000; i++) {
      res.write(`data: ${JSON.stringify(chunk(text(`part${i} `)))}\n\n`);
      await sleep(20);
    }
  };
  const page = await openPage(browser, pageUrl);
  await page.fill('#input', 'interrupt me');
  await page.press('#input', 'Enter');
  // Streaming replies are saved about once a second.
  await page.waitForSelector('.msg.assistant.pending .content:has-text("part80")');
  await page.reload();
  await page.waitForSelector('body[data-ready="true"]');
  const reply = page.locator('.msg.assistant').last();
  assert.match(await reply.locator('.content').textContent(), /^part0 part1 part2 /);
  assert.equal(await reply.locator('.stat-stopped').textContent(), 'interrupted');
  assert.equal(await page.isVisible('#send'), true);
});

test('a 401 asks for an API key, then retries with it', async () => {
  fake.requireKey = 'sk-right-key';
  fake.reply = (body, req, res, send) => send([chunk(text('welcome'), { finish_reason: 'stop', usage: usage() })]);
  const page = await openPage(browser, pageUrl);
  // Listing models already met the 401.
  await page.waitForSelector('#key-form', { state: 'visible' });
  assert.match(await page.locator('#key-form').innerText(), /no api key provided/);
  await page.fill('#input', 'hello?');
  await page.press('#input', 'Enter');
  await page.waitForSelector('.msg.assistant .error:has-text("Authentication")');
  await page.fill('#api-key', 'sk-right-key');
  await page.click('#key-form button');
  await page.waitForSelector('#key-form', { state: 'hidden' });
  await page.waitForSelector('.msg.assistant:not(.pending) .content:has-text("welcome")');
  const last = fake.requests.at(-1);
  assert.equal(last.headers.authorization, 'Bearer sk-right-key');
  assert.equal(await page.locator('.msg.assistant .error').last().isVisible(), false);
  assert.equal(await page.locator('#model').inputValue(), 'fake-model');
});

test('screenshot of a conversation', async () => {
  const answer = 'Here is a loop in C:\n\n```c\nfor (int i = 0; i < 3; i++)\n  printf("%d\\n", i);\n```\n\n' +
                 'It prints **0**, **1** and **2**, each on its own line. See `man 3 printf`.';
  fake.reply = (body, req, res, send) => send([
    chunk({ role: 'assistant', content: null, reasoning_content: '' }),
    chunk({ content: null, reasoning_content: 'A short C loop with printf answers this.' }),
    ...answer.match(/[\s\S]{1,12}/g).map((p) => chunk({ content: p, reasoning_content: null })),
    chunk({ content: '' }, { finish_reason: 'stop', usage: usage({ prompt: 70, completion: 48, hit: 64, reasoning: 9 }) }),
  ], 5);
  const page = await openPage(browser, pageUrl);
  await page.fill('#system', 'You are a concise programming assistant.');
  await sendAndWait(page, 'How do I print 0 to 2 in C?');
  await page.locator('details.reasoning summary').click();
  const file = process.env.WHALE_SCREENSHOT || path.join(os.tmpdir(), 'web-screenshot.png');
  await page.screenshot({ path: file });
  assert.ok(fs.statSync(file).size > 1000, file);
  assert.deepEqual(page.problems, []);
});
