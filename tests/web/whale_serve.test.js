// The chat page as `whale serve` embeds it, against the real server on the demo model (random
// weights: the text is gibberish with stray bytes, so only its shape is checked). The tests
// share one page and run in order: stream, stop, reload, thinking.
// Environment: WHALE_URL, the base URL of a running `whale serve` (run.sh starts one).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, openPage, sendAndWait, sleep } from './helpers.js';

const url = process.env.WHALE_URL;
const skip = url ? false : 'WHALE_URL is not set (run through run.sh / ctest -R web)';
let browser;
let page;

before(async () => {
  if (skip) return;
  browser = await launchBrowser();
  page = await openPage(browser, `${url}/`);
});

after(async () => {
  await browser?.close();
});

const lastContent = () => page.locator('.msg.assistant').last().locator('.content');

test('the page is served by whale serve and lists its models', { skip }, async () => {
  const res = await fetch(`${url}/`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/html/);
  assert.equal(await page.title(), 'whale chat');
  await page.waitForFunction(() => document.querySelectorAll('#model option').length > 0);
  const models = await page.locator('#model option').allTextContents();
  assert.ok(models.includes('deepseek-chat'), models.join());
  assert.equal(await page.locator('#model').inputValue(), 'deepseek-chat');
});

// Every render of the streaming reply, to see the text arrive piece by piece.
async function watchRenders() {
  await page.evaluate(() => {
    window.seenLengths = [];
    window.renderWatcher?.disconnect();
    window.renderWatcher = new MutationObserver(() => {
      const reply = document.querySelector('.msg.assistant.pending .content');
      if (reply) window.seenLengths.push(reply.textContent.length);
    });
    window.renderWatcher.observe(document.getElementById('messages'), { subtree: true, childList: true, characterData: true });
  });
}

// The demo model has random weights: it may sample its end token after a few tokens, which
// makes a reply too short to watch stream or to stop. Such attempts are tried again.
const ATTEMPTS = 6;

test('a message gets a streamed reply with its statistics', { skip }, async () => {
  await page.fill('#max-tokens', '200');
  let reply;
  let seen = [];
  for (let i = 0; i < ATTEMPTS && seen.length < 3; i++) {
    await watchRenders();
    reply = await sendAndWait(page, i === 0 ? 'Hello whale' : `Hello again (${i})`);
    seen = [...new Set(await page.evaluate(() => window.seenLengths))].filter((n) => n > 0);
  }
  assert.ok(seen.length >= 3, `text arrived in pieces while streaming (lengths seen: ${seen})`);

  const tokens = await reply.locator('.stat-tokens').textContent();
  const n = Number(tokens.match(/^(\d+) tokens$/)?.[1]);
  assert.ok(n >= 1 && n <= 200, tokens);
  assert.match(await reply.locator('.stat-ttft').textContent(), /^TTFT \d+ ms$/);
  assert.match(await reply.locator('.stat-cache').textContent(), /^cache hit \d+ \/ [1-9]\d* prompt tokens$/);
  assert.match(await reply.locator('.stat-tps').textContent(), /^\d+(\.\d)? tok\/s$/);
  assert.equal(await reply.locator('.error').isVisible(), false);
  assert.deepEqual(page.problems, []);
});

// Chat requests the server ended with 499 (spec: a client disconnect cancels generation).
async function clientClosed() {
  const text = await (await fetch(`${url}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('whale_requests_total{') && line.includes('chat/completions') && line.includes('status="499"'))
      total += Number(line.split(' ').pop());
  }
  return total;
}

test('the stop button ends a long generation, on the page and on the server', { skip }, async () => {
  await page.fill('#max-tokens', '4000');
  let stopped = false;
  for (let i = 0; i < ATTEMPTS && !stopped; i++) {
    const closedBefore = await clientClosed();
    await page.fill('#input', i === 0 ? 'Tell me a very long story' : `Go on (${i})`);
    await page.press('#input', 'Enter');
    await page.waitForFunction(() => {
      const c = document.querySelector('.msg.assistant:last-child .content');
      return c && (c.textContent.length > 20 || !c.parentElement.classList.contains('pending'));
    }, null, { timeout: 60000 });
    if (await page.isVisible('#stop')) await page.click('#stop').catch(() => {});
    await page.waitForSelector('#send', { state: 'visible' });
    if (await page.locator('.msg.assistant').last().locator('.stat-stopped').count() === 0) continue;
    // The server sees the closed connection, cancels the generation and logs it as 499 —
    // unless the reply's last token was already on its way when stop was clicked (the page
    // still shows it stopped; the server logged a 200): then try another reply.
    let closed = closedBefore;
    for (let k = 0; k < 50 && closed === closedBefore; k++) { await sleep(100); closed = await clientClosed(); }
    stopped = closed === closedBefore + 1;
  }
  assert.ok(stopped, 'a reply was stopped while streaming and the server saw the request aborted (499)');
  const reply = page.locator('.msg.assistant').last();
  assert.equal(await reply.locator('.stat-stopped').textContent(), 'stopped');
  const frozen = await reply.locator('.content').textContent();
  assert.ok(frozen.length > 20);
  await sleep(300);
  assert.equal(await reply.locator('.content').textContent(), frozen, 'no text after stop');
  assert.deepEqual(page.problems, []);
});

test('after a reload the conversation is still there', { skip }, async () => {
  const users = await page.locator('.msg.user').allTextContents();
  const replies = await page.locator('.msg.assistant .content').allTextContents();
  assert.equal(users[0], 'Hello whale');
  assert.ok(users.includes('Tell me a very long story'), users.join(' | '));
  await page.reload();
  await page.waitForSelector('body[data-ready="true"]');
  assert.deepEqual(await page.locator('.msg.user').allTextContents(), users);
  assert.deepEqual(await page.locator('.msg.assistant .content').allTextContents(), replies);
  assert.equal(await page.locator('.msg.assistant').last().locator('.stat-stopped').textContent(), 'stopped');
  assert.deepEqual(await page.locator('#conversations .conv-title').allTextContents(), ['Hello whale']);
  // Its settings came back too.
  assert.equal(await page.inputValue('#max-tokens'), '4000');
});

test('a thinking-mode reply shows its reasoning in its own block', { skip }, async () => {
  await page.click('#new-chat');
  await page.selectOption('#model', 'deepseek-reasoner');
  await page.fill('#max-tokens', '24');
  let reply;
  for (let i = 0; i < ATTEMPTS; i++) {
    reply = await sendAndWait(page, 'Think about it');
    if ((await reply.locator('.reasoning-text').textContent()).length > 0) break;
  }
  // Thinking mode opens the think span, so the reply starts with reasoning.
  const reasoning = reply.locator('details.reasoning');
  assert.equal(await reasoning.isVisible(), true);
  assert.ok((await reply.locator('.reasoning-text').textContent()).length > 0);
  assert.match(await reasoning.locator('summary').textContent(), /^Reasoning · [1-9]\d* tokens/);
  assert.equal(await page.locator('#conversations .conv').count(), 2);
  assert.deepEqual(page.problems, []);
});
