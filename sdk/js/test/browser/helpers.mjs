// Shared helpers of the browser tests: one headless Chromium per user (each
// with its own fake-microphone tone), in-page audio probes, and a runner that
// pastes calling-guide snippets into the page unchanged.
import { mkdir, mkdtemp } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, expect, inject } from 'vitest';

export const sb = inject('sb');
export const artifacts = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../test-artifacts/web');

const FLAGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
  '--autoplay-policy=no-user-gesture-required', '--allow-loopback-in-peer-connection'];

// Installed in every page before its own scripts: remembers every
// RTCPeerConnection (the softphone UI does not expose its calls) and adds
// audio probes on window.__sb.
function pageInstrumentation() {
  const pcs = [];
  const Native = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Native {
    constructor(...args) {
      super(...args);
      pcs.push(this);
    }
  };
  const stats = async (pc) => {
    const out = { bytesReceived: 0, packetsReceived: 0, energy: 0, samples: 0, bytesSent: 0 };
    (await pc.getStats()).forEach((s) => {
      if (s.kind !== 'audio') return;
      if (s.type === 'inbound-rtp') {
        out.bytesReceived += s.bytesReceived ?? 0;
        out.packetsReceived += s.packetsReceived ?? 0;
        out.energy += s.totalAudioEnergy ?? 0;
        out.samples += s.totalSamplesDuration ?? 0;
      } else if (s.type === 'outbound-rtp') out.bytesSent += s.bytesSent ?? 0;
    });
    return out;
  };
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  let ctx;
  const audioCtx = () => {
    ctx ??= new AudioContext();
    ctx.resume();
    return ctx;
  };
  const analyser = (pc, fftSize) => {
    const stream = new MediaStream(pc.getReceivers().map((r) => r.track).filter((t) => t.kind === 'audio'));
    const el = new Audio(); // Chrome only feeds remote WebRTC audio to WebAudio while it plays somewhere
    el.muted = true;
    el.srcObject = stream;
    el.play().catch(() => {});
    const ac = audioCtx();
    const src = ac.createMediaStreamSource(stream);
    const an = ac.createAnalyser();
    an.fftSize = fftSize;
    an.smoothingTimeConstant = 0;
    src.connect(an);
    return { an, rate: ac.sampleRate, stop: () => { src.disconnect(); el.srcObject = null; } };
  };
  window.__sb = {
    pcs,
    stats,
    /** Received audio over ms: bytes, packets and mean energy (≈ mean square level). */
    async listen(pc, ms = 1000) {
      const a = await stats(pc);
      await sleep(ms);
      const b = await stats(pc);
      const dur = b.samples - a.samples;
      return { bytes: b.bytesReceived - a.bytesReceived, packets: b.packetsReceived - a.packetsReceived,
        sent: b.bytesSent - a.bytesSent, power: dur > 0 ? (b.energy - a.energy) / dur : 0 };
    },
    /** The strongest frequency (Hz) of the received audio, averaged over ms. */
    async dominant(pc, ms = 800) {
      const { an, rate, stop } = analyser(pc, 8192);
      const bins = new Float32Array(an.frequencyBinCount);
      const sum = new Float64Array(an.frequencyBinCount);
      const end = performance.now() + ms;
      while (performance.now() < end) {
        await sleep(100);
        an.getFloatFrequencyData(bins);
        for (let i = 0; i < bins.length; i++) sum[i] += 10 ** (bins[i] / 20);
      }
      stop();
      const hz = rate / an.fftSize;
      let best = 0;
      for (let i = Math.ceil(100 / hz); i < 4000 / hz; i++) if (sum[i] > sum[best]) best = i;
      return Math.round(best * hz);
    },
    /**
     * Records DTMF digits heard in the received audio until stop() (Goertzel
     * on 2048-sample frames); `ready` resolves once audio reaches the analyser.
     */
    dtmfListener(pc) {
      const rows = [697, 770, 852, 941];
      const cols = [1209, 1336, 1477, 1633];
      const keys = ['123A', '456B', '789C', '*0#D'];
      const { an, rate, stop } = analyser(pc, 2048);
      const buf = new Float32Array(an.fftSize);
      const power = (f) => {
        const k = 2 * Math.cos((2 * Math.PI * f) / rate);
        let s1 = 0;
        let s2 = 0;
        for (const x of buf) {
          const s0 = x + k * s1 - s2;
          s2 = s1;
          s1 = s0;
        }
        return s1 * s1 + s2 * s2 - k * s1 * s2;
      };
      const heard = [];
      let last = ''; // the last key heard
      let quiet = 0; // polls in a row with no key since
      let live;
      const ready = new Promise((r) => { live = r; });
      const timer = setInterval(() => {
        an.getFloatTimeDomainData(buf);
        let total = 0;
        for (const x of buf) total += x * x;
        if (total > 1e-3) live(); // audio is flowing into the analyser
        const pr = rows.map(power);
        const pc2 = cols.map(power);
        const r = pr.indexOf(Math.max(...pr));
        const c = pc2.indexOf(Math.max(...pc2));
        const norm = (total * buf.length) / 2; // power of the whole frame in Goertzel units
        const key = pr[r] > 0.2 * norm && pc2[c] > 0.2 * norm ? keys[r][c] : '';
        // The same key again counts only after two quiet polls: one poll
        // without it is a glitch in the tone (a late timer, a lost packet
        // on a busy machine heard "*" twice in "*90"), not a new press.
        if (key) {
          if (key !== last || quiet >= 2) heard.push(key);
          last = key;
          quiet = 0;
        } else {
          quiet++;
        }
      }, 15);
      return { heard, ready, stop: () => { clearInterval(timer); stop(); return heard.join(''); } };
    },
  };
}

/** Opens a headless Chromium whose microphone plays user's tone, on the server's page. */
export async function openBrowser(user, { viewport = { width: 1280, height: 800 } } = {}) {
  const u = sb.users[user];
  const dir = await mkdtemp(path.join(sb.scratch, `profile-${user}-`));
  const env = { ...process.env };
  for (const [k, sub] of [['HOME', 'home'], ['TMPDIR', 'tmp'], ['XDG_CONFIG_HOME', 'config'],
    ['XDG_CACHE_HOME', 'cache'], ['XDG_RUNTIME_DIR', 'runtime']]) env[k] = path.join(sb.scratch, sub);
  const ctx = await chromium.launchPersistentContext(dir, {
    executablePath: '/usr/bin/chromium', headless: true, viewport, env,
    args: [...FLAGS, `--use-file-for-fake-audio-capture=${u.wav}`],
  });
  await ctx.addInitScript(pageInstrumentation);
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  const b = { user, ...u, ctx, page, logs: [], errors: [] };
  const watch = (p) => {
    p.on('console', (m) => b.logs.push(m.text()));
    p.on('pageerror', (e) => b.errors.push(e.message));
  };
  watch(page);
  ctx.on('page', watch);
  await page.goto(`${sb.url}/`);
  b.close = () => ctx.close();
  return b;
}

/** Reloads the page (closing any socket it had) and waits for the app to load. */
export async function reset(b) {
  await b.page.evaluate(() => window.__t?.phone?.disconnect?.()).catch(() => {});
  b.logs.length = 0;
  b.errors.length = 0;
  await b.page.goto(`${sb.url}/`);
}

/**
 * Connects a Phone in the page as window.__t.phone. window.__t.incoming
 * collects its incoming calls, window.__t.phoneErrors the phone's `error`
 * events ("code: message"), and window.__t.record(name) logs every event
 * of window.__t[name] into window.__t.events as "name:event[:arg]".
 */
export async function connectPhone(b) {
  await b.page.evaluate(`(async () => {
    const { Phone } = await import('/sdk/phone.js');
    const phone = new Phone({ baseUrl: location.origin, token: ${JSON.stringify(b.token)} });
    const T = (window.__t = { phone, incoming: [], events: [] });
    T.record = (n) => {
      const c = T[n];
      for (const ev of ['trying', 'ringing', 'answered', 'held', 'resumed', 'muted', 'unmuted', 'ended']) {
        c.on(ev, (arg) => T.events.push(n + ':' + ev + (arg === undefined ? '' : ':' + arg)));
      }
    };
    phone.on('incoming', (c) => T.incoming.push(c));
    T.phoneErrors = [];
    phone.on('error', (e) => T.phoneErrors.push(e.code + ': ' + e.message));
    await phone.connect();
  })()`);
}

/** Runs guide code in the page, unchanged, inside a block that sees the names the guide assumes. */
export async function runSnippet(b, snippet, { before = '', after = '' } = {}) {
  return b.page.evaluate(`(async () => {
    const T = window.__t;
    let phone = T.phone, call = T.call, currentCall = T.currentCall, waitingCall = T.waitingCall;
    let ws = T.ws, iceServers = T.iceServers, callId = T.callId;
    const showCallWaitingUI = T.showCallWaitingUI, showIncomingCallUI = T.showIncomingCallUI;
    ${before}
    {
// ---- guide snippet ----
${snippet}
// ---- end of snippet ----
      ;T.snippetCall = typeof call === 'undefined' ? undefined : call;
      ${after}
    }
  })()`);
}

/** Starts logging window.__t[name]'s events (see connectPhone). */
export const recordEvents = (b, name = 'call') => b.page.evaluate((n) => window.__t.record(n), name);

export const events = (b) => b.page.evaluate(() => window.__t.events);

/** The phone's `error` events so far, as "code: message". */
export const phoneErrors = (b) => b.page.evaluate(() => window.__t.phoneErrors);

/** Waits until the page has an incoming call and stores it as window.__t[name]. */
export async function takeIncoming(b, name = 'call', index = 0) {
  await b.page.waitForFunction((i) => window.__t.incoming.length > i, index);
  await b.page.evaluate(([n, i]) => { window.__t[n] = window.__t.incoming[i]; }, [name, index]);
}

export const callState = (b, name = 'call') => b.page.evaluate((n) => window.__t[n]?.state, name);

/** Audio received on window.__t[name]'s peer connection over ms. */
export const listen = (b, name = 'call', ms = 1000) =>
  b.page.evaluate(([n, t]) => window.__sb.listen(window.__t[n].peerConnection, t), [name, ms]);

/** Dominant received frequency on window.__t[name]'s peer connection. */
export const dominant = (b, name = 'call') =>
  b.page.evaluate((n) => window.__sb.dominant(window.__t[n].peerConnection), name);

/** Polls until b hears the tone of user `from` on call `name`. */
export async function expectTone(b, from, name = 'call') {
  const want = sb.users[from].tone;
  await expect.poll(() => dominant(b, name), { timeout: 15_000, interval: 100, message: `${b.user} hears ${from}` })
    .toSatisfy((f) => Math.abs(f - want) <= Math.max(12, want * 0.02));
}

/** Polls until the received audio on call `name` is (near) silent, or not. */
export async function expectSilence(b, name = 'call', silent = true) {
  await expect.poll(async () => {
    const l = await listen(b, name, 600);
    return l.packets > 0 && (silent ? l.power < 1e-5 : l.power > 1e-4);
  }, { timeout: 15_000, interval: 200 }).toBe(true);
}

/** Waits until the server has no call in progress (every record has ended_at). */
export async function serverIdle() {
  await expect.poll(async () => {
    const res = await fetch(`${sb.url}/v1/calls?limit=50`, { headers: { Authorization: `Bearer ${sb.adminKey}` } });
    const { data } = await res.json();
    return data.filter((c) => !c.ended_at).length;
  }, { timeout: 20_000, interval: 250 }).toBe(0);
}

/** Ends every call of every page, disconnects their phones and waits for the server to settle. */
export async function hangupAll(...browsers) {
  for (const b of browsers) {
    await b.page.evaluate(() => {
      for (const c of window.__t?.phone?.activeCalls ?? []) c.hangup();
    }).catch(() => {});
  }
  await serverIdle();
}

/**
 * The hooks of a file whose users all run the SDK: a browser per user for
 * the file (handed to `set` in the order of `users` once open), a fresh page
 * with a connected phone before every test, and after it every call ended
 * and no uncaught error in any page. Returns a function giving the browsers.
 */
export function usePhones(users, set) {
  let browsers = [];
  const all = () => browsers;
  beforeAll(async () => {
    browsers = await Promise.all(users.map((u) => openBrowser(u)));
    set(browsers);
  });
  afterAll(async () => {
    await Promise.all(all().map((b) => b?.close()));
  });
  beforeEach(async () => {
    await Promise.all(all().map(async (b) => {
      await reset(b);
      await connectPhone(b);
    }));
  });
  afterEach(async () => {
    await hangupAll(...all());
    for (const b of all()) expect(b.errors, `uncaught errors in ${b.user}'s page`).toEqual([]);
  });
  return all;
}

export async function screenshot(page, name) {
  await mkdir(artifacts, { recursive: true });
  await page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });
}
