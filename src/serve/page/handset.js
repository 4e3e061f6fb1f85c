// The handset page: the cameras and their state from /api/events, a ring's Answer / Reject,
// a call over one WebSocket (the microphone out, the device's microphone in), and
// announcements. Everything a device or the service says is shown as text, never as markup.
// A call is never reopened by itself: a socket that ends, a hidden page, a closed tab end it.
'use strict';

const $ = (id) => document.getElementById(id);
const KEY = 'hiktalk.token';
const cams = new Map(); // name -> { el, state, watched, ringing, session }
let call = null;

// What the tests (and anyone curious) can read: the levels and stamps of both directions.
const probe = window.hiktalk = { state: 'idle', rxLevelDb: -120, txLevelDb: -120, rxSamples: 0, sent: [], arrived: [], buffered: 0, underruns: 0 };
// The last second (at 48 kHz) of what the device sent, as received.
const rxRing = new Int16Array(48000);
probe.rxLast = (n) => Array.from({ length: Math.min(n, probe.rxSamples, rxRing.length) }, (_, i) => rxRing[(probe.rxSamples - Math.min(n, probe.rxSamples, rxRing.length) + i) % rxRing.length]);

const token = () => localStorage.getItem(KEY) || '';
const hex = (s) => Array.from(new TextEncoder().encode(s), (b) => b.toString(16).padStart(2, '0')).join('');
const now = () => performance.timeOrigin + performance.now();
const db = (peak) => (peak > 0 ? 20 * Math.log10(peak) : -120);
const keep = (list, item, n) => { list.push(item); if (list.length > n) list.splice(0, list.length - n); };

async function api(path, opts = {}) {
  const headers = Object.assign({}, opts.headers || {});
  if (token()) headers.Authorization = 'Bearer ' + token();
  const r = await fetch(path, Object.assign({}, opts, { headers }));
  if (r.status === 401) { askToken('The token was refused.'); throw new Error('unauthorized'); }
  return r;
}

async function said(r) {
  try { const j = await r.json(); return j.message || j.line || j.reason || r.statusText; } catch (_) { return r.statusText; }
}

function askToken(why) {
  $('login').hidden = false;
  $('login-error').textContent = why || '';
  $('token').focus();
}

$('login').addEventListener('submit', (e) => {
  e.preventDefault();
  localStorage.setItem(KEY, $('token').value.trim());
  $('login').hidden = true;
  start();
});
$('forget').addEventListener('click', () => { localStorage.removeItem(KEY); location.reload(); });
$('notify').addEventListener('click', async () => {
  if (!('Notification' in window)) { $('notify').textContent = 'No notifications in this browser'; return; }
  const p = await Notification.requestPermission();
  $('notify').textContent = p === 'granted' ? 'Rings are notified' : 'Notifications are blocked';
});

// ---- cameras and their state ----

function draw(name) {
  const c = cams.get(name);
  const state = c.unreachable ? 'unreachable' : c.call ? 'call' : c.ringing ? 'ringing' : c.playing ? 'playing' : 'idle';
  c.state = state;
  c.el.dataset.state = state;
  c.el.querySelector('.pill').textContent = { idle: 'idle', ringing: 'ringing', call: 'in a call', playing: 'playing', unreachable: 'unreachable' }[state];
  c.el.querySelector('button').disabled = !!call || state === 'call';
}

function addCamera(cam) {
  const li = document.createElement('li');
  li.className = 'camera';
  li.dataset.camera = cam.name;
  const name = document.createElement('span');
  name.className = 'name';
  name.textContent = cam.name;
  const pill = document.createElement('span');
  pill.className = 'pill';
  const talk = document.createElement('button');
  talk.textContent = 'Talk';
  talk.addEventListener('click', () => startCall(cam.name, false));
  li.append(name, pill, talk);
  $('cameras').append(li);
  cams.set(cam.name, { el: li, watched: cam.watched, live: new Map() });
  draw(cam.name);
}

function onSession(s) {
  const c = cams.get(s.camera);
  if (!c) return;
  if (s.state === 'closed') c.live.delete(s.id); else c.live.set(s.id, s.kind);
  const kinds = [...c.live.values()];
  c.call = kinds.includes('call');
  c.playing = kinds.includes('play');
  if (s.state === 'closed' && s.reason === 'unreachable') c.unreachable = true;
  if (s.state === 'playing') c.unreachable = false;
  draw(s.camera);
  if (call && call.camera === s.camera && s.kind === 'call' && s.state === 'playing') setCallState('talking');
}

function onDevice(d) {
  const c = cams.get(d.camera);
  if (!c) return;
  if (d.type === 'ring' && d.current !== false && d.state !== 'inactive') ring(d.camera, true);
  if (d.type === 'callStatus') {
    if (d.state === 'ring') ring(d.camera, true);
    else ring(d.camera, false);
    // The far side hung up the call this page answered: it ends here too.
    if (d.state === 'idle' && call && call.camera === d.camera && call.answered) hangUp('the doorbell ended the call');
  }
  if (d.type === 'reconnecting' || d.type === 'watch_ended') c.unreachable = true;
  if (d.type === 'connected') c.unreachable = false;
  draw(d.camera);
}

function ring(name, on) {
  const c = cams.get(name);
  if (c.ringing === on) return;
  c.ringing = on;
  draw(name);
  if (on && !call) {
    $('ring-camera').textContent = name;
    $('ring').hidden = false;
    $('ring').dataset.camera = name;
    document.body.dataset.ring = name;
    if ('Notification' in window && Notification.permission === 'granted' && document.hidden) {
      try { new Notification('hiktalk: ' + name + ' rings', { tag: 'ring-' + name }); } catch (_) { /* not on this platform */ }
    }
  } else if (!on && $('ring').dataset.camera === name) {
    $('ring').hidden = true;
    delete document.body.dataset.ring;
  }
}

$('answer').addEventListener('click', () => { $('ring').hidden = true; startCall($('ring').dataset.camera, true); });
$('reject').addEventListener('click', async () => {
  const name = $('ring').dataset.camera;
  $('ring').hidden = true;
  const r = await api('/api/cameras/' + encodeURIComponent(name) + '/reject', { method: 'POST' });
  if (!r.ok) $('announce-note').textContent = name + ': ' + (await said(r));
});

// The event stream, read with fetch (EventSource cannot send the token). It only shows state:
// if it breaks it is read again after a pause; no call depends on it.
async function events() {
  try {
    const r = await api('/api/events');
    if (!r.ok) throw new Error(await said(r));
    $('link').textContent = 'live';
    const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      let at;
      while ((at = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, at);
        buf = buf.slice(at + 2);
        let kind = 'message', data = '';
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) kind = line.slice(7);
          else if (line.startsWith('data: ')) data += line.slice(6);
        }
        if (!data) continue;
        const v = JSON.parse(data);
        if (kind === 'session') onSession(v); else if (kind === 'device') onDevice(v);
      }
    }
  } catch (e) {
    if (e.message === 'unauthorized') return;
  }
  $('link').textContent = 'offline';
  setTimeout(events, 3000);
}

async function start() {
  let r;
  try { r = await api('/api/handset'); } catch (_) { return; }
  if (!r.ok) { $('link').textContent = await said(r); return; }
  const o = await r.json();
  $('cameras').replaceChildren();
  cams.clear();
  o.cameras.forEach(addCamera);
  $('target').replaceChildren(...[...o.cameras.map((c) => c.name), ...o.groups].map((n) => new Option(n, n)));
  o.sessions.forEach(onSession);
  events();
}

// ---- a call ----

function setCallState(s) {
  probe.state = s;
  document.body.dataset.call = s;
  $('call-state').textContent = s;
}

async function startCall(name, answered) {
  if (call) return;
  call = { camera: name, answered, talking: false };
  $('call-camera').textContent = name;
  $('call-note').textContent = '';
  $('call').hidden = false;
  setCallState('connecting');
  cams.forEach((_, n) => draw(n));
  try {
    const mic = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: false, autoGainControl: false, channelCount: 1 } });
    const ctx = new AudioContext({ latencyHint: 'interactive' });
    await ctx.audioWorklet.addModule('/worklet.js');
    Object.assign(call, { mic, ctx });
    probe.rate = ctx.sampleRate;
    const capture = new AudioWorkletNode(ctx, 'capture', { numberOfInputs: 1, numberOfOutputs: 0, channelCount: 1, channelCountMode: 'explicit' });
    const playback = new AudioWorkletNode(ctx, 'playback', { numberOfInputs: 0, numberOfOutputs: 1, outputChannelCount: [1] });
    const gain = new GainNode(ctx, { gain: Number($('volume').value) });
    ctx.createMediaStreamSource(mic).connect(capture);
    playback.connect(gain).connect(ctx.destination);
    Object.assign(call, { playback, gain });
    playback.port.onmessage = (e) => { probe.buffered = e.data.buffered; probe.underruns = e.data.underruns; };
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const url = scheme + '//' + location.host + '/api/cameras/' + encodeURIComponent(name) + '/call?rate=' + ctx.sampleRate + (answered ? '&answer=true' : '');
    const ws = new WebSocket(url, token() ? ['hiktalk', 'hiktalk.bearer.' + hex(token())] : ['hiktalk']);
    ws.binaryType = 'arraybuffer';
    call.ws = ws;
    ws.onopen = () => { if (probe.state === 'connecting') setCallState('opening'); };
    ws.onmessage = (e) => (typeof e.data === 'string' ? ended(JSON.parse(e.data)) : heard(e.data));
    ws.onclose = (e) => finish(e.reason || 'the connection closed');
    capture.port.onmessage = (e) => send(e.data);
  } catch (e) {
    finish('no call: ' + e.message);
  }
}

// One 20 ms piece of the microphone: the stamp (when its first sample entered the audio
// graph, on the epoch clock), then S16LE; silence unless talking (the stream stays
// continuous, and the service knows the page is there).
function send({ pcm: f32, t }) {
  const ws = call && call.ws;
  if (!ws || ws.readyState !== WebSocket.OPEN || call.frozen) return;
  // currentTime is where rendering is now (the output's timestamp lags it by the output's
  // latency): the piece reached the graph this long ago.
  const stamp = now() - Math.max(0, call.ctx.currentTime - t) * 1000;
  const buf = new ArrayBuffer(8 + f32.length * 2);
  new DataView(buf).setFloat64(0, stamp, true);
  const pcm = new Int16Array(buf, 8);
  let peak = 0, loud = -1;
  for (let i = 0; i < f32.length; i++) {
    const s = Math.max(-1, Math.min(1, f32[i]));
    peak = Math.max(peak, Math.abs(s));
    if (loud < 0 && Math.abs(s) > 0.1) loud = i;
    pcm[i] = call.talking ? s * 32767 : 0;
  }
  probe.txLevelDb = db(peak);
  $('tx-meter').value = call.talking ? probe.txLevelDb : -60;
  // For latency: when the piece started, its level, where it first got loud (-1: it did not).
  if (call.talking) keep(probe.sent, [stamp, db(peak), loud], 3000);
  ws.send(buf);
}

function heard(buf) {
  const stamp = new DataView(buf).getFloat64(0, true);
  const pcm = new Int16Array(buf.slice(8));
  let peak = 0, loud = -1;
  for (let i = 0; i < pcm.length; i++) {
    peak = Math.max(peak, Math.abs(pcm[i]));
    if (loud < 0 && Math.abs(pcm[i]) > 3277) loud = i;
  }
  probe.rxLevelDb = db(peak / 32768);
  $('rx-meter').value = probe.rxLevelDb;
  document.body.dataset.rxLevel = probe.rxLevelDb.toFixed(1);
  // For latency: when it came, the service's stamp, its length, level, where it first got
  // loud, and what was ahead of it on the way to the ear (the jitter buffer, the output).
  const ahead = probe.buffered + (call.ctx.outputLatency || call.ctx.baseLatency || 0);
  keep(probe.arrived, [now(), stamp, pcm.length, probe.rxLevelDb, ahead, loud], 3000);
  for (let i = 0; i < pcm.length; i++) rxRing[(probe.rxSamples + i) % rxRing.length] = pcm[i];
  probe.rxSamples += pcm.length;
  call.playback.port.postMessage(pcm);
}

function ended(msg) {
  if (msg.type !== 'ended' || !call) return;
  const o = msg.outcome || {};
  const closed = o.close_error ? 'the close was not confirmed: ' + o.close_error : 'session closed, device confirmed';
  call.outcome = (o.line || o.message || o.reason || 'ended') + '; ' + closed;
  probe.outcome = o;
}

function talk(on) {
  if (!call) return;
  call.talking = on;
  $('talk').setAttribute('aria-pressed', String(on));
  $('talk').textContent = on ? 'Talking…' : $('toggle').checked ? 'Tap to talk' : 'Hold to talk';
}

const held = (on) => (e) => { if (!$('toggle').checked) { e.preventDefault(); talk(on); } };
$('talk').addEventListener('pointerdown', held(true));
$('talk').addEventListener('pointerup', held(false));
$('talk').addEventListener('pointercancel', held(false));
$('talk').addEventListener('pointerleave', held(false));
$('talk').addEventListener('click', () => { if ($('toggle').checked) talk(!(call && call.talking)); });
$('talk').addEventListener('contextmenu', (e) => e.preventDefault());
$('toggle').addEventListener('change', () => talk(false));
$('volume').addEventListener('input', () => { if (call && call.gain) call.gain.gain.value = Number($('volume').value); });

let confirmUnlock = 0;
$('unlock').addEventListener('click', async () => {
  if (!call) return;
  if (Date.now() > confirmUnlock) {
    confirmUnlock = Date.now() + 4000;
    $('unlock').textContent = 'Tap again to unlock';
    setTimeout(() => { $('unlock').textContent = 'Unlock'; }, 4000);
    return;
  }
  confirmUnlock = 0;
  $('unlock').textContent = 'Unlock';
  const r = await api('/api/cameras/' + encodeURIComponent(call.camera) + '/unlock', { method: 'POST' });
  const text = await said(r);
  $('call-note').textContent = r.ok ? text : 'not unlocked: ' + text;
  document.body.dataset.unlocked = r.ok ? 'yes' : 'no';
});

function hangUp(why) {
  if (!call) return;
  call.why = why;
  setCallState('closing');
  if (call.ws && call.ws.readyState === WebSocket.OPEN) call.ws.send(JSON.stringify({ type: 'hangup' }));
  else finish(why);
}
$('hangup').addEventListener('click', () => hangUp('hung up'));

function finish(why) {
  if (!call) return;
  const c = call;
  call = null;
  if (c.mic) c.mic.getTracks().forEach((t) => t.stop());
  if (c.ctx) c.ctx.close();
  if (c.ws && c.ws.readyState <= WebSocket.OPEN) c.ws.close(1000);
  talk(false);
  $('call-note').textContent = c.outcome || why;
  setCallState('ended');
  $('call').hidden = false;
  cams.forEach((_, n) => draw(n));
  setTimeout(() => { if (!call) $('call').hidden = true; }, 8000);
}

// Leaving, or the phone locking: the call ends (the service also ends a socket gone quiet).
window.addEventListener('pagehide', () => { if (call && call.ws) call.ws.close(1001, 'page closed'); });
document.addEventListener('visibilitychange', () => { if (document.hidden && call) hangUp('the page was hidden'); });
// For tests of a network that vanishes: keep the socket but send nothing more.
probe.freeze = () => { if (call) call.frozen = true; };

// ---- announcements ----

async function announce(body, type) {
  const target = $('target').value;
  $('announce-note').textContent = 'sending…';
  const r = await api('/api/cameras/' + encodeURIComponent(target) + '/play', { method: 'POST', headers: { 'Content-Type': type }, body });
  $('announce-note').textContent = target + ': ' + (r.ok ? 'playing' : await said(r));
}
$('say').addEventListener('click', () => {
  const text = $('text').value.trim();
  if (text) announce(JSON.stringify({ text }), 'application/json');
});
$('play').addEventListener('click', () => {
  const f = $('file').files[0];
  if (f) announce(f, 'application/octet-stream');
});

start();
