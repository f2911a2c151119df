// Talks to the DeepSeek/OpenAI-compatible API (spec api.md): model list and streamed chat
// completions read as server-sent events. Errors are thrown as ApiError with the HTTP status
// (0 for network failures) and the server's message, so the page can react to 401.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function headers(key) {
  const h = { 'Content-Type': 'application/json' };
  if (key) h.Authorization = `Bearer ${key}`;
  return h;
}

async function errorFrom(res) {
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = await res.json();
    if (body && body.error && body.error.message) message = String(body.error.message);
  } catch { /* not JSON: keep the status line */ }
  return new ApiError(res.status, message);
}

async function request(url, init) {
  let res;
  try {
    res = await fetch(url, init);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, `cannot reach ${url}: ${e.message}`);
  }
  if (!res.ok) throw await errorFrom(res);
  return res;
}

export async function listModels(base, key) {
  const res = await request(`${base}/v1/models`, { headers: headers(key) });
  const body = await res.json();
  return Array.isArray(body.data) ? body.data.map((m) => String(m.id)) : [];
}

// Yields the data payload of each SSE event (multi-line data joined by "\n"); comments
// (": keep-alive") and other fields are skipped. Events may be split anywhere across reads.
export async function* sseEvents(body) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let data = [];
  try {
    for (;;) {
      const { value, done } = await reader.read();
      buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
      let nl;
      while ((nl = buffer.search(/\r\n|\r|\n/)) >= 0) {
        const line = buffer.slice(0, nl);
        const eol = buffer[nl] === '\r' && buffer[nl + 1] === '\n' ? 2 : 1;
        // A lone '\r' at the end of a read may be the first half of "\r\n": wait for more.
        if (buffer[nl] === '\r' && nl + 1 === buffer.length && !done) break;
        buffer = buffer.slice(nl + eol);
        if (line === '') {
          if (data.length) yield data.join('\n');
          data = [];
        } else if (line.startsWith('data:')) {
          data.push(line.slice(line[5] === ' ' ? 6 : 5));
        }
      }
      if (done) {
        if (buffer.startsWith('data:')) data.push(buffer.slice(buffer[5] === ' ' ? 6 : 5));
        if (data.length) yield data.join('\n');
        return;
      }
    }
  } finally {
    reader.releaseLock();
  }
}

// Streams one chat completion. `on` receives reasoning(text), content(text), usage(u) and
// finish(reason). Resolves when the stream ends; rejects with ApiError or an AbortError.
export async function streamChat({ base, key, body, signal, on }) {
  const res = await request(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: headers(key),
    body: JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } }),
    signal,
  });
  if (!res.body) throw new ApiError(0, 'the response has no body');
  for await (const data of sseEvents(res.body)) {
    if (data === '[DONE]') return;
    let chunk;
    try {
      chunk = JSON.parse(data);
    } catch {
      throw new ApiError(0, `malformed event from the server: ${data.slice(0, 80)}`);
    }
    if (chunk.error) throw new ApiError(Number(chunk.error.code) || 500, String(chunk.error.message));
    if (chunk.usage) on.usage(chunk.usage);
    const choice = Array.isArray(chunk.choices) ? chunk.choices[0] : null;
    if (!choice) continue;
    const delta = choice.delta || {};
    if (typeof delta.reasoning_content === 'string' && delta.reasoning_content)
      on.reasoning(delta.reasoning_content);
    if (typeof delta.content === 'string' && delta.content) on.content(delta.content);
    if (choice.finish_reason) on.finish(String(choice.finish_reason));
  }
}
