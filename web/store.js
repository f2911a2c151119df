// Conversations and settings kept in the browser's localStorage. Everything read back is
// checked for shape, so a corrupt or foreign entry yields defaults instead of a broken page.
// API keys are stored per API base URL: a key given to one server is never sent to another
// (the page's ?api= parameter could otherwise be used to lure a stored key elsewhere).

const CONVERSATIONS = 'whale.conversations.v1';
const SETTINGS = 'whale.settings.v1';
const KEYS = 'whale.keys.v1';

export const DEFAULT_SETTINGS = Object.freeze({
  model: '',
  temperature: 1.0,
  maxTokens: 1024,
  system: '',
});

function read(name, fallback) {
  try {
    const raw = localStorage.getItem(name);
    return raw === null ? fallback : JSON.parse(raw);
  } catch {
    return fallback;
  }
}

// Returns false when storage is full or unavailable; the page keeps working from memory.
function write(name, value) {
  try {
    localStorage.setItem(name, JSON.stringify(value));
    return true;
  } catch {
    return false;
  }
}

const str = (v) => (typeof v === 'string' ? v : '');

function cleanMessage(m) {
  if (!m || (m.role !== 'user' && m.role !== 'assistant')) return null;
  const out = { role: m.role, content: str(m.content) };
  if (m.role === 'assistant') {
    out.reasoning = str(m.reasoning);
    out.stats = m.stats && typeof m.stats === 'object' ? m.stats : {};
    out.error = str(m.error);
    // A reply still marked pending was cut off by a reload or a closed tab.
    out.pending = false;
    if (m.pending) out.stats = { ...out.stats, interrupted: true };
  }
  return out;
}

function cleanConversation(c) {
  if (!c || typeof c.id !== 'string' || !Array.isArray(c.messages)) return null;
  return {
    id: c.id,
    title: str(c.title),
    updated: Number(c.updated) || 0,
    messages: c.messages.map(cleanMessage).filter(Boolean),
  };
}

export function loadConversations() {
  const list = read(CONVERSATIONS, []);
  if (!Array.isArray(list)) return [];
  return list.map(cleanConversation).filter(Boolean).sort((a, b) => b.updated - a.updated);
}

export function saveConversations(list) {
  return write(CONVERSATIONS, list);
}

export function loadSettings() {
  const s = read(SETTINGS, {});
  const out = { ...DEFAULT_SETTINGS };
  if (s && typeof s === 'object') {
    if (typeof s.model === 'string') out.model = s.model;
    if (Number.isFinite(s.temperature)) out.temperature = s.temperature;
    if (Number.isInteger(s.maxTokens) && s.maxTokens > 0) out.maxTokens = s.maxTokens;
    if (typeof s.system === 'string') out.system = s.system;
  }
  return out;
}

export function saveSettings(s) {
  return write(SETTINGS, s);
}

export function loadKey(base) {
  const keys = read(KEYS, {});
  return keys && typeof keys[base || 'same-origin'] === 'string' ? keys[base || 'same-origin'] : '';
}

export function saveKey(base, key) {
  const keys = read(KEYS, {});
  const next = keys && typeof keys === 'object' ? keys : {};
  next[base || 'same-origin'] = key;
  return write(KEYS, next);
}

export function newId() {
  return Date.now().toString(36) + Math.random().toString(36).slice(2, 8);
}
