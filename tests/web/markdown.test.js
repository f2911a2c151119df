// web/markdown.js on its own, in the browser: the HTML it builds for markdown inputs, that
// markup in the text never becomes elements, and that hostile or degenerate input stays fast.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, openPage, pageOrigin } from './helpers.js';

let browser;
let origin;
let page;

before(async () => {
  browser = await launchBrowser();
  origin = await pageOrigin();
  page = await openPage(browser, `${origin.url}/`);
});

after(async () => {
  await browser?.close();
  await origin?.stop();
});

// The HTML renderMarkdown builds for `text`.
const html = (text) => page.evaluate(async (t) => {
  const { renderMarkdown } = await import('/markdown.js');
  const box = document.createElement('div');
  box.appendChild(renderMarkdown(t));
  return box.innerHTML;
}, text);

test('blocks: paragraphs, headings, lists, quotes, rules', async () => {
  assert.equal(await html('one\ntwo\n\nthree'), '<p>one<br>two</p><p>three</p>');
  assert.equal(await html('## Head'), '<h4>Head</h4>');
  assert.equal(await html('- a\n- b\n\n3. c\n4. d'), '<ul><li>a</li><li>b</li></ul><ol start="3"><li>c</li><li>d</li></ol>');
  assert.equal(await html('> quoted\n> more'), '<blockquote><p>quoted<br>more</p></blockquote>');
  assert.equal(await html('a\n\n---\n\nb'), '<p>a</p><hr><p>b</p>');
});

test('code: fenced blocks keep text verbatim; an unclosed fence runs to the end', async () => {
  assert.equal(await html('```js\nif (a < b && c > d) **x**\n```\nafter'),
               '<pre class="code-block"><span class="code-lang">js</span><code>if (a &lt; b &amp;&amp; c &gt; d) **x**</code></pre><p>after</p>');
  assert.equal(await html('~~~\nstill streaming\n```\n'),
               '<pre class="code-block"><code>still streaming\n```\n</code></pre>');
  assert.equal(await html('use `<b>` here'), '<p>use <code>&lt;b&gt;</code> here</p>');
});

test('inline: emphasis, strike, links only for safe schemes', async () => {
  assert.equal(await html('**b** *i* _i2_ ~~s~~ snake_case_name'),
               '<p><strong>b</strong> <em>i</em> <em>i2</em> <del>s</del> snake_case_name</p>');
  assert.equal(await html('[site](https://example.com/x)'),
               '<p><a href="https://example.com/x" target="_blank" rel="noopener noreferrer nofollow">site</a></p>');
  for (const bad of ['javascript:alert(1)', 'JAVASCRIPT:alert(1)', 'data:text/html,<script>alert(1)</script>',
                     'vbscript:x', '/relative', '//evil.example/x']) {
    const out = await html(`[x](${bad})`);
    assert.ok(!out.includes('<a'), `${bad} -> ${out}`);
  }
});

test('markup in the text stays text', async () => {
  const out = await html('<img src=x onerror=alert(1)> <script>alert(2)</script> **<i>x</i>**');
  assert.equal(out, '<p>&lt;img src=x onerror=alert(1)&gt; &lt;script&gt;alert(2)&lt;/script&gt; <strong>&lt;i&gt;x&lt;/i&gt;</strong></p>');
});

test('degenerate input renders quickly', async () => {
  const ms = await page.evaluate(async () => {
    const { renderMarkdown } = await import('/markdown.js');
    const nasty = '**a *b _c `d [e](f ~~g '.repeat(2000) + '\n' + '*'.repeat(20000) + '\n' + '['.repeat(20000);
    const t0 = performance.now();
    document.createElement('div').appendChild(renderMarkdown(nasty));
    return performance.now() - t0;
  });
  assert.ok(ms < 1500, `rendering took ${ms} ms`);
});
