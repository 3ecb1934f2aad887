/**
 * The business side of the demo: the mock CRM / orders / membership services, started in
 * process, behind a ProfileAggregator; and the intent classifier on the shipped model. Each is
 * adapted to the small interface the Desk needs (DeskProfiles, DeskClassifier).
 */
import { HttpProfileSource, IntentClassifier, ProfileAggregator, type DeskClassifier, type DeskProfiles } from '@kefu/core';
import type { JsonObject } from '@kefu/protocol';
import {
  startCrmNotesService, startErpService, startHelpdeskService, startProfileBackends,
  type CrmNotesService, type ErpService, type FaultSettings, type HelpdeskService, type ProfileBackends,
} from '@kefu/mock-backends';
import type { RefundUrls } from './refunds.js';
import { modelPath } from '@kefu/intent-model';

export interface DemoServices {
  backends: ProfileBackends;
  /** Helpdesk, ERP and CRM-notes services the refund saga calls. */
  refundUrls: RefundUrls;
  /** The three refund back ends themselves (their fault switches and state, for the demo and tests). */
  helpdesk: HelpdeskService;
  erp: ErpService;
  crmNotes: CrmNotesService;
  aggregator: { close(): Promise<void> };
  classifier: IntentClassifier | undefined;
  profiles: DeskProfiles;
  /** Undefined when the model cannot be loaded: the desk then sends every chat to a human. */
  intents: DeskClassifier | undefined;
  /** Why the classifier is off, if it is. */
  classifierError: string | undefined;
  close(): Promise<void>;
}

export interface DemoServicesOptions {
  /** The ERP's fault settings at start (already validated). @defaultValue { mode: 'off' } */
  erpFaults?: FaultSettings;
}

export async function startServices(options: DemoServicesOptions = {}): Promise<DemoServices> {
  const backends = await startProfileBackends();
  const [helpdesk, erp, notes] = await Promise.all([
    startHelpdeskService(), startErpService(options.erpFaults ? { faults: options.erpFaults } : {}), startCrmNotesService(),
  ]);
  const sources = [
    new HttpProfileSource({ name: 'crm', url: backends.crm.url, timeoutMs: 500 }),
    new HttpProfileSource({ name: 'orders', url: backends.orders.url, timeoutMs: 500 }),
    new HttpProfileSource({ name: 'membership', url: backends.membership.url, timeoutMs: 500 }),
  ] as const;
  const aggregator = new ProfileAggregator({ sources });
  let classifier: IntentClassifier | undefined = new IntentClassifier({ model: modelPath, workers: 1 });
  let classifierError: string | undefined;
  try {
    await classifier.open();
  } catch (err) {
    // A demo without its bot is still a working desk: say so loudly and carry on.
    classifierError = `${(err as { code?: string }).code ?? 'error'}: ${(err as Error).message}`;
    await classifier.close().catch(() => undefined);
    classifier = undefined;
  }
  const loaded = classifier;
  const profiles: DeskProfiles = {
    async get(uid) {
      const p = await aggregator.get(uid);
      const data = p.data as { crm?: JsonObject; orders?: JsonObject; membership?: JsonObject };
      const profile: JsonObject = {};
      if (data.crm) profile.crm = data.crm;
      if (data.orders) profile.orders = data.orders;
      if (data.membership) {
        profile.membership = data.membership;
        // The desk's default priority reads `vip` (0-3 from the membership service).
        if (typeof data.membership.vip === 'number') profile.vip = data.membership.vip;
      }
      return profile;
    },
  };
  const intents: DeskClassifier | undefined = loaded && {
    async classify(text) {
      const r = await loaded.classify(text);
      return { intent: r.intent, confidence: r.confidence, outOfScope: r.outOfScope };
    },
  };
  return {
    backends, aggregator, classifier, profiles, intents, classifierError,
    refundUrls: { helpdeskUrl: helpdesk.url, erpUrl: erp.url, crmUrl: notes.url },
    helpdesk, erp, crmNotes: notes,
    async close() {
      await Promise.all([helpdesk.close(), erp.close(), notes.close()]);
      await aggregator.close();
      await classifier?.close();
      await backends.close();
    },
  };
}
