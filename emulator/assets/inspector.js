// teler-emulator's call inspector and dev phone. Plain JavaScript, no build step.
// Data is put in the page with textContent only (never parsed as HTML).
'use strict';

const $ = (s) => document.querySelector(s);

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v; else if (k === 'text') e.textContent = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function time(rfc) {
  return rfc ? new Date(rfc).toLocaleTimeString([], { hour12: false }) + '.' + String(new Date(rfc).getMilliseconds()).padStart(3, '0') : '';
}

// ---------------------------------------------------------------- the inspector

/** What the page shows, exposed for tests (read only). */
const inspector = { feed: 'connecting', calls: new Map(), selected: null, detail: null };
window.inspector = inspector;

function connectFeed() {
  const es = new EventSource('/inspector/api/events');
  es.onopen = () => setFeed('live');
  es.onerror = () => setFeed('reconnecting');
  es.addEventListener('resync', (e) => {
    inspector.calls.clear();
    for (const v of JSON.parse(e.data).calls) inspector.calls.set(v.call.id, v);
    renderCalls();
    if (inspector.selected) loadDetail();
  });
  es.addEventListener('call', (e) => {
    const v = JSON.parse(e.data);
    inspector.calls.set(v.call.id, v);
    renderCalls();
    if (inspector.selected === v.call.id) loadDetail();
  });
}

function setFeed(s) {
  inspector.feed = s;
  const f = $('#feed');
  f.textContent = s === 'live' ? 'live' : s + '…';
  f.className = 'pill ' + s;
}

function renderCalls() {
  const body = $('#calls tbody');
  const rows = [...inspector.calls.values()].sort((a, b) => (b.call.created_at || '').localeCompare(a.call.created_at || ''));
  body.replaceChildren(...rows.map((v) => {
    const c = v.call, m = c.media || {};
    const hooks = c.webhooks || [];
    const ok = hooks.filter((h) => h.status >= 200 && h.status < 300).length;
    const tr = el('tr', { 'data-id': c.id },
      el('td', {}, el('code', { text: c.id })),
      el('td', { text: c.direction + (v.log && v.log.phone ? ' (phone)' : '') }),
      el('td', {}, el('span', { class: 'pill ' + c.state, text: c.state })),
      el('td', { text: c.from_number + ' → ' + c.to_number }),
      el('td', { text: time(c.created_at) }),
      el('td', { text: (m.frames_sent || 0) + ' / ' + (m.frames_received || 0) }),
      el('td', { class: ok === hooks.length ? 'ok' : 'bad', text: ok + '/' + hooks.length + ' 2xx' }),
      el('td', { text: c.reason || '' }));
    if (c.id === inspector.selected) tr.className = 'selected';
    tr.addEventListener('click', () => { inspector.selected = c.id; renderCalls(); loadDetail(); });
    return tr;
  }));
}

let detailBusy = false, detailAgain = false;
async function loadDetail() {
  if (detailBusy) { detailAgain = true; return; }
  detailBusy = true;
  try {
    const id = inspector.selected;
    const r = await fetch('/inspector/api/calls/' + encodeURIComponent(id));
    if (r.ok && id === inspector.selected) { inspector.detail = await r.json(); renderDetail(inspector.detail); }
  } finally {
    detailBusy = false;
    if (detailAgain) { detailAgain = false; loadDetail(); }
  }
}

function renderDetail(v) {
  const c = v.call, log = v.log || {}, m = c.media || {};
  $('#detail').hidden = false;
  $('#detail-title').textContent = 'Call ' + c.id + ' (' + c.state + (c.reason ? ': ' + c.reason : '') + ')';
  $('#d-states').replaceChildren(...(log.states || []).map((s) => el('li', { text: time(s.at) + '  ' + s.state + '  (+' + s.t_ms + ' ms)' })));
  const media = [
    ['to the app', (m.frames_sent || 0) + ' frames'], ['from the app', (m.frames_received || 0) + ' frames'],
    ['audio chunks', m.audio_chunks || 0], ['clear', m.clears || 0], ['interrupt', m.interrupts || 0],
    ['bad frames', m.bad_frames || 0], ['played', (m.played_ms || 0) + ' ms'], ['dropped', (m.dropped_ms || 0) + ' ms'],
    ['format', m.sample_rate ? m.sample_rate + ' Hz, ' + m.chunk_size_ms + ' ms frames' : '–'],
    ['ws_url', m.ws_url || '–'],
  ];
  $('#d-media').replaceChildren(...media.flatMap(([k, val]) => [el('dt', { text: k }), el('dd', { text: val })]));
  const rec = log.recording || {};
  const base = '/inspector/api/calls/' + encodeURIComponent(c.id) + '/recording/';
  $('#d-recordings').replaceChildren(...(rec.caller_ms ? [
    el('a', { href: base + 'caller.wav', download: '', id: 'dl-caller', text: 'what the caller said (' + rec.caller_ms + ' ms)' }), el('br'),
    el('a', { href: base + 'heard.wav', download: '', id: 'dl-heard', text: 'what the caller heard (' + rec.heard_ms + ' ms)' }),
  ] : [document.createTextNode('ready once the stream ends')]));
  $('#d-flows').replaceChildren(...(log.flows || []).map((f) => el('div', {},
    el('div', { text: 'POST ' + f.url + ' → ' + (f.status || f.error || '?') }),
    el('pre', { text: pretty(f.answer) }))));
  $('#d-webhooks tbody').replaceChildren(...(c.webhooks || []).map((h) => el('tr', {},
    el('td', { text: h.event + (h.duplicate ? ' (copy)' : '') }), el('td', { text: h.attempt }),
    el('td', { class: h.status >= 200 && h.status < 300 ? 'ok' : 'bad', text: h.status || 'no answer' }),
    el('td', { text: v.signed ? (h.status === 401 || h.status === 403 ? 'signed; the app refused it' : 'signed') : 'unsigned' }),
    el('td', { text: h.error || '' }))));
  $('#d-marks').replaceChildren(...(log.marks || []).map((k) => el('li', { text: '+' + k.t_ms + ' ms  ' + k.kind + '  ' + k.detail })));
  $('#d-notes').replaceChildren(...(c.errors || []).map((e) => el('li', { class: 'bad', text: e })),
    ...(c.notes || []).map((n) => el('li', { text: n })));
  drawFrames(log.seconds || []);
}

function pretty(text) {
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch (_) { return text; }
}

function drawFrames(seconds) {
  const cv = $('#d-frames'), g = cv.getContext('2d');
  g.clearRect(0, 0, cv.width, cv.height);
  const mid = cv.height / 2, n = Math.max(seconds.length, 30), w = cv.width / n;
  const max = Math.max(1, ...seconds.map((s) => Math.max(s[0], s[1])));
  seconds.forEach((s, i) => {
    g.fillStyle = '#4a7fd6'; g.fillRect(i * w, mid - (mid - 4) * s[0] / max, Math.max(1, w - 1), (mid - 4) * s[0] / max);
    g.fillStyle = '#2f9e5b'; g.fillRect(i * w, mid, Math.max(1, w - 1), (mid - 4) * s[1] / max);
    if (s[2]) { g.fillStyle = '#d93025'; g.fillRect(i * w, 0, Math.max(2, w / 3), cv.height); }
    if (s[3]) { g.fillStyle = '#f29900'; g.fillRect(i * w + w / 2, 0, Math.max(2, w / 3), cv.height); }
  });
  g.fillStyle = '#999'; g.fillRect(0, mid, cv.width, 1);
}

// ---------------------------------------------------------------- the dev phone

// A frame counts as the caller speaking when its RMS is at least QUIET_RMS (of 32768,
// about -40 dBFS). The caller has gone quiet once no frame has been that loud for
// QUIET_HANGOVER_MS; the quiet moment is when the last loud frame was sent. A turn's
// latency is from that moment to the arrival of the first agent audio chunk at least as
// loud. It leaves out the microphone's and the speakers' own buffering, the Web Audio
// block size, and the time the caller's last frame spent being filled (up to chunk_size).
const QUIET_RMS = 300;
const QUIET_HANGOVER_MS = 300;

/** The phone's state, exposed for tests (read only). */
const phone = {
  status: 'idle', callId: null, rate: 8000, chunkMs: 500, muted: false,
  sentFrames: 0, receivedChunks: 0, queuedChunks: 0,
  played: [],   // {chunk_id, freq_hz, rms, ms}: chunks as they start playing
  clears: [],   // {at, flushed_chunks, flushed_ms, queued_after}
  interrupts: [], // {chunk_id, dropped}
  latencies: [], errors: [], micRms: 0, agentRms: 0, ended: null,
};
window.phone = phone;

let ws = null, ctx = null, node = null, micStream = null;
let queue = [];        // [{chunk_id, data: Float32Array at ctx rate, pos, info}]
let capture = null;    // resampler state
let speaking = false, lastLoudAt = 0, quietAt = null;

function setStatus(s) {
  phone.status = s;
  const p = $('#phone-status');
  p.textContent = s;
  p.className = 'pill ' + (s === 'on call' ? 'on-call' : s === 'ringing' ? 'ringing-me' : s === 'error' ? 'error' : '');
  const onCall = s === 'on call' || s === 'calling' || s === 'ringing';
  $('#dial').disabled = onCall;
  $('#hangup').disabled = !onCall;
  $('#mute').disabled = !onCall;
  $('#answer').hidden = s !== 'ringing';
  $('#reject').hidden = s !== 'ringing';
}

function counters() {
  $('#phone-counters').textContent = 'sent ' + phone.sentFrames + ' frames, received ' + phone.receivedChunks +
    ' chunks, queued ' + queue.length + ', clears ' + phone.clears.length;
}

function level(rms) { return rms <= 0 ? 0 : Math.max(0, 1 + (20 * Math.log10(rms / 32768)) / 60); }

function socket() {
  if (ws && ws.readyState <= 1) return Promise.resolve(ws);
  return new Promise((resolve, reject) => {
    const s = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/inspector/api/phone');
    s.onopen = () => { ws = s; resolve(s); };
    s.onerror = () => reject(new Error('the phone socket did not open'));
    s.onclose = () => { if (ws === s) { ws = null; if (phone.status !== 'idle') { stopAudio(); setStatus('idle'); } $('#ready').checked = false; } };
    s.onmessage = (e) => onMessage(JSON.parse(e.data));
  });
}

function send(v) { if (ws && ws.readyState === 1) ws.send(JSON.stringify(v)); }

function onMessage(m) {
  switch (m.type) {
    case 'placed': phone.callId = m.call_id; setStatus('calling'); break;
    case 'incoming': phone.callId = m.call_id; setStatus('ringing'); break;
    case 'start':
      if (!ctx) { send({ type: 'hangup' }); break; }
      phone.rate = m.sample_rate; phone.chunkMs = m.chunk_ms;
      capture = { ratio: ctx.sampleRate / m.sample_rate, next: ctx.sampleRate / m.sample_rate, acc: 0, n: 0, pending: [] };
      setStatus('on call');
      break;
    case 'audio': onAgentAudio(m); break;
    case 'clear': {
      const flushed = queue.length;
      const ms = queue.reduce((t, q) => t + (q.data.length - q.pos) / ctx.sampleRate * 1000, 0);
      queue = [];
      phone.clears.push({ at: Date.now(), flushed_chunks: flushed, flushed_ms: Math.round(ms), queued_after: queue.length });
      break;
    }
    case 'interrupt': {
      const i = queue.findIndex((q) => q.chunk_id === m.chunk_id);
      if (i >= 0) queue.splice(i, 1);
      phone.interrupts.push({ chunk_id: m.chunk_id, dropped: i >= 0 });
      break;
    }
    case 'stream_end': capture = null; break;
    case 'ended':
      phone.ended = { state: m.state, reason: m.reason };
      stopAudio();
      setStatus('idle');
      if ($('#ready').checked) send({ type: 'ready' });
      break;
    case 'error': phone.errors.push(m.message); console.warn('dev phone:', m.message); break;
    default: break;
  }
  counters();
}

function decode(b64) {
  const bin = atob(b64), n = bin.length >> 1, out = new Int16Array(n);
  for (let i = 0; i < n; i++) out[i] = (bin.charCodeAt(2 * i) | (bin.charCodeAt(2 * i + 1) << 8)) << 16 >> 16;
  return out;
}

function encode(int16) {
  const b = new Uint8Array(int16.buffer, int16.byteOffset, int16.byteLength);
  let s = '';
  for (let i = 0; i < b.length; i += 0x4000) s += String.fromCharCode.apply(null, b.subarray(i, i + 0x4000));
  return btoa(s);
}

function rmsOf(x) { let t = 0; for (const v of x) t += v * v; return x.length ? Math.sqrt(t / x.length) : 0; }

// Zero crossings of the 8 kHz chunk: its pitch, for a tone.
function freqOf(x, rate) {
  let c = 0;
  for (let i = 1; i < x.length; i++) if ((x[i - 1] < 0) !== (x[i] < 0)) c++;
  return x.length ? Math.round((c / 2) * rate / x.length) : 0;
}

function onAgentAudio(m) {
  if (!ctx) return;
  const pcm = decode(m.audio_b64);          // Teler plays 8 kHz PCM16
  const rms = rmsOf(pcm);
  phone.receivedChunks++;
  phone.agentRms = rms;
  $('#agent-level').value = level(rms);
  if (quietAt !== null && rms >= QUIET_RMS) {
    phone.latencies.push(Math.round(performance.now() - quietAt));
    quietAt = null;
    $('#latency').textContent = phone.latencies.slice(-6).map((l) => l + ' ms').join(', ');
  }
  // Linear interpolation from 8 kHz to the output rate.
  const step = 8000 / ctx.sampleRate, n = Math.floor(pcm.length / step), data = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const p = i * step, j = Math.floor(p), f = p - j;
    const a = pcm[j], b = j + 1 < pcm.length ? pcm[j + 1] : a;
    data[i] = (a + (b - a) * f) / 32768;
  }
  queue.push({ chunk_id: m.chunk_id, data, pos: 0, info: { chunk_id: m.chunk_id, freq_hz: freqOf(pcm, 8000), rms: Math.round(rms), ms: Math.round(pcm.length / 8) } });
}

// One ScriptProcessor both captures the microphone and plays the agent.
function process(e) {
  const input = e.inputBuffer.getChannelData(0), out = e.outputBuffer.getChannelData(0);
  if (capture) {
    const c = capture, per = phone.rate * phone.chunkMs / 1000;
    for (let i = 0; i < input.length; i++) {
      // Box-filter decimation: each output sample is the mean of the input it covers.
      c.acc += input[i]; c.n++;
      c.next -= 1;
      if (c.next <= 0) {
        c.pending.push(c.n ? c.acc / c.n : 0); c.acc = 0; c.n = 0; c.next += c.ratio;
        if (c.pending.length >= per) sendFrame(c.pending.splice(0, per));
      }
    }
  }
  let i = 0;
  while (i < out.length && queue.length) {
    const q = queue[0];
    if (q.pos === 0) phone.played.push(q.info);
    const k = Math.min(out.length - i, q.data.length - q.pos);
    out.set(q.data.subarray(q.pos, q.pos + k), i);
    q.pos += k; i += k;
    if (q.pos >= q.data.length) queue.shift();
  }
  out.fill(0, i);
  phone.queuedChunks = queue.length;
}

function sendFrame(samples) {
  const pcm = new Int16Array(samples.length);
  if (!phone.muted) for (let i = 0; i < samples.length; i++) pcm[i] = Math.max(-32768, Math.min(32767, Math.round(samples[i] * 32767)));
  const rms = rmsOf(pcm), now = performance.now();
  phone.micRms = rms;
  $('#mic-level').value = level(rms);
  if (rms >= QUIET_RMS) { speaking = true; lastLoudAt = now; quietAt = null; }
  else if (speaking && now - lastLoudAt >= QUIET_HANGOVER_MS) { speaking = false; quietAt = lastLoudAt; }
  send({ type: 'audio', data: { audio_b64: encode(pcm) } });
  phone.sentFrames++;
}

async function startAudio() {
  if (!navigator.mediaDevices) throw new Error('no microphone access here: open the page at http://127.0.0.1 or http://localhost');
  micStream = await navigator.mediaDevices.getUserMedia({ audio: {
    echoCancellation: $('#aec').checked, noiseSuppression: false, autoGainControl: false, channelCount: 1 } });
  ctx = new AudioContext();
  await ctx.resume();
  const src = ctx.createMediaStreamSource(micStream);
  node = ctx.createScriptProcessor(2048, 1, 1);
  node.onaudioprocess = process;
  src.connect(node);
  node.connect(ctx.destination);
  queue = []; speaking = false; quietAt = null;
}

function stopAudio() {
  capture = null; queue = [];
  if (node) { node.disconnect(); node.onaudioprocess = null; node = null; }
  if (micStream) { micStream.getTracks().forEach((t) => t.stop()); micStream = null; }
  if (ctx) { ctx.close(); ctx = null; }
  phone.muted = false; $('#mute').textContent = 'Mute';
  $('#mic-level').value = 0; $('#agent-level').value = 0;
}

async function dial() {
  try {
    localStorage.setItem('flow-url', $('#flow-url').value);
    localStorage.setItem('callback-url', $('#callback-url').value);
    await startAudio();
    await socket();
    phone.ended = null;
    setStatus('calling');
    send({ type: 'dial', flow_url: $('#flow-url').value, status_callback_url: $('#callback-url').value || null });
  } catch (e) {
    phone.errors.push(String(e.message || e)); setStatus('error'); stopAudio();
  }
}

async function answer() {
  try { await startAudio(); send({ type: 'answer' }); setStatus('calling'); } catch (e) { phone.errors.push(String(e.message || e)); send({ type: 'reject' }); }
}

function init() {
  for (const k of ['flow-url', 'callback-url']) { const v = localStorage.getItem(k); if (v !== null) $('#' + k).value = v; }
  $('#dial').addEventListener('click', dial);
  $('#hangup').addEventListener('click', () => send({ type: 'hangup' }));
  $('#answer').addEventListener('click', answer);
  $('#reject').addEventListener('click', () => send({ type: 'reject' }));
  $('#mute').addEventListener('click', () => { phone.muted = !phone.muted; $('#mute').textContent = phone.muted ? 'Unmute' : 'Mute'; });
  $('#ready').addEventListener('change', async (e) => {
    try { await socket(); send({ type: e.target.checked ? 'ready' : 'unready' }); } catch (err) { phone.errors.push(String(err.message)); e.target.checked = false; }
  });
  setStatus('idle');
  counters();
  connectFeed();
}

init();
