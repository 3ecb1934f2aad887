import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeClientFrame, decodeServerFrame, encodeFrame, FieldLimits, isTerminalClose, CloseCode } from '../src/index.js';

const ok = (text: string) => {
  const r = decodeClientFrame(text);
  assert.equal(r.ok, true, r.ok ? '' : r.error.message);
  return r.ok ? r.frame : undefined;
};
const err = (text: string, code: string, opts = {}) => {
  const r = decodeClientFrame(text, opts);
  assert.equal(r.ok, false, `expected ${code} for ${text.slice(0, 80)}`);
  if (!r.ok) assert.equal(r.error.code, code, r.error.message);
  return r.ok ? undefined : r.error;
};

test('every client frame type decodes when well-formed', () => {
  const frames = [
    { t: 'open', ref: 'r1' },
    { t: 'open', ref: 'r1', data: { topic: 'refund' } },
    { t: 'join', ref: 'r2', conv: 'c1' },
    { t: 'leave', ref: 'r3', conv: 'c1' },
    { t: 'send', conv: 'c1', cid: 'm1', body: 'hello' },
    { t: 'send', conv: 'c1', cid: 'm2', body: '', data: { image: 'x.png' } },
    { t: 'typing', conv: 'c1', on: true },
    { t: 'read', conv: 'c1', seq: 7 },
    { t: 'resume', ref: 'r4', conv: 'c1', after: 0 },
    { t: 'presence', status: 'away' },
    { t: 'cmd', ref: 'r5', name: 'desk.accept', conv: 'c1', args: { offer: 'o1' } },
    { t: 'ping' },
    { t: 'ping', ref: 'p' },
  ];
  for (const f of frames) assert.deepEqual(ok(encodeFrame(f as never)), f);
});

test('invalid JSON, non-objects and unknown types are coded errors', () => {
  err('{not json', 'KEFU_ERR_INVALID_JSON');
  err('[1,2]', 'KEFU_ERR_INVALID_FRAME');
  err('null', 'KEFU_ERR_INVALID_FRAME');
  err('{"ref":"x"}', 'KEFU_ERR_INVALID_FRAME');
  const e = err('{"t":"explode","ref":"r9"}', 'KEFU_ERR_UNKNOWN_FRAME');
  assert.equal(e?.ref, 'r9');
  err('{"t":"__proto__"}', 'KEFU_ERR_UNKNOWN_FRAME');
  err('{"t":"toString"}', 'KEFU_ERR_UNKNOWN_FRAME');
});

test('unknown fields are rejected and the ids are echoed back', () => {
  const e = err('{"t":"send","conv":"c1","cid":"m1","body":"x","admin":true}', 'KEFU_ERR_INVALID_FRAME');
  assert.equal(e?.conv, 'c1');
  assert.equal(e?.cid, 'm1');
  assert.match(e!.message, /unknown field "admin"/);
});

test('field types and ranges are enforced', () => {
  err('{"t":"send","conv":"c1","cid":"m1","body":5}', 'KEFU_ERR_INVALID_FRAME');
  err('{"t":"send","conv":"c1","cid":"m1","body":""}', 'KEFU_ERR_INVALID_FRAME');
  err('{"t":"send","conv":"","cid":"m1","body":"x"}', 'KEFU_ERR_INVALID_FRAME');
  err('{"t":"send","conv":"has space","cid":"m1","body":"x"}', 'KEFU_ERR_INVALID_FRAME');
  err(JSON.stringify({ t: 'send', conv: 'c'.repeat(FieldLimits.maxIdLength + 1), cid: 'm', body: 'x' }), 'KEFU_ERR_INVALID_FRAME');
  err('{"t":"read","conv":"c1","seq":-1}', 'KEFU_ERR_INVALID_FRAME');
  err('{"t":"read","conv":"c1","seq":1.5}', 'KEFU_ERR_INVALID_FRAME');
  err('{"t":"read","conv":"c1","seq":"3"}', 'KEFU_ERR_INVALID_FRAME');
  err('{"t":"resume","ref":"r","conv":"c1","after":1e300}', 'KEFU_ERR_INVALID_FRAME');
  err('{"t":"typing","conv":"c1","on":"yes"}', 'KEFU_ERR_INVALID_FRAME');
  err('{"t":"presence","status":"offline"}', 'KEFU_ERR_INVALID_FRAME');
  err('{"t":"cmd","ref":"r","name":"1bad"}', 'KEFU_ERR_INVALID_FRAME');
  err('{"t":"cmd","ref":"r","name":"ok","args":[1]}', 'KEFU_ERR_INVALID_FRAME');
  err('{"t":"open","ref":"r","data":"str"}', 'KEFU_ERR_INVALID_FRAME');
});

test('body length limit is PAYLOAD_TOO_LARGE, configurable', () => {
  err(JSON.stringify({ t: 'send', conv: 'c', cid: 'm', body: 'x'.repeat(FieldLimits.maxBody + 1) }), 'KEFU_ERR_PAYLOAD_TOO_LARGE');
  ok(JSON.stringify({ t: 'send', conv: 'c', cid: 'm', body: 'x'.repeat(FieldLimits.maxBody) }));
  err(JSON.stringify({ t: 'send', conv: 'c', cid: 'm', body: 'x'.repeat(11) }), 'KEFU_ERR_PAYLOAD_TOO_LARGE', { maxBody: 10 });
});

test('data depth and key count are bounded', () => {
  let deep: Record<string, unknown> = { v: 1 };
  for (let i = 0; i < FieldLimits.maxDataDepth + 1; i++) deep = { d: deep };
  err(JSON.stringify({ t: 'send', conv: 'c', cid: 'm', body: 'x', data: deep }), 'KEFU_ERR_INVALID_FRAME');
  const wide: Record<string, number> = {};
  for (let i = 0; i <= FieldLimits.maxDataKeys; i++) wide['k' + i] = i;
  err(JSON.stringify({ t: 'send', conv: 'c', cid: 'm', body: 'x', data: wide }), 'KEFU_ERR_INVALID_FRAME');
  err(JSON.stringify({ t: 'send', conv: 'c', cid: 'm', body: 'x', data: { a: new Array(1000).fill(1) } }), 'KEFU_ERR_INVALID_FRAME');
});

test('server frames decode leniently but reject unknown types', () => {
  const r = decodeServerFrame('{"t":"ack","conv":"c","cid":"m","seq":1,"ts":1,"future":1}');
  assert.equal(r.ok, true);
  const bad = decodeServerFrame('{"t":"nope"}');
  assert.equal(bad.ok, false);
  assert.equal(decodeServerFrame('{').ok, false);
});

test('terminal close codes', () => {
  assert.equal(isTerminalClose(CloseCode.GOING_AWAY), false);
  assert.equal(isTerminalClose(CloseCode.SLOW_CONSUMER), false);
  assert.equal(isTerminalClose(CloseCode.KICKED), true);
});
