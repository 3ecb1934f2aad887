/**
 * DEMO ONLY: a way to make the demo's ERP fail, so that a person trying the desk (and a test) can
 * see the refund saga's failure path: `SupportDeskOptions.erpFaults` / env KEFU_DEMO_ERP_FAULTS
 * at start, and the agent console's switch (hub command `demo.erp`) while it runs. A real
 * deployment has no such switch: its ERP fails by itself.
 */
import { KefuError, type Hub } from '@kefu/core';
import type { JsonObject } from '@kefu/protocol';
import { FaultSwitch, type ErpService, type FaultSettings } from '@kefu/mock-backends';

/**
 * The console's presets. `decline-next` declines one request with a 402 (not retryable), so
 * the refund fails at once and the saga's compensations (reverse by key, close the ticket) go
 * through: the ticket is closed again. A switch that declined *every* call would decline the
 * reversal too and leave the saga `compensation-failed`; that is what `down` shows (503s, retried,
 * then a saga waiting for repair in the console's "failed refunds").
 */
export const erpDemoModes = {
  normal: { mode: 'off' },
  'decline-next': { mode: 'next', count: 1, status: 402 },
  down: { mode: 'always', kind: 'fail', status: 503 },
} as const satisfies Record<string, FaultSettings>;

export type ErpDemoMode = keyof typeof erpDemoModes;

const modeNames = Object.keys(erpDemoModes) as ErpDemoMode[];

/** Checks fault settings the way the ERP will, naming the option; returns a copy. */
export function checkErpFaults(settings: unknown, where = 'erpFaults'): FaultSettings {
  try {
    new FaultSwitch().set(settings as FaultSettings);
  } catch (err) {
    const e = err as Error;
    throw e instanceof RangeError ? new RangeError(`${where}: ${e.message}`) : new TypeError(`${where}: ${e.message}`);
  }
  return { ...(settings as FaultSettings) };
}

/** KEFU_DEMO_ERP_FAULTS: JSON FaultSettings, e.g. {"mode":"next","count":1,"status":402}. */
export function erpFaultsFromEnv(raw: string | undefined): FaultSettings | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new TypeError(`KEFU_DEMO_ERP_FAULTS must be JSON fault settings, e.g. {"mode":"next","count":1,"status":402}; got ${JSON.stringify(raw.slice(0, 80))}`);
  }
  return checkErpFaults(parsed, 'KEFU_DEMO_ERP_FAULTS');
}

/** The preset the ERP's switch is on, or `custom` (set from the environment or POST /_faults). */
export function erpDemoMode(erp: ErpService): ErpDemoMode | 'custom' {
  const s = erp.faults.settings;
  if (s.mode === 'off') return 'normal';
  for (const name of modeNames) {
    const p: FaultSettings = erpDemoModes[name];
    if (p.mode === s.mode && (p.status ?? 503) === s.status && (p.kind ?? 'fail') === s.kind && (p.mode !== 'next' || s.count === (p.count ?? 1))) return name;
  }
  return 'custom';
}

/**
 * `demo.erp` (agents only): `{}` reads the ERP's switch, `{ mode }` sets it to a preset.
 * Answers `{ mode, faults, demoOnly: true }`.
 */
export function registerErpSwitch(hub: Hub, erp: ErpService): void {
  hub.command('demo.erp', (ctx, args) => {
    if (ctx.identity.role !== 'agent') throw new KefuError('KEFU_ERR_FORBIDDEN', 'agents only');
    for (const k of Object.keys(args)) {
      if (k !== 'mode') throw new KefuError('KEFU_ERR_INVALID_FRAME', `demo.erp takes only "mode", not "${k}"`);
    }
    const mode = args.mode;
    if (mode !== undefined) {
      if (typeof mode !== 'string' || !(modeNames as string[]).includes(mode)) {
        throw new KefuError('KEFU_ERR_INVALID_FRAME', `args.mode must be one of ${modeNames.map((m) => `"${m}"`).join(', ')}`);
      }
      erp.faults.set(erpDemoModes[mode as ErpDemoMode]);
    }
    const out: JsonObject = { mode: erpDemoMode(erp), faults: { ...erp.faults.settings }, demoOnly: true };
    return out;
  });
}
