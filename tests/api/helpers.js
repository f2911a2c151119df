import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
// Starts `whale serve` on a free port for a test file and stops it afterwards.
// Environment: WHALE_BINARY (the whale executable), WHALE_MODEL (model file; empty: the
// built-in demo model).
import { spawn } from 'node:child_process';
import OpenAI from 'openai';

export const binary = process.env.WHALE_BINARY || 'whale';
export const modelPath = process.env.WHALE_MODEL || '';

export async function startServer(extraArgs = []) {
  // A private prompt-cache folder per server: test runs never share (or pollute) the user's cache.
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'whale-api-cache-'));
  const args = ['serve', '--port', '0', '--parallel', '4', '--max-queue', '1000', '--cache-dir', cacheDir, ...extraArgs];
  if (modelPath) args.push('-m', modelPath);
  const proc = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d.toString(); if (stderr.length > 1e6) stderr = stderr.slice(-5e5); });
  const baseURL = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`whale serve did not start:\n${stderr}`)), 120000);
    proc.stdout.on('data', (d) => {
      out += d.toString();
      const m = out.match(/listening on (http:\/\/[^\s]+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`whale serve exited (${code}):\n${stderr}`)); });
  });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  return {
    baseURL,
    proc,
    stderr: () => stderr,
    async stop() {
      proc.kill('SIGTERM');
      return exited;
    },
  };
}

export function client(baseURL, apiKey = 'unused') {
  return new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 120000 });
}

// Prometheus text -> Map(series with labels -> number).
export async function metrics(baseURL) {
  const text = await (await fetch(`${baseURL}/metrics`)).text();
  const out = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})?) (\S+)$/);
    if (!m) throw new Error(`not Prometheus text: ${line}`);
    out.set(m[1], Number(m[3]));
  }
  return out;
}

export async function rawPost(baseURL, path, body, headers = {}) {
  const res = await fetch(`${baseURL}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
