// Global setup of the browser tests: builds the server from this repository,
// starts it on a free port with a scratch data directory, creates the users
// and numbers the calling guide's examples dial, mints a token per user and
// writes one tone WAV per user (Chromium's fake microphone plays it).
//
// Environment:
//   SWITCHBOARD_BIN      use this server binary instead of building one
//   SB_BROWSER_KEEP=1    keep the scratch directory (server log, profiles)
import { spawn, execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { peerPort } from './ports.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '../../../..');

/** The tone each user's fake microphone sends (Hz). */
export const TONES = { alice: 440, bob: 1000, carol: 660, dave: 1600 };

/** A 48 kHz, 16-bit mono WAV of a sine at freq Hz (Chromium loops it). */
export function toneWav(freq, seconds = 10, rate = 48000, amplitude = 0.3) {
  const n = seconds * rate;
  const buf = Buffer.alloc(44 + n * 2);
  buf.write('RIFF', 0);
  buf.writeUInt32LE(36 + n * 2, 4);
  buf.write('WAVEfmt ', 8);
  buf.writeUInt32LE(16, 16);
  buf.writeUInt16LE(1, 20); // PCM
  buf.writeUInt16LE(1, 22); // mono
  buf.writeUInt32LE(rate, 24);
  buf.writeUInt32LE(rate * 2, 28);
  buf.writeUInt16LE(2, 32);
  buf.writeUInt16LE(16, 34);
  buf.write('data', 36);
  buf.writeUInt32LE(n * 2, 40);
  for (let i = 0; i < n; i++) {
    buf.writeInt16LE(Math.round(amplitude * 32767 * Math.sin((2 * Math.PI * freq * i) / rate)), 44 + i * 2);
  }
  return buf;
}

async function waitFor(what, fn, timeoutMs, proc) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    if (proc && proc.exitCode !== null) throw new Error(`server exited (${proc.exitCode}) while waiting for ${what}`);
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
}

/**
 * A web app on an origin of its own: a blank page at `/` on 127.0.0.1:port
 * (another port is another origin). Tests navigate there and reach the
 * API cross-origin, as an app built on the SDK does from its own site.
 */
async function appOrigin(title) {
  const srv = http.createServer((req, res) => {
    res.writeHead(req.url === '/' ? 200 : 404, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(req.url === '/' ? `<!doctype html><meta charset="utf-8"><title>${title}</title><body>${title}</body>` : '');
  });
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return { origin: `http://127.0.0.1:${srv.address().port}`, close: () => new Promise((r) => srv.close(r)) };
}

export default async function setup(project) {
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'sb-browser-'));
  for (const d of ['home', 'tmp', 'config', 'cache', 'runtime', 'data']) await mkdir(path.join(scratch, d), { recursive: true, mode: 0o700 });

  let bin = process.env.SWITCHBOARD_BIN;
  if (!bin) {
    bin = path.join(scratch, 'switchboard');
    await promisify(execFile)('go', ['build', '-o', bin, './cmd/switchboard'], { cwd: repoRoot, maxBuffer: 16 << 20 });
  }

  const port = await peerPort('tcp');
  const url = `http://127.0.0.1:${port}`;
  const adminKey = `sk_test_${randomBytes(18).toString('hex')}`;
  const config = path.join(scratch, 'switchboard.yaml');
  // The app's origin is listed in http.cors_origins; the other is not.
  const app = await appOrigin('app');
  const stranger = await appOrigin('stranger');
  await writeFile(config, 'media:\n  include_loopback: true\nlog:\n  level: info\n' +
    `http:\n  cors_origins: ["${app.origin}"]\n`);
  const logPath = path.join(scratch, 'server.log');
  const log = createWriteStream(logPath);
  const proc = spawn(bin, ['serve', '--demo', '--listen', `127.0.0.1:${port}`, '--sip-listen', '127.0.0.1:0',
    '--data', path.join(scratch, 'data'), '--config', config], {
    env: { ...process.env, SWITCHBOARD_ADMIN_KEY: adminKey },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout.pipe(log);
  proc.stderr.pipe(log);

  const teardown = async () => {
    if (proc.exitCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    }
    log.end();
    await Promise.all([app.close(), stranger.close()]);
    if (process.env.SB_BROWSER_KEEP) console.log(`browser tests: scratch kept in ${scratch}`);
    else await rm(scratch, { recursive: true, force: true });
  };

  try {
    const admin = async (method, p, body) => {
      const res = await fetch(url + p, {
        method,
        headers: { Authorization: `Bearer ${adminKey}`, 'Content-Type': 'application/json' },
        body: body && JSON.stringify(body),
      });
      const json = await res.json();
      if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${JSON.stringify(json)}`);
      return json;
    };
    await waitFor('/healthz', async () => (await fetch(`${url}/healthz`)).ok, 30_000, proc);
    // Demo users are created right after the listener starts.
    const demo = await waitFor('demo users', async () => {
      const { data } = await admin('GET', '/v1/users?limit=100');
      const byExt = Object.fromEntries(data.map((u) => [u.extension, u]));
      return byExt['101'] && byExt['102'] && byExt['103'] ? byExt : null;
    }, 30_000, proc);
    // The guide dials extension 105 and +14155551234 and sets caller ID
    // +14155559876: make all three real. Nobody ever connects as erin (106),
    // so calling her ends with no-answer.
    const dave = await admin('POST', '/v1/users', { name: 'Dave', extension: '105' });
    const erin = await admin('POST', '/v1/users', { name: 'Erin', extension: '106' });
    await admin('POST', '/v1/phone_numbers', { number: '+14155551234', user: dave.id });
    await admin('POST', '/v1/phone_numbers', { number: '+14155559876', user: demo['101'].id });

    const users = { alice: demo['101'], bob: demo['102'], carol: demo['103'], dave, erin };
    const out = {};
    for (const [name, u] of Object.entries(users)) {
      const s = await admin('POST', '/v1/user_sessions', { user: u.id, ttl_seconds: 4 * 3600 });
      const wav = path.join(scratch, `tone-${name}.wav`);
      await writeFile(wav, toneWav(TONES[name] ?? 500));
      out[name] = { id: u.id, name: u.name, extension: u.extension, token: s.client_secret, tone: TONES[name], wav };
    }
    project.provide('sb', { url, adminKey, scratch, users: out, logPath, appOrigin: app.origin, strangerOrigin: stranger.origin });
  } catch (err) {
    await new Promise((r) => setTimeout(r, 200));
    const tail = (await readFile(logPath, 'utf8').catch(() => '')).split('\n').slice(-40).join('\n');
    await teardown();
    throw new Error(`${err.message}\n--- server log ---\n${tail}`);
  }
  return teardown;
}
