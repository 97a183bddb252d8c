'use strict';

// Starts a real keyward on a fresh temporary store for the app's tests, and
// talks to it the way an admin and support do (admin API, operator CLI).

const { spawn, execFile } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { promisify } = require('node:util');

const execFileP = promisify(execFile);

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..', '..');
const DEFAULT_BIN = path.join(REPO_ROOT, 'target', 'debug', 'keyward');

const binary = () => {
  const bin = process.env.KEYWARD_BIN ? path.resolve(process.env.KEYWARD_BIN) : DEFAULT_BIN;
  if (!fs.existsSync(bin)) {
    throw new Error(
      `no keyward binary at ${bin}: run \`cargo build -p keyward\` at the repository root, or set KEYWARD_BIN`,
    );
  }
  return bin;
};

// Polls `check` until it returns something truthy, or fails after `ms`.
const eventually = async (what, check, ms = 20000, every = 50) => {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, every));
  }
};

// The environment without any KEYWARD_* setting of the caller's shell.
const cleanEnv = () => {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('KEYWARD_')) env[k] = v;
  }
  env.RUST_LOG = env.RUST_LOG || 'warn';
  return env;
};

class Keyward {
  constructor() {
    this.bin = binary();
    this.dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'keyward-zapier-'));
    this.stdout = '';
    this.stderr = '';
  }

  // `serve --demo` on the empty store: the Demo workspace (pro plan), its
  // admin and sample studies; `--listen 127.0.0.1:0` takes a free port and
  // prints it. The webhook flags let deliveries reach a local receiver.
  async start() {
    const help = (await execFileP(this.bin, ['serve', '--help'], { env: cleanEnv() })).stdout;
    this.webhookFlags = help.includes('--webhooks-allow-http') && help.includes('--webhooks-allow-private');
    const args = ['serve', '--demo', '--listen', '127.0.0.1:0', '--data-dir', this.dataDir];
    if (this.webhookFlags) args.push('--webhooks-allow-http', '--webhooks-allow-private');
    this.proc = spawn(this.bin, args, { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc.stdout.on('data', (d) => (this.stdout += d));
    this.proc.stderr.on('data', (d) => (this.stderr += d));
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, signal) => resolve({ code, signal })));
    let exit = null;
    this.exited.then((e) => (exit = e));
    const url = await eventually('keyward to print where it listens', () => {
      if (exit) throw new Error(`keyward exited (${JSON.stringify(exit)}): ${this.stderr}`);
      const m = /listening on (http:\/\/[^\s]+)/.exec(this.stdout);
      return m && m[1];
    });
    this.url = url.replace(/\/+$/, '');
    this.email = /^email: (.+)$/m.exec(this.stdout)[1].trim();
    this.password = /^password: (.+)$/m.exec(this.stdout)[1].trim();
    await eventually('/readyz', async () => (await fetch(`${this.url}/readyz`)).status === 200);
    await this.login();
    this.workspaceId = this.workspaces[0].id;
    return this;
  }

  async stop() {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill('SIGTERM');
      const timer = setTimeout(() => this.proc.kill('SIGKILL'), 10000);
      await this.exited;
      clearTimeout(timer);
    }
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }

  async login() {
    const res = await fetch(`${this.url}/api/session`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email: this.email, password: this.password }),
    });
    if (res.status !== 200) throw new Error(`login: ${res.status} ${await res.text()}`);
    const body = await res.json();
    this.cookie = res.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ');
    this.csrf = body.csrf_token;
    this.workspaces = body.workspaces;
  }

  // An admin generates a key on the page: `{id, key, ...}`.
  async createKey(name, workspaceId = this.workspaceId) {
    const res = await fetch(`${this.url}/api/workspaces/${workspaceId}/api-keys`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Cookie: this.cookie, 'X-CSRF-Token': this.csrf },
      body: JSON.stringify({ name }),
    });
    if (res.status !== 201) throw new Error(`create key: ${res.status} ${await res.text()}`);
    return res.json();
  }

  // `keyward admin …` on the same store, with --json.
  async admin(...args) {
    const { stdout } = await execFileP(this.bin, ['admin', ...args, '--data-dir', this.dataDir, '--json'], {
      env: cleanEnv(),
    });
    const out = stdout.trim();
    return out ? JSON.parse(out) : null;
  }

  // A second workspace the demo admin administers (for limits that must not
  // touch the Demo workspace's keys).
  async createWorkspace(name, plan) {
    const ws = await this.admin('workspace', 'create', '--name', name, '--plan', plan);
    await this.admin('member', 'add', '--workspace', ws.id, '--email', this.email, '--role', 'admin');
    return ws.id;
  }

  // A plain `/v1` call with a key, outside the app (to check what it did).
  async v1(key, method, pathname, body) {
    const res = await fetch(`${this.url}${pathname}`, {
      method,
      headers: { Authorization: `Bearer ${key}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
  }
}

// What every test file against keyward starts with: a keyward on a fresh
// store, the app pointed at it (BASE_URL) and a workspace key for the app.
const startKeyward = async () => {
  const kw = await new Keyward().start();
  process.env.BASE_URL = kw.url;
  return { kw, key: await kw.createKey('Zapier') };
};

module.exports = { Keyward, eventually, startKeyward };
