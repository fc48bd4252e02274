// Switchboard web softphone: plain DOM code on top of the browser SDK that
// the server serves at /sdk/phone.js. No framework and no build step.
import { Phone } from '/sdk/phone.js';

const TOKEN_KEY = 'switchboard.token';
const DEMO_KEY = 'switchboard.demo';
const ENDED_LINGER_MS = 4000;
const PAD_KEYS = [
  ['1', ''], ['2', 'ABC'], ['3', 'DEF'], ['4', 'GHI'], ['5', 'JKL'], ['6', 'MNO'],
  ['7', 'PQRS'], ['8', 'TUV'], ['9', 'WXYZ'], ['*', ''], ['0', '+'], ['#', ''],
];

const $ = (sel, root = document) => root.querySelector(sel);
const byTestId = (id, root = document) => $(`[data-testid="${id}"]`, root);

/** el('button', {type: 'button', dataset: {testid: 'x'}, onclick}, 'text', child…) */
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (k in node && typeof v !== 'string') node[k] = v;
    else node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c !== undefined && c !== null && c !== false) node.append(c);
  }
  return node;
}

const ui = {
  conn: byTestId('conn-state'),
  me: byTestId('me'),
  signout: byTestId('signout'),
  signin: byTestId('signin'),
  signinForm: byTestId('signin-form'),
  token: byTestId('token-input'),
  signinButton: byTestId('signin-button'),
  signinError: byTestId('signin-error'),
  demo: byTestId('demo-users'),
  phone: byTestId('phone'),
  incoming: byTestId('incoming-list'),
  dialForm: byTestId('dial-form'),
  dest: byTestId('dial-input'),
  dialButton: byTestId('dial-call'),
  pad: byTestId('dialpad'),
  calls: byTestId('calls'),
  noCalls: byTestId('no-calls'),
  swap: byTestId('swap'),
  history: byTestId('history'),
  historyEmpty: byTestId('history-empty'),
  historyRefresh: byTestId('history-refresh'),
  status: byTestId('status'),
  announce: byTestId('announce'),
};

const state = {
  phone: null,
  token: '',
  userId: '',
  demo: null, // {name, extension} when signed in as a demo user
  views: new Map(), // Call → CallView | IncomingView
  consults: new Map(), // original Call → consult Call
  signingOut: false,
};

// ---------------------------------------------------------------- helpers

function setStatus(text, kind = 'info') {
  ui.status.textContent = text;
  ui.status.dataset.kind = kind;
}

function errorText(err) {
  if (!err) return 'unknown error';
  return err.code ? `${err.message || err.code} (${err.code})` : err.message || String(err);
}

function setConn(s) {
  const labels = {
    disconnected: 'Disconnected', connecting: 'Connecting…', connected: 'Connected',
    reconnecting: 'Reconnecting…', signedout: 'Signed out',
  };
  ui.conn.dataset.state = s === 'signedout' ? 'disconnected' : s;
  ui.conn.textContent = labels[s];
}

function jwtClaims(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), '=')));
  } catch {
    return {};
  }
}

function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, '0');
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

/** Bars (1–4) for a call.quality MOS: ≥ 4.0 four, ≥ 3.6 three, ≥ 3.1 two, else one. */
function qualityBars(mos) {
  if (mos >= 4.0) return 4;
  if (mos >= 3.6) return 3;
  if (mos >= 3.1) return 2;
  return 1;
}

/** "MOS 4.3 · loss 0.2% · jitter 3 ms" (and the round trip when known). */
function qualityText(q) {
  let s = `MOS ${q.mos.toFixed(1)} · loss ${q.loss.toFixed(1)}% · jitter ${Math.round(q.jitter)} ms`;
  if (q.rtt !== null && q.rtt !== undefined) s += ` · rtt ${Math.round(q.rtt)} ms`;
  return s;
}

function toDate(v) {
  if (v === undefined || v === null || v === '') return null;
  const d = v instanceof Date ? v : new Date(typeof v === 'number' && v < 1e12 ? v * 1000 : v);
  return Number.isNaN(d.getTime()) ? null : d;
}

function peerOf(call) {
  if (call.direction === 'inbound') {
    return call.fromName && call.fromName !== call.from ? `${call.fromName} (${call.from})` : call.from || 'Unknown';
  }
  return call.to || 'Unknown';
}

function heldByMe(call) {
  return call.state === 'held' && call.heldBy === 'local';
}

function connected(call) {
  return call.state === 'active' || call.state === 'held';
}

async function attempt(what, fn) {
  try {
    return await fn();
  } catch (err) {
    setStatus(`${what} failed: ${errorText(err)}`, 'error');
    return undefined;
  }
}

// ---------------------------------------------------------------- ringer

// A quiet two-tone ring while a call waits for an answer. The AudioContext
// is created on a user gesture (sign-in) so browsers let it play.
const ringer = {
  ctx: null,
  timer: null,
  unlock() {
    if (this.ctx) return;
    try {
      this.ctx = new AudioContext();
    } catch {
      this.ctx = null;
    }
  },
  burst() {
    const ctx = this.ctx;
    if (!ctx || ctx.state === 'closed') return;
    const gain = ctx.createGain();
    gain.gain.value = 0.06;
    gain.connect(ctx.destination);
    const t = ctx.currentTime;
    for (const f of [440, 480]) {
      const osc = ctx.createOscillator();
      osc.frequency.value = f;
      osc.connect(gain);
      osc.start(t);
      osc.stop(t + 1.6);
    }
  },
  sync(ringing) {
    if (ringing && !this.timer) {
      this.ctx?.resume?.().catch(() => {});
      this.burst();
      this.timer = setInterval(() => this.burst(), 4000);
    } else if (!ringing && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  },
};

// ---------------------------------------------------------------- views

/** The prompt for one ringing inbound call. */
class IncomingView {
  constructor(call) {
    this.call = call;
    const title = `Incoming call`;
    this.answer = el('button', { type: 'button', class: 'good', dataset: { testid: 'incoming-answer' },
      onclick: () => this.onAnswer() }, 'Answer');
    this.node = el('section', {
      class: 'incoming', role: 'group', 'aria-label': `${title} from ${peerOf(call)}`,
      dataset: { testid: 'incoming', callId: call.id ?? '' },
    },
    el('h2', {}, title),
    el('p', { class: 'who', dataset: { testid: 'incoming-from' } }, peerOf(call)),
    el('div', { class: 'actions' },
      this.answer,
      el('button', { type: 'button', class: 'danger', dataset: { testid: 'incoming-decline' },
        onclick: () => attempt('Decline', () => call.reject('decline')) }, 'Decline'),
      el('button', { type: 'button', dataset: { testid: 'incoming-busy' },
        onclick: () => attempt('Busy', () => call.reject('busy')) }, 'Busy')));
    ui.incoming.append(this.node);
    // Screen readers hear the call at once, wherever the focus is.
    ui.announce.textContent = `${title} from ${peerOf(call)}`;
    this.update();
  }

  otherActive() {
    return (state.phone?.activeCalls ?? []).filter((c) => c !== this.call && c.state === 'active');
  }

  async onAnswer() {
    this.answer.disabled = true;
    // Like a desk phone: answering a waiting call holds the one in progress.
    for (const c of this.otherActive()) await attempt('Hold', () => c.hold());
    await attempt('Answer', () => this.call.answer());
    this.answer.disabled = false;
  }

  update() {
    this.answer.textContent = this.otherActive().length ? 'Hold & answer' : 'Answer';
  }

  remove() {
    this.node.remove();
    if (!ui.incoming.childElementCount) ui.announce.textContent = '';
  }
}

/** One call in the list, with its controls. */
class CallView {
  constructor(call) {
    this.call = call;
    this.endedAt = 0;
    const b = (testid, label, onclick, cls) =>
      el('button', { type: 'button', class: cls, dataset: { testid }, onclick }, label);

    this.peer = el('span', { class: 'peer', dataset: { testid: 'call-peer' } });
    this.dir = el('span', { class: 'dir' });
    this.duration = el('span', { class: 'duration', dataset: { testid: 'call-duration' }, 'aria-label': 'Duration' });
    // The server's view of this device's audio, every 5 s (call.quality).
    this.qualityIcon = el('span', { class: 'quality', role: 'img', hidden: true, dataset: { testid: 'call-quality' } },
      el('i'), el('i'), el('i'), el('i'));
    call.on('quality', (q) => this.showQuality(q));
    this.stateText = el('span', { class: 'badge', dataset: { testid: 'call-state' } });
    this.mutedFlag = el('span', { class: 'muted-flag' }, ' · muted');

    this.hold = b('call-hold', 'Hold', () => this.toggleHold());
    this.mute = b('call-mute', 'Mute', () => this.toggleMute());
    this.keypadButton = b('call-keypad', 'Keypad', () => this.toggle(this.keypad, this.keypadButton));
    this.transferButton = b('call-transfer', 'Transfer', () => this.toggle(this.transferForm, this.transferButton));
    this.attendedButton = b('call-attended', 'Attended transfer', () => this.toggle(this.attendedForm, this.attendedButton));
    this.parkButton = b('call-park', 'Park', () => this.park());
    this.hangup = b('call-hangup', 'Hang up', () => attempt('Hang up', () => call.hangup()), 'danger');
    // Merge: this call and the phone's one other answered call become a
    // conference under this call (the other ends "merged").
    this.mergeButton = b('call-merge', 'Merge', () => this.merge());
    this.addButton = b('call-add', 'Add party', () => this.toggle(this.addForm, this.addButton));
    this.addButton.setAttribute('aria-expanded', 'false');
    this.confText = el('span', { class: 'conference', dataset: { testid: 'call-conference' }, hidden: true });
    call.on('conference', () => this.update());
    for (const btn of [this.keypadButton, this.transferButton, this.attendedButton]) {
      btn.setAttribute('aria-expanded', 'false');
    }

    this.keypad = el('div', { class: 'pad keypad', role: 'group', 'aria-label': 'Keypad (sends tones)',
      dataset: { testid: 'call-dtmf-pad' }, hidden: true },
    PAD_KEYS.map(([d]) => el('button', { type: 'button', dataset: { testid: `dtmf-${d}` },
      'aria-label': `Send ${d}`, onclick: () => this.dtmf(d) }, d)));

    this.transferForm = this.destForm('transfer', 'Transfer to', 'Transfer', async (dest) => {
      await attempt('Transfer', () => call.transfer(dest));
    });
    this.attendedForm = this.destForm('attended', 'Consult with', 'Call', async (dest) => {
      const consult = await attempt('Attended transfer', () => call.attendedTransfer(dest));
      if (consult) {
        state.consults.set(call, consult);
        track(consult);
        refresh();
      }
    });
    this.addForm = this.destForm('add', 'Add to the call', 'Call', async (dest) => {
      await attempt('Add party', () => call.add(dest));
    });
    this.consultBox = el('div', { class: 'consult', dataset: { testid: 'consult' }, hidden: true });

    const id = `call-${Math.random().toString(36).slice(2, 8)}`;
    this.node = el('li', { class: 'call', dataset: { testid: 'call', callId: call.id ?? '' }, 'aria-labelledby': id },
      el('div', { class: 'call-head', id }, this.peer, this.dir, this.qualityIcon, this.duration),
      el('div', { class: 'call-state' }, this.stateText, this.mutedFlag, this.confText),
      el('div', { class: 'actions' }, this.hold, this.mute, this.keypadButton, this.transferButton,
        this.attendedButton, this.parkButton, this.mergeButton, this.addButton, this.hangup),
      this.keypad, this.transferForm, this.attendedForm, this.addForm, this.consultBox);
    ui.calls.append(this.node);
    this.update();
  }

  /** Parks the other party (call park); anyone in the account dials the slot to pick it up. */
  async park() {
    this.parkButton.disabled = true;
    const slot = await attempt('Park', () => this.call.park());
    this.parkButton.disabled = false;
    if (!slot) return;
    // After the call's own "ended (transferred)" line, which follows call.parked.
    const show = () => setStatus(`Parked in ${slot}: dial ${slot} to pick it up`);
    if (this.call.state === 'ended') show();
    else this.call.once('ended', show);
  }

  destForm(name, label, submit, action) {
    const inputId = `${name}-${Math.random().toString(36).slice(2, 8)}`;
    const input = el('input', { id: inputId, inputmode: 'tel', autocomplete: 'off', required: true,
      dataset: { testid: `${name}-input` } });
    const form = el('form', { class: 'inline-form', hidden: true, novalidate: true, dataset: { testid: `${name}-form` },
      onsubmit: async (ev) => {
        ev.preventDefault();
        const dest = input.value.trim();
        if (!dest) return input.focus();
        form.hidden = true;
        this.syncExpanded();
        await action(dest);
        input.value = '';
      } },
    el('div', { class: 'field' }, el('label', { for: inputId }, label), input),
    el('button', { type: 'submit', class: 'primary', dataset: { testid: `${name}-submit` } }, submit),
    el('button', { type: 'button', class: 'quiet', dataset: { testid: `${name}-cancel` },
      onclick: () => { form.hidden = true; this.syncExpanded(); } }, 'Cancel'));
    return form;
  }

  toggle(panel, button) {
    const open = panel.hidden;
    for (const p of [this.keypad, this.transferForm, this.attendedForm, this.addForm]) p.hidden = true;
    panel.hidden = !open;
    this.syncExpanded();
    if (open) (panel.querySelector('input') ?? panel.querySelector('button'))?.focus();
    else button.focus();
  }

  syncExpanded() {
    this.keypadButton.setAttribute('aria-expanded', String(!this.keypad.hidden));
    this.transferButton.setAttribute('aria-expanded', String(!this.transferForm.hidden));
    this.attendedButton.setAttribute('aria-expanded', String(!this.attendedForm.hidden));
    this.addButton.setAttribute('aria-expanded', String(!this.addForm.hidden));
  }

  /** The phone's other answered calls this one could merge with. */
  mergeable() {
    return (state.phone?.activeCalls ?? []).filter((c) => c !== this.call && connected(c) &&
      !isConsult(c) && !state.consults.has(c));
  }

  async merge() {
    const [other] = this.mergeable();
    if (other) await attempt('Merge', () => this.call.merge(other));
  }

  async toggleHold() {
    if (heldByMe(this.call)) await attempt('Resume', () => this.call.resume());
    else await attempt('Hold', () => this.call.hold());
  }

  async toggleMute() {
    if (this.call.isMuted) await attempt('Unmute', () => this.call.unmute());
    else await attempt('Mute', () => this.call.mute());
  }

  async dtmf(digit) {
    await attempt('Keypad', () => this.call.sendDtmf(digit));
    setStatus(`Sent ${digit}`);
  }

  update() {
    const call = this.call;
    const st = call.state;
    this.node.dataset.callId = call.id ?? '';
    this.node.dataset.state = st;
    this.node.dataset.heldBy = st === 'held' ? call.heldBy ?? '' : '';
    this.node.dataset.muted = String(Boolean(call.isMuted));
    this.peer.textContent = peerOf(call);
    this.dir.textContent = call.direction === 'inbound' ? 'incoming' : 'outgoing';
    const labels = {
      trying: 'Calling…', ringing: call.direction === 'inbound' ? 'Ringing' : 'Ringing…', active: 'Connected',
      held: call.heldBy === 'remote' ? 'On hold by the other party' : 'On hold', ended: `Ended (${call.endReason ?? 'hangup'})`,
    };
    this.stateText.textContent = labels[st] ?? st;
    const live = connected(call);
    const ended = st === 'ended';
    this.hold.textContent = heldByMe(call) ? 'Resume' : 'Hold';
    this.hold.hidden = !live;
    this.mute.textContent = call.isMuted ? 'Unmute' : 'Mute';
    this.mute.hidden = ended;
    // The server refuses to transfer either call of an attended transfer in
    // progress: it is completed or cancelled from the consult box instead.
    const consulting = state.consults.has(call) || isConsult(call);
    this.keypadButton.hidden = !live;
    this.transferButton.hidden = this.attendedButton.hidden = this.parkButton.hidden = !live || consulting;
    this.hangup.hidden = ended;
    this.mergeButton.hidden = !live || consulting || this.mergeable().length !== 1;
    this.addButton.hidden = !live || consulting;
    if (this.addButton.hidden) this.addForm.hidden = true;
    const parts = call.participants ?? [];
    this.confText.hidden = ended || parts.length === 0;
    this.confText.textContent = ` · conference: ${parts.filter((p) => !p.host).map((p) => p.name || p.number || p.participant_id).join(', ')}`;
    if (!live || consulting) {
      for (const p of live ? [this.transferForm, this.attendedForm] : [this.keypad, this.transferForm, this.attendedForm]) {
        p.hidden = true;
      }
      this.syncExpanded();
    }
    this.updateConsult();
    this.tick();
  }

  updateConsult() {
    const consult = state.consults.get(this.call);
    if (!consult || consult.state === 'ended' || this.call.state === 'ended') {
      this.consultBox.hidden = true;
      this.consultBox.replaceChildren();
      return;
    }
    const answered = connected(consult);
    const text = `Consulting ${peerOf(consult)}: ${answered ? 'connected' : 'ringing…'}`;
    if (this.consultBox.hidden || this.consultBox.dataset.answered !== String(answered)) {
      this.consultBox.dataset.answered = String(answered);
      this.consultBox.replaceChildren(
        el('span', {}, text),
        el('button', { type: 'button', class: 'primary', disabled: !answered, dataset: { testid: 'call-complete' },
          onclick: () => attempt('Complete transfer', () => this.call.completeTransfer()) }, 'Complete transfer'),
        el('button', { type: 'button', dataset: { testid: 'consult-cancel' },
          onclick: () => attempt('Cancel consultation', () => consult.hangup()) }, 'Cancel'));
      this.consultBox.hidden = false;
    }
  }

  showQuality(q) {
    const bars = qualityBars(q.mos);
    const text = qualityText(q);
    this.qualityIcon.dataset.bars = String(bars);
    this.qualityIcon.title = text;
    this.qualityIcon.setAttribute('aria-label', `Call quality ${bars} of 4: ${text}`);
    this.qualityIcon.hidden = this.call.state === 'ended';
  }

  tick() {
    const at = toDate(this.call.answeredAt);
    if (!at) {
      this.duration.textContent = '';
      return;
    }
    const end = this.endedAt || Date.now();
    this.duration.textContent = clock((end - at.getTime()) / 1000);
  }

  remove() {
    this.node.remove();
  }
}

function isConsult(call) {
  for (const c of state.consults.values()) if (c === call) return true;
  return false;
}

// ---------------------------------------------------------------- calls

function track(call) {
  if (state.views.has(call)) return;
  state.views.set(call, null);
  const onChange = () => refresh();
  for (const ev of ['trying', 'ringing', 'answered', 'held', 'resumed', 'muted', 'unmuted', 'restored', 'statechange']) {
    call.on(ev, onChange);
  }
  call.on('error', (err) => setStatus(`${peerOf(call)}: ${errorText(err)}`, 'error'));
  call.on('answered', () => setStatus(`Connected to ${peerOf(call)}`));
  call.on('held', (by) => setStatus(by === 'remote' ? `${peerOf(call)} put you on hold` : `${peerOf(call)} is on hold`));
  call.on('ended', (reason) => {
    const missed = call.direction === 'inbound' && !call.answeredAt;
    setStatus(missed ? `Missed call from ${peerOf(call)}` : `Call with ${peerOf(call)} ended (${reason})`);
    const view = state.views.get(call);
    if (view instanceof CallView) {
      view.endedAt = Date.now();
      setTimeout(() => forget(call), ENDED_LINGER_MS);
    } else {
      forget(call);
    }
    for (const [orig, consult] of state.consults) {
      if (orig === call || consult === call) state.consults.delete(orig);
    }
    refresh();
    loadHistory();
  });
  refresh();
}

function forget(call) {
  state.views.get(call)?.remove();
  state.views.delete(call);
  refresh();
}

/** Brings every view in line with the calls' current state. */
function refresh() {
  const phone = state.phone;
  if (phone) for (const c of phone.activeCalls) track(c);
  let ringing = false;
  for (const [call, view] of state.views) {
    const prompt = call.direction === 'inbound' && (call.state === 'ringing' || call.state === 'trying');
    if (prompt) {
      ringing = true;
      if (!(view instanceof IncomingView)) {
        view?.remove();
        state.views.set(call, new IncomingView(call));
      } else view.update();
    } else if (call.state === 'ended' && !(view instanceof CallView)) {
      continue; // forgotten by the ended handler
    } else if (!(view instanceof CallView)) {
      view?.remove();
      state.views.set(call, new CallView(call));
    } else view.update();
  }
  ringer.sync(ringing);
  const listed = [...state.views.values()].filter((v) => v instanceof CallView);
  ui.noCalls.hidden = listed.length > 0;
  ui.phone.dataset.calls = listed.length > 0 ? 'yes' : 'no';
  const live = [...state.views.keys()].filter(connected);
  ui.swap.hidden = live.length !== 2;
}

async function swap() {
  const live = [...state.views.keys()].filter(connected);
  if (live.length !== 2) return;
  const active = live.filter((c) => c.state === 'active');
  const mine = live.filter(heldByMe);
  if (active.length === 1 && mine.length === 1) {
    await attempt('Hold', () => active[0].hold());
    await attempt('Resume', () => mine[0].resume());
  } else if (active.length === 2) {
    await attempt('Hold', () => active[0].hold());
  } else if (mine.length >= 1) {
    await attempt('Resume', () => mine[mine.length - 1].resume());
  }
}

async function dial(dest) {
  if (!state.phone) return;
  ui.dialButton.disabled = true;
  setStatus(`Calling ${dest}…`);
  try {
    const call = await state.phone.call(dest);
    track(call);
    ui.dest.value = '';
  } catch (err) {
    setStatus(`Call failed: ${errorText(err)}`, 'error');
  } finally {
    ui.dialButton.disabled = false;
  }
}

// ---------------------------------------------------------------- history

async function loadHistory() {
  if (!state.token) return;
  let body;
  try {
    const res = await fetch('/v1/calls?limit=15', { headers: { Authorization: `Bearer ${state.token}` } });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    body = await res.json();
  } catch (err) {
    setStatus(`Could not load recent calls: ${errorText(err)}`, 'error');
    return;
  }
  const items = (body.data ?? []).map((rec) => {
    const outgoing = rec.from_user ? rec.from_user === state.userId : rec.direction === 'outbound';
    const peer = outgoing ? rec.to : rec.from_name && rec.from_name !== rec.from ? `${rec.from_name} (${rec.from})` : rec.from;
    const started = toDate(rec.started_at);
    const answered = toDate(rec.answered_at);
    const ended = toDate(rec.ended_at);
    const outcome = !ended ? 'in progress' : answered ? 'answered' : outgoing ? rec.end_reason || 'not answered' : 'missed';
    const len = answered && ended ? clock((ended - answered) / 1000) : '';
    return el('li', { dataset: { testid: 'history-item', callId: rec.id, outcome: answered ? 'answered' : outcome } },
      el('span', { class: 'arrow', 'aria-label': outgoing ? 'Outgoing' : 'Incoming' }, outgoing ? '↗' : '↙'),
      el('span', { class: 'peer' }, peer || 'Unknown'),
      el('span', { class: 'len' }, len, mosBadge(rec.legs)),
      el('span', { class: 'when' }, started ? started.toLocaleString([], { dateStyle: 'short', timeStyle: 'short' }) : ''),
      el('span', { class: 'outcome', dataset: { testid: 'history-reason' } }, rec.end_reason || outcome),
      legDetails(rec.legs));
  });
  ui.history.replaceChildren(...items);
  ui.historyEmpty.hidden = items.length > 0;
}

// A call's quality is its worst leg's average MOS (what the server heard
// from each party): good ≥ 4.0, fair ≥ 3.6, poor below, as the bars are.
function mosLevel(mos) {
  return mos >= 4.0 ? 'good' : mos >= 3.6 ? 'fair' : 'poor';
}

function mosBadge(legs) {
  const rated = (legs ?? []).filter((l) => l.quality);
  if (!rated.length) return null;
  const worst = Math.min(...rated.map((l) => l.quality.avg_mos));
  return el('span', { class: 'mos', dataset: { testid: 'history-mos', level: mosLevel(worst) },
    title: 'Estimated MOS of the worst leg (1–4.5)' }, `MOS ${worst.toFixed(1)}`);
}

// The per-leg figures, folded: role, device kind, codec, MOS, loss, jitter.
function legDetails(legs) {
  if (!legs?.length) return null;
  const pct = (l) => {
    const expected = (l.packets_received ?? 0) + Math.max(0, l.packets_lost ?? 0);
    return expected ? `${((100 * Math.max(0, l.packets_lost ?? 0)) / expected).toFixed(1)}%` : '–';
  };
  const rows = legs.map((l) => el('tr', { dataset: { testid: 'history-leg', level: l.quality ? mosLevel(l.quality.avg_mos) : 'none' } },
    el('td', {}, l.role), el('td', {}, l.kind), el('td', {}, l.codec || '–'),
    el('td', {}, l.quality ? `${l.quality.avg_mos.toFixed(2)} (min ${l.quality.min_mos.toFixed(2)})` : '–'),
    el('td', {}, pct(l)), el('td', {}, `${(l.jitter_ms ?? 0).toFixed(1)} ms`)));
  return el('details', { class: 'legs', dataset: { testid: 'history-detail' } },
    el('summary', {}, 'Details'),
    el('table', {},
      el('thead', {}, el('tr', {}, ...['Leg', 'Device', 'Codec', 'MOS', 'Loss', 'Jitter'].map((h) => el('th', {}, h)))),
      el('tbody', {}, ...rows)));
}

// ---------------------------------------------------------------- sign in

async function demoUsers() {
  try {
    const res = await fetch('/v1/demo/users');
    if (!res.ok) return [];
    const list = await res.json();
    return Array.isArray(list) ? list : list.data ?? [];
  } catch {
    return [];
  }
}

async function showDemoPicker() {
  const users = await demoUsers();
  const list = $('.demo-list', ui.demo);
  list.replaceChildren(...users.map((u) => el('button', { type: 'button',
    dataset: { testid: `demo-user-${u.extension}` },
    onclick: () => {
      ui.token.value = u.token;
      signIn(u.token, { name: u.name, extension: u.extension });
    } }, `${u.name} (${u.extension})`)));
  ui.demo.hidden = users.length === 0;
}

async function refreshDemoToken() {
  const u = (await demoUsers()).find((d) => d.extension === state.demo?.extension);
  if (!u) throw new Error('demo token unavailable');
  state.token = u.token;
  sessionStorage.setItem(TOKEN_KEY, u.token);
  return u.token;
}

function wirePhone(phone) {
  phone.on('connected', () => setConn('connected'));
  phone.on('reconnecting', (attempt, delayMs) => {
    setConn('reconnecting');
    setStatus(`Connection lost; retrying in ${Math.round((delayMs ?? 0) / 1000)} s (attempt ${attempt})`);
  });
  phone.on('reconnected', () => {
    setConn('connected');
    setStatus('Reconnected');
    refresh();
  });
  phone.on('disconnected', (err) => {
    if (state.phone !== phone) return;
    setConn('disconnected');
    if (!state.signingOut) setStatus(err ? `Disconnected: ${errorText(err)}` : 'Disconnected', 'error');
    if (err?.fatal) signOut(false, `Signed out: ${errorText(err)}`);
  });
  phone.on('incoming', (call) => {
    track(call);
    setStatus(`Incoming call from ${peerOf(call)}`);
  });
  phone.on('error', (err) => setStatus(errorText(err), 'error'));
}

async function signIn(token, demo = null) {
  token = token.trim();
  ui.signinError.hidden = true;
  if (!token) {
    ui.signinError.textContent = 'Paste a user token first.';
    ui.signinError.hidden = false;
    ui.token.focus();
    return;
  }
  ringer.unlock();
  if (state.phone) signOut(true);
  const opts = { baseUrl: location.origin, token };
  if (demo) opts.onTokenExpiring = refreshDemoToken;
  const phone = new Phone(opts);
  state.phone = phone;
  state.token = token;
  state.demo = demo;
  wirePhone(phone);
  setConn('connecting');
  ui.signinButton.disabled = true;
  try {
    await phone.connect();
  } catch (err) {
    if (state.phone === phone) {
      state.phone = null;
      state.token = '';
      setConn('signedout');
      ui.signinError.textContent = `Sign-in failed: ${errorText(err)}`;
      ui.signinError.hidden = false;
      sessionStorage.removeItem(TOKEN_KEY);
    }
    return;
  } finally {
    ui.signinButton.disabled = false;
  }
  if (state.phone !== phone) return;
  setConn('connected');
  const claims = jwtClaims(token);
  state.userId = claims.sub ?? '';
  ui.me.textContent = demo ? `${demo.name} (${demo.extension})` : state.userId;
  sessionStorage.setItem(TOKEN_KEY, token);
  if (demo) sessionStorage.setItem(DEMO_KEY, JSON.stringify(demo));
  else sessionStorage.removeItem(DEMO_KEY);
  ui.signin.hidden = true;
  ui.phone.hidden = false;
  ui.signout.hidden = false;
  ui.token.value = '';
  setStatus('');
  refresh();
  ui.dest.focus();
  loadHistory();
}

function signOut(quiet = false, message = '') {
  const phone = state.phone;
  state.signingOut = true;
  state.phone = null;
  try {
    phone?.disconnect();
  } catch {
    // already closed
  }
  state.signingOut = false;
  for (const view of state.views.values()) view?.remove();
  state.views.clear();
  state.consults.clear();
  ringer.sync(false);
  state.token = '';
  state.userId = '';
  state.demo = null;
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(DEMO_KEY);
  if (quiet) return;
  setConn('signedout');
  ui.me.textContent = '';
  ui.phone.hidden = true;
  ui.signout.hidden = true;
  ui.signin.hidden = false;
  ui.history.replaceChildren();
  setStatus(message, message ? 'error' : 'info');
  showDemoPicker();
  ui.token.focus();
}

// ---------------------------------------------------------------- wiring

function buildDialPad() {
  ui.pad.replaceChildren(...PAD_KEYS.map(([d, letters]) => el('button', {
    type: 'button', dataset: { testid: `dialpad-${d}` }, 'aria-label': d,
    onclick: () => {
      ui.dest.value += d;
      ui.dest.focus();
    },
  }, d, el('small', { 'aria-hidden': 'true' }, letters))));
}

function init() {
  buildDialPad();
  ui.signinForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    signIn(ui.token.value);
  });
  ui.token.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey) {
      ev.preventDefault();
      signIn(ui.token.value);
    }
  });
  ui.signout.addEventListener('click', () => signOut());
  ui.dialForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const dest = ui.dest.value.trim();
    if (!dest) {
      setStatus('Enter a number or extension to call.', 'error');
      ui.dest.focus();
      return;
    }
    dial(dest);
  });
  byTestId('dial-backspace').addEventListener('click', () => {
    ui.dest.value = ui.dest.value.slice(0, -1);
    ui.dest.focus();
  });
  ui.swap.addEventListener('click', () => swap());
  ui.historyRefresh.addEventListener('click', () => loadHistory());
  setInterval(() => {
    for (const view of state.views.values()) if (view instanceof CallView) view.tick();
  }, 1000);
  window.addEventListener('pagehide', () => state.phone?.disconnect());

  setConn('signedout');
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) {
    let demo = null;
    try {
      demo = JSON.parse(sessionStorage.getItem(DEMO_KEY) ?? 'null');
    } catch {
      demo = null;
    }
    signIn(saved, demo);
  }
  showDemoPicker();
}

init();
