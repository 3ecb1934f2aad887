/**
 * saga: what the persisted step log costs. The same sagas (3 steps, each an action and a
 * compensation) run side by side in one process:
 *
 *   kefu        SagaOrchestrator + LevelSagaLog (fsync'd group commit; 4 log writes per saga)
 *   kefu_memory SagaOrchestrator + MemorySagaLog (the orchestrator's own cost, no disk)
 *   no_log      the same steps called in a plain loop with try/catch compensation (the floor)
 *
 * Two workloads: in-process trivial async steps (so the log cost is what is measured), and the
 * refund steps against the real helpdesk/ERP/CRM HTTP mock services on loopback (what a real
 * saga pays). Throughput is closed-loop with `--concurrency` sagas in flight; latency is one saga
 * at a time. Variants alternate within each round (the machine is shared), medians over rounds.
 *
 *   npm run bench -- saga [--quick] [--sagas 5000] [--concurrency 100] [--rounds 3]
 *
 * step_overhead_ms = (median latency of one saga with the LevelDB log - without a log) / steps.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LevelSagaLog, MemorySagaLog, Saga, SagaOrchestrator, type SagaLog, type SagaStep, type StepContext } from '@kefu/core';
import { startCrmNotesService, startErpService, startHelpdeskService } from '@kefu/mock-backends';
import { request } from 'undici';
import { arg, median, quick, ratio, report, round } from './lib/report.js';

const sagas = Number(arg('sagas', quick ? '1000' : '6000'));
const httpSagas = Number(arg('http-sagas', quick ? '200' : '1500'));
const concurrency = Number(arg('concurrency', '100'));
const rounds = Number(arg('rounds', quick ? '1' : '3'));
const latencySamples = Number(arg('latency-samples', quick ? '100' : '500'));
if (![sagas, httpSagas, concurrency, rounds, latencySamples].every((n) => Number.isInteger(n) && n > 0)) {
  throw new RangeError('--sagas, --http-sagas, --concurrency, --rounds and --latency-samples must be positive integers');
}
const STEPS = 3;

type Input = { orderId: string; amount: number; customerId: string };
type Step = SagaStep<Input>;

/** Trivial async steps: a resolved promise each, so the log and the orchestrator are what cost. */
const trivialSteps: Step[] = ['a', 'b', 'c'].map((name) => ({
  name,
  action: async () => ({ ok: name }),
  compensate: async () => undefined,
}));

// undici's request rather than global fetch: a quarter of the CPU per call here (ANCHORS.md),
// so that what differs between the variants is the log, not the HTTP client.
async function post(url: string, ctx: StepContext<Input>, body: unknown): Promise<unknown> {
  const res = await request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': ctx.idempotencyKey },
    body: JSON.stringify(body),
    signal: ctx.signal,
  });
  const json = (await res.body.json()) as unknown;
  if (res.statusCode >= 300) throw new Error(`${url} answered ${res.statusCode}`);
  return json;
}

function httpSteps(urls: { helpdesk: string; erp: string; crm: string }): Step[] {
  return [
    {
      name: 'ticket',
      action: (ctx) => post(`${urls.helpdesk}/tickets`, ctx, { subject: 'refund', orderId: ctx.input.orderId }),
      compensate: (ctx) => post(`${urls.helpdesk}/tickets/close-by-key`, ctx, {}),
    },
    {
      name: 'refund',
      pivot: true,
      action: (ctx) => post(`${urls.erp}/refunds`, ctx, { orderId: ctx.input.orderId, amount: ctx.input.amount }),
    },
    {
      name: 'note',
      action: (ctx) => post(`${urls.crm}/customers/${ctx.input.customerId}/notes`, ctx, { text: 'refunded' }),
    },
  ];
}

/** The floor: the same steps, called in order, compensated in reverse on failure, nothing logged. */
function noLogRunner(steps: Step[]): (id: string, input: Input) => Promise<void> {
  return async (id, input) => {
    const results: Record<string, unknown> = {};
    const done: number[] = [];
    const signal = new AbortController().signal;
    try {
      for (let i = 0; i < steps.length; i++) {
        const s = steps[i]!;
        results[s.name] = await s.action({ sagaId: id, saga: 'x', step: s.name, idempotencyKey: `${id}:${s.name}`, attempt: 1, signal, input, results });
        done.push(i);
      }
    } catch (err) {
      for (const i of done.reverse()) {
        const s = steps[i]!;
        await s.compensate?.({ sagaId: id, saga: 'x', step: s.name, idempotencyKey: `${id}:${s.name}`, attempt: 1, signal, input, results, result: results[s.name] });
      }
      throw err;
    }
  };
}

interface Variant {
  key: string;
  setup(): Promise<{ run: (id: string, input: Input) => Promise<void>; close: () => Promise<void> }>;
}

function orchestrated(key: string, steps: () => Step[], makeLog: () => { log: SagaLog; cleanup: () => void }): Variant {
  return {
    key,
    async setup() {
      const { log, cleanup } = makeLog();
      const orch = new SagaOrchestrator({ log, sagas: [new Saga<Input>({ name: 's', steps: steps() })] });
      await orch.open();
      return {
        run: async (id, input) => {
          const o = await orch.run('s', input, { id });
          if (o.state !== 'completed') throw new Error(`saga ${id} ended ${o.state}`);
        },
        close: async () => {
          await orch.close();
          await log.close();
          cleanup();
        },
      };
    },
  };
}

const levelLog = (): { log: SagaLog; cleanup: () => void } => {
  const dir = mkdtempSync(join(tmpdir(), 'kefu-bench-saga-'));
  return { log: new LevelSagaLog({ location: dir }), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
};
const memoryLog = (): { log: SagaLog; cleanup: () => void } => ({ log: new MemorySagaLog({ maxFinished: 1_000 }), cleanup: () => undefined });

let seq = 0;
const nextInput = (): Input => {
  const n = seq++;
  return { orderId: `o-${n}`, amount: 1, customerId: `u-${n % 1000}` };
};

/** Closed loop: `total` sagas, `conc` in flight. Returns sagas per second. */
async function throughput(run: (id: string, input: Input) => Promise<void>, total: number, conc: number, tag: string): Promise<number> {
  let started = 0;
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    while (started < total) {
      const n = started++;
      await run(`${tag}-${n}`, nextInput());
    }
  };
  await Promise.all(Array.from({ length: Math.min(conc, total) }, worker));
  return total / ((performance.now() - t0) / 1000);
}

/** One saga at a time: median latency in ms. */
async function latency(run: (id: string, input: Input) => Promise<void>, n: number, tag: string): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await run(`${tag}-${i}`, nextInput());
    xs.push(performance.now() - t0);
  }
  return median(xs);
}

async function measure(variants: Variant[], total: number, label: string): Promise<Record<string, { per_s: number[]; p50_ms: number[] }>> {
  const out: Record<string, { per_s: number[]; p50_ms: number[] }> = {};
  for (const v of variants) out[v.key] = { per_s: [], p50_ms: [] };
  for (let r = 0; r < rounds; r++) {
    // Rotate the order each round so that a burst of someone else's load hurts each alike.
    const order = variants.map((_, i) => variants[(i + r) % variants.length]!);
    for (const v of order) {
      const h = await v.setup();
      try {
        await throughput(h.run, Math.min(200, total), concurrency, `${label}-${v.key}-w${r}`);
        const perS = await throughput(h.run, total, concurrency, `${label}-${v.key}-t${r}`);
        const p50 = await latency(h.run, latencySamples, `${label}-${v.key}-l${r}`);
        out[v.key]!.per_s.push(perS);
        out[v.key]!.p50_ms.push(p50);
        console.error(`[${label}] round ${r + 1}/${rounds} ${v.key}: ${round(perS, 0)} sagas/s, one saga p50 ${round(p50, 3)} ms`);
      } finally {
        await h.close();
      }
    }
  }
  return out;
}

const t0 = Date.now();
const inproc = await measure([
  orchestrated('kefu', () => trivialSteps, levelLog),
  orchestrated('kefu_memory', () => trivialSteps, memoryLog),
  { key: 'no_log', setup: async () => ({ run: noLogRunner(trivialSteps), close: async () => undefined }) },
], sagas, 'in-process');

const [helpdesk, erp, crm] = await Promise.all([
  startHelpdeskService({ maxTickets: 1_000_000, maxIdempotencyKeys: 1_000_000 }),
  startErpService({ maxRefundPerOrder: 1e12, maxIdempotencyKeys: 1_000_000 }),
  startCrmNotesService({ maxIdempotencyKeys: 1_000_000 }),
]);
let http: Awaited<ReturnType<typeof measure>>;
try {
  const urls = { helpdesk: helpdesk.url, erp: erp.url, crm: crm.url };
  http = await measure([
    orchestrated('kefu', () => httpSteps(urls), levelLog),
    { key: 'no_log', setup: async () => ({ run: noLogRunner(httpSteps(urls)), close: async () => undefined }) },
  ], httpSagas, 'http');
} finally {
  await Promise.all([helpdesk.close(), erp.close(), crm.close()]);
}

const med = (xs: number[] | undefined): number => median(xs ?? []);
const k = inproc.kefu!;
const km = inproc.kefu_memory!;
const nl = inproc.no_log!;
const stepOverhead = (med(k.p50_ms) - med(nl.p50_ms)) / STEPS;
const stepOverheadMemory = (med(km.p50_ms) - med(nl.p50_ms)) / STEPS;
// Amortised: the log's cost per step when `concurrency` sagas share each fsync.
const amortised = (1000 / med(k.per_s) - 1000 / med(nl.per_s)) / STEPS;

const rows = [
  { workload: 'in-process', variant: 'kefu (LevelDB log)', sagas_per_s: round(med(k.per_s), 0), one_saga_p50_ms: round(med(k.p50_ms), 3) },
  { workload: 'in-process', variant: 'kefu (memory log)', sagas_per_s: round(med(km.per_s), 0), one_saga_p50_ms: round(med(km.p50_ms), 3) },
  { workload: 'in-process', variant: 'no log', sagas_per_s: round(med(nl.per_s), 0), one_saga_p50_ms: round(med(nl.p50_ms), 3) },
  { workload: 'http', variant: 'kefu (LevelDB log)', sagas_per_s: round(med(http.kefu!.per_s), 0), one_saga_p50_ms: round(med(http.kefu!.p50_ms), 3) },
  { workload: 'http', variant: 'no log', sagas_per_s: round(med(http.no_log!.per_s), 0), one_saga_p50_ms: round(med(http.no_log!.p50_ms), 3) },
];

report({
  bench: 'saga',
  kefu: {
    sagas_per_s: round(med(k.per_s), 1),
    step_overhead_ms: round(stepOverhead, 4),
    step_overhead_amortized_ms: round(amortised, 4),
    one_saga_p50_ms: round(med(k.p50_ms), 3),
    memory_log_sagas_per_s: round(med(km.per_s), 1),
    memory_log_step_overhead_ms: round(stepOverheadMemory, 4),
    http_sagas_per_s: round(med(http.kefu!.per_s), 1),
    http_one_saga_p50_ms: round(med(http.kefu!.p50_ms), 3),
  },
  peers: {
    no_log: {
      sagas_per_s: round(med(nl.per_s), 1),
      one_saga_p50_ms: round(med(nl.p50_ms), 4),
      http_sagas_per_s: round(med(http.no_log!.per_s), 1),
      http_one_saga_p50_ms: round(med(http.no_log!.p50_ms), 3),
    },
  },
  ratios: {
    log_vs_no_log: ratio(med(k.per_s), med(nl.per_s)),
    memory_log_vs_no_log: ratio(med(km.per_s), med(nl.per_s)),
    http_log_vs_no_log: ratio(med(http.kefu!.per_s), med(http.no_log!.per_s)),
  },
  config: { steps: STEPS, sagas, http_sagas: httpSagas, concurrency, rounds, latency_samples: latencySamples, log_writes_per_saga: 1 + STEPS, sync: true, elapsed_s: round((Date.now() - t0) / 1000, 1) },
}, rows);
