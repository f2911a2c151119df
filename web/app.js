// The chat page: conversations (kept in localStorage), streaming replies with a stop button,
// reasoning shown apart from the answer, per-reply statistics, settings and the API-key prompt.
// The API base is this page's origin, or the ?api= query parameter (e.g. ?api=http://host:8080).
// Model text is rendered by markdown.js (text nodes only) or assigned with textContent.
import { renderMarkdown } from './markdown.js';
import { ApiError, listModels, streamChat } from './api.js';
import * as store from './store.js';

const $ = (id) => document.getElementById(id);
const base = (new URLSearchParams(location.search).get('api') || '').replace(/\/+$/, '');

const state = {
  conversations: store.loadConversations(),
  current: null,          // the conversation shown
  settings: store.loadSettings(),
  key: store.loadKey(base),
  running: null,          // {controller, conv, msg} while a reply streams
  views: new WeakMap(),   // message -> its view, for the messages on screen
  afterKey: [],           // actions waiting for an API key
  saveTimer: 0,           // a pending throttled save
};

// Saves now, or (soon = true, while a reply streams) at most once a second.
function persist(soon = false) {
  if (soon) {
    if (!state.saveTimer) state.saveTimer = setTimeout(() => persist(), 1000);
    return;
  }
  clearTimeout(state.saveTimer);
  state.saveTimer = 0;
  store.saveConversations(state.conversations);
}

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

// ---- statistics -------------------------------------------------------------------------

function formatStats(s) {
  const parts = [];
  const approx = s.usage ? '' : '~';
  const tokens = s.usage ? s.completionTokens : s.chunks;
  if (tokens) parts.push([`${approx}${tokens} tokens`, 'stat-tokens']);
  // Decode speed: the tokens after the first over the time since the first arrived; bursts
  // that arrive all at once (a replay, a proxy's buffer) have no meaningful rate.
  if (tokens > 1 && s.genMs >= 10) parts.push([`${((tokens - 1) / (s.genMs / 1000)).toFixed(1)} tok/s`, 'stat-tps']);
  if (s.ttftMs !== undefined) parts.push([`TTFT ${Math.round(s.ttftMs)} ms`, 'stat-ttft']);
  if (s.usage) parts.push([`cache hit ${s.cacheHit} / ${s.promptTokens} prompt tokens`, 'stat-cache']);
  if (s.stopped) parts.push(['stopped', 'stat-stopped']);
  if (s.interrupted) parts.push(['interrupted', 'stat-stopped']);
  if (s.finish === 'length') parts.push(['hit max tokens', 'stat-finish']);
  return parts;
}

function reasoningLabel(msg) {
  const s = msg.stats;
  const n = s.usage ? String(s.reasoningTokens) : `~${s.reasoningChunks || 0}`;
  const thinking = msg.pending && !msg.content;
  const secs = s.reasoningMs ? ` · ${(s.reasoningMs / 1000).toFixed(1)} s` : '';
  return `${thinking ? 'Thinking…' : 'Reasoning'} · ${n} tokens${secs}`;
}

// ---- message views ----------------------------------------------------------------------

function userView(msg) {
  const root = el('div', 'msg user');
  root.appendChild(el('div', 'bubble', msg.content));
  return { root, update() {} };
}

function assistantView(msg) {
  const root = el('div', 'msg assistant');
  const reasoning = el('details', 'reasoning');
  const summary = el('summary');
  const reasoningText = el('div', 'reasoning-text');
  reasoning.append(summary, reasoningText);
  const content = el('div', 'content');
  const error = el('div', 'error');
  const stats = el('div', 'stats');
  root.append(reasoning, content, error, stats);
  let frame = 0;
  let shownReasoning = null;
  let shownContent = null;
  const view = {
    root,
    update() {
      frame = 0;
      reasoning.hidden = !msg.reasoning;
      summary.textContent = reasoningLabel(msg);
      if (shownReasoning !== msg.reasoning) {
        reasoningText.textContent = msg.reasoning;
        shownReasoning = msg.reasoning;
      }
      if (shownContent !== msg.content) {
        content.replaceChildren(renderMarkdown(msg.content));
        shownContent = msg.content;
      }
      root.classList.toggle('pending', Boolean(msg.pending));
      error.hidden = !msg.error;
      error.textContent = msg.error;
      stats.replaceChildren(...formatStats(msg.stats).map(([t, c]) => el('span', c, t)));
    },
    // Coalesces the many small stream updates into one render per frame.
    schedule() {
      if (!frame) frame = requestAnimationFrame(() => view.update());
    },
    openReasoning(open) { reasoning.open = open; },
  };
  return view;
}

function nearBottom() {
  const box = $('messages');
  return box.scrollHeight - box.scrollTop - box.clientHeight < 80;
}

function scrollToBottom() {
  const box = $('messages');
  box.scrollTop = box.scrollHeight;
}

function renderConversation() {
  const box = $('messages');
  box.replaceChildren();
  state.views = new WeakMap();
  const messages = state.current ? state.current.messages : [];
  if (!messages.length) box.appendChild(el('div', 'muted', 'Send a message to start. Enter sends, Shift+Enter adds a line.'));
  for (const msg of messages) {
    const view = msg.role === 'user' ? userView(msg) : assistantView(msg);
    view.update();
    state.views.set(msg, view);
    box.appendChild(view.root);
  }
  scrollToBottom();
  renderSidebar();
}

function renderSidebar() {
  const nav = $('conversations');
  nav.replaceChildren();
  for (const conv of state.conversations) {
    const item = el('div', 'conv' + (conv === state.current ? ' active' : ''));
    const open = el('button', 'conv-title', conv.title || 'New chat');
    open.type = 'button';
    open.title = conv.title;
    open.addEventListener('click', () => { state.current = conv; renderConversation(); });
    const del = el('button', 'conv-delete', '×');
    del.type = 'button';
    del.title = 'Delete this conversation';
    del.addEventListener('click', () => deleteConversation(conv));
    item.append(open, del);
    nav.appendChild(item);
  }
}

function deleteConversation(conv) {
  if (state.running && state.running.conv === conv) state.running.controller.abort();
  state.conversations = state.conversations.filter((c) => c !== conv);
  if (state.current === conv) state.current = null;
  persist();
  renderConversation();
}

// ---- sending and streaming --------------------------------------------------------------

function setRunning(running) {
  $('send').hidden = running;
  $('stop').hidden = !running;
}

function requestMessages(conv, upto) {
  const out = [];
  const system = state.settings.system.trim();
  if (system) out.push({ role: 'system', content: system });
  for (const m of conv.messages.slice(0, upto)) {
    // Earlier reasoning is never sent back (spec api.md §4.3); empty or failed replies are left out.
    if (m.role === 'user') out.push({ role: 'user', content: m.content });
    else if (m.content) out.push({ role: 'assistant', content: m.content });
  }
  return out;
}

async function generate(conv, msg) {
  const controller = new AbortController();
  state.running = { controller, conv, msg };
  setRunning(true);
  Object.assign(msg, { content: '', reasoning: '', error: '', pending: true, stats: {} });
  const view = () => state.views.get(msg);
  const s = msg.stats;
  s.chunks = 0;
  s.reasoningChunks = 0;
  const t0 = performance.now();
  let first = 0;
  let folded = false;  // the reasoning block was closed when the answer began
  const arrived = () => {
    const now = performance.now();
    if (!first) { first = now; s.ttftMs = now - t0; }
    s.chunks++;
    s.genMs = now - first;
    if (nearBottom()) requestAnimationFrame(scrollToBottom);
    persist(true);
  };
  const body = {
    model: state.settings.model || 'deepseek-chat',
    messages: requestMessages(conv, conv.messages.indexOf(msg)),
    temperature: state.settings.temperature,
    max_tokens: state.settings.maxTokens,
  };
  if (view()) view().update();
  try {
    await streamChat({
      base, key: state.key, body, signal: controller.signal,
      on: {
        reasoning(text) {
          if (!msg.reasoning && view()) view().openReasoning(true);
          msg.reasoning += text;
          s.reasoningChunks++;
          arrived();
          s.reasoningMs = performance.now() - t0;
          view()?.schedule();
        },
        content(text) {
          if (!folded && msg.reasoning) {
            folded = true;
            view()?.openReasoning(false);  // the answer has started: fold the thinking away
          }
          msg.content += text;
          arrived();
          view()?.schedule();
        },
        usage(u) {
          s.usage = true;
          s.completionTokens = Number(u.completion_tokens) || 0;
          s.promptTokens = Number(u.prompt_tokens) || 0;
          s.cacheHit = Number(u.prompt_cache_hit_tokens ?? u.prompt_tokens_details?.cached_tokens) || 0;
          s.reasoningTokens = Number(u.completion_tokens_details?.reasoning_tokens) || 0;
        },
        finish(reason) { s.finish = reason; },
      },
    });
  } catch (e) {
    if (e.name === 'AbortError') {
      s.stopped = true;
    } else if (e instanceof ApiError && e.status === 401) {
      msg.error = `Authentication failed: ${e.message}`;
      askForKey(e.message, () => retry(conv, msg));
    } else {
      msg.error = e instanceof ApiError && e.status ? `Error ${e.status}: ${e.message}` : String(e.message || e);
    }
  } finally {
    msg.pending = false;
    if (state.running && state.running.msg === msg) state.running = null;
    setRunning(false);
    persist();
    view()?.update();
  }
}

function retry(conv, msg) {
  if (state.running || conv.messages[conv.messages.length - 1] !== msg) return;
  generate(conv, msg);
}

function send() {
  const input = $('input');
  const text = input.value;
  if (state.running || !text.trim()) return;
  input.value = '';
  autoGrow();
  if (!state.current) {
    state.current = { id: store.newId(), title: '', updated: 0, messages: [] };
    state.conversations.unshift(state.current);
  }
  const conv = state.current;
  if (!conv.title) conv.title = text.trim().replace(/\s+/g, ' ').slice(0, 60);
  conv.updated = Date.now();
  // Most recently used first.
  state.conversations = [conv, ...state.conversations.filter((c) => c !== conv)];
  const msg = { role: 'assistant', content: '', reasoning: '', error: '', pending: true, stats: {} };
  conv.messages.push({ role: 'user', content: text }, msg);
  persist();
  renderConversation();
  generate(conv, msg);
}

// ---- API key, models, settings ----------------------------------------------------------

// Shows the key form; every action that met a 401 is retried once a key is saved.
function askForKey(reason, then) {
  const form = $('key-form');
  $('key-reason').textContent = reason ? ` (${reason})` : '';
  state.afterKey.push(then);
  form.hidden = false;
  $('api-key').focus();
}

function onKeySubmit(e) {
  e.preventDefault();
  state.key = $('api-key').value.trim();
  store.saveKey(base, state.key);
  $('key-form').hidden = true;
  const pending = state.afterKey.splice(0);
  for (const then of pending) then();
}

async function loadModels() {
  const select = $('model');
  let models = [];
  try {
    models = await listModels(base, state.key);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) askForKey(e.message, loadModels);
    else $('server').textContent = `${serverLabel()} · cannot list models: ${e.message}`;
  }
  if (!models.length) models = ['deepseek-chat', 'deepseek-reasoner'];
  if (!models.includes(state.settings.model))
    state.settings.model = models.includes('deepseek-chat') ? 'deepseek-chat' : models[0];
  select.replaceChildren(...models.map((m) => { const o = el('option', '', m); o.value = m; return o; }));
  select.value = state.settings.model;
}

function serverLabel() {
  return `Server: ${base || location.origin}`;
}

function bindSettings() {
  const s = state.settings;
  $('temperature').value = s.temperature;
  $('max-tokens').value = s.maxTokens;
  $('system').value = s.system;
  $('server').textContent = serverLabel();
  const save = () => store.saveSettings(state.settings);
  $('model').addEventListener('change', (e) => { s.model = e.target.value; save(); });
  $('temperature').addEventListener('input', (e) => {
    const v = Number(e.target.value);
    if (e.target.value !== '' && Number.isFinite(v) && v >= 0 && v <= 2) { s.temperature = v; save(); }
  });
  $('max-tokens').addEventListener('input', (e) => {
    const v = Number(e.target.value);
    if (Number.isInteger(v) && v > 0) { s.maxTokens = v; save(); }
  });
  $('system').addEventListener('input', (e) => { s.system = e.target.value; save(); });
}

function autoGrow() {
  const input = $('input');
  input.style.height = 'auto';
  input.style.height = `${Math.min(input.scrollHeight, 240)}px`;
}

function init() {
  bindSettings();
  $('composer').addEventListener('submit', (e) => { e.preventDefault(); send(); });
  $('input').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); send(); }
  });
  $('input').addEventListener('input', autoGrow);
  $('key-form').addEventListener('submit', onKeySubmit);
  $('stop').addEventListener('click', () => state.running?.controller.abort());
  $('new-chat').addEventListener('click', () => {
    state.current = null;
    renderConversation();
    $('input').focus();
  });
  state.current = state.conversations[0] || null;
  renderConversation();
  loadModels();
  $('input').focus();
  document.body.dataset.ready = 'true';  // for tests: the page is wired up
}

init();
