// A small markdown renderer for model replies. Safety contract: model text only ever reaches
// the page through createTextNode/textContent; no innerHTML, no attribute taken from the text
// except link targets, and those only when they are http(s) or mailto URLs. Anything that does
// not parse as markdown stays visible as plain text, so a hostile reply is shown, never run.
//
// Supported: fenced code blocks (``` or ~~~, an unclosed fence runs to the end so streaming text
// renders as it arrives), ATX headings, bullet and numbered lists, block quotes, horizontal
// rules, paragraphs (single newlines kept as line breaks), and inline `code`, **bold**, *italic*,
// ~~strike~~ and [links](https://...).

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)[^`]*$/;
const HEADING = /^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const RULE = /^ {0,3}([-*_])(\s*\1){2,}\s*$/;
const BULLET = /^ {0,3}[-*+]\s+(.*)$/;
const ORDERED = /^ {0,3}(\d{1,9})[.)]\s+(.*)$/;
const QUOTE = /^ {0,3}>\s?(.*)$/;

function el(tag, cls) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  return node;
}

// Link targets are allowed only as absolute URLs with schemes that cannot run script.
function safeUrl(raw) {
  if (!/^(https?:\/\/|mailto:)/i.test(raw)) return null;
  try {
    return new URL(raw).href;
  } catch {
    return null;
  }
}

// Inline spans, earliest match first. Each pattern's first group is the span's inner text;
// the g flag lets renderInline resume a search at lastIndex.
const INLINE = [
  { re: /`([^`\n]+)`/g, make: (m) => { const c = el('code'); c.textContent = m[1]; return c; } },
  { re: /\[([^\]\n]+)\]\(([^)\s]+)\)/g, make: (m) => {
      const href = safeUrl(m[2]);
      if (!href) return document.createTextNode(m[0]);
      const a = el('a');
      a.href = href;
      a.target = '_blank';
      a.rel = 'noopener noreferrer nofollow';
      renderInline(m[1], a);
      return a;
    } },
  { re: /\*\*(?=\S)([^\n]*?\S)\*\*/g, make: (m) => wrap('strong', m[1]) },
  { re: /__(?=\S)([^\n]*?\S)__/g, make: (m) => wrap('strong', m[1]) },
  { re: /~~(?=\S)([^\n]*?\S)~~/g, make: (m) => wrap('del', m[1]) },
  { re: /\*(?=[^\s*])([^*\n]*?[^\s*])\*/g, make: (m) => wrap('em', m[1]) },
  { re: /(?<![\w])_(?=[^\s_])([^_\n]*?[^\s_])_(?![\w])/g, make: (m) => wrap('em', m[1]) },
];

function wrap(tag, text) {
  const node = el(tag);
  renderInline(text, node);
  return node;
}

// Appends `text` to `parent` as text nodes and inline elements; newlines become <br>.
// Each rule's next match is kept until the text before it is consumed, so a long reply full of
// unmatched markers costs one scan per rule rather than one per span.
export function renderInline(text, parent) {
  const next = INLINE.map(() => undefined);  // per rule: its next match, or null for none
  let pos = 0;
  while (pos < text.length) {
    let best = -1;
    INLINE.forEach((rule, k) => {
      if (next[k] === undefined || (next[k] && next[k].index < pos)) {
        rule.re.lastIndex = pos;
        next[k] = rule.re.exec(text);
      }
      if (next[k] && (best < 0 || next[k].index < next[best].index)) best = k;
    });
    const upto = best < 0 ? text.length : next[best].index;
    appendText(text.slice(pos, upto), parent);
    if (best < 0) break;
    const m = next[best];
    parent.appendChild(INLINE[best].make(m));
    pos = m.index + m[0].length;
  }
}

function appendText(text, parent) {
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (i > 0) parent.appendChild(el('br'));
    if (line) parent.appendChild(document.createTextNode(line));
  });
}

function codeBlock(lang, lines) {
  const pre = el('pre', 'code-block');
  if (lang) {
    const label = el('span', 'code-lang');
    label.textContent = lang;
    pre.appendChild(label);
  }
  const code = el('code');
  code.textContent = lines.join('\n');
  pre.appendChild(code);
  return pre;
}

// Renders `text` into a fresh fragment of block elements.
export function renderMarkdown(text) {
  const out = document.createDocumentFragment();
  const lines = String(text).replace(/\r\n?/g, '\n').split('\n');
  let para = [];
  let list = null;  // {node, ordered}
  const flushPara = () => {
    if (para.length) {
      const p = el('p');
      renderInline(para.join('\n'), p);
      out.appendChild(p);
      para = [];
    }
  };
  const closeList = () => { list = null; };

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    let m;
    if ((m = FENCE.exec(line))) {
      flushPara(); closeList();
      // The closing fence uses the same character, at least as many times.
      const closer = new RegExp(`^ {0,3}\\${m[1][0]}{${m[1].length},}\\s*$`);
      const body = [];
      i++;
      while (i < lines.length) {
        if (closer.test(lines[i])) break;
        body.push(lines[i]);
        i++;
      }
      out.appendChild(codeBlock(m[2], body));
      continue;
    }
    if (!line.trim()) { flushPara(); closeList(); continue; }
    if ((m = HEADING.exec(line))) {
      flushPara(); closeList();
      const h = el('h' + Math.min(m[1].length + 2, 6));
      renderInline(m[2], h);
      out.appendChild(h);
      continue;
    }
    if (RULE.test(line)) { flushPara(); closeList(); out.appendChild(el('hr')); continue; }
    if ((m = QUOTE.exec(line))) {
      flushPara(); closeList();
      const quoted = [m[1]];
      while (i + 1 < lines.length && (m = QUOTE.exec(lines[i + 1]))) { quoted.push(m[1]); i++; }
      const q = el('blockquote');
      q.appendChild(renderMarkdown(quoted.join('\n')));
      out.appendChild(q);
      continue;
    }
    const bullet = BULLET.exec(line);
    const ordered = bullet ? null : ORDERED.exec(line);
    if (bullet || ordered) {
      flushPara();
      const isOrdered = Boolean(ordered);
      if (!list || list.ordered !== isOrdered) {
        list = { node: el(isOrdered ? 'ol' : 'ul'), ordered: isOrdered };
        if (isOrdered && ordered[1] !== '1') list.node.start = Number(ordered[1]);
        out.appendChild(list.node);
      }
      const li = el('li');
      renderInline(isOrdered ? ordered[2] : bullet[1], li);
      list.node.appendChild(li);
      continue;
    }
    if (list && /^\s{2,}\S/.test(line)) {
      // An indented line continues the last list item.
      const last = list.node.lastChild;
      last.appendChild(el('br'));
      renderInline(line.trim(), last);
      continue;
    }
    closeList();
    para.push(line);
  }
  flushPara();
  return out;
}
