/**
 * The metadata_props keys Kefu writes into (and requires from) an intent model. Hashed models
 * need all of them; a bring-your-own transformer may carry `kefu.labels` and
 * `kefu.oos_threshold`, or get them from the classifier's options.
 */
import { KefuError } from '@kefu/protocol';
import type { FeaturizerSettings } from './featurizer.js';
import { OOS_RULES, type OosRule } from './oos-rule.js';

export const META = {
  format: 'kefu.format',
  labels: 'kefu.labels',
  featurizer: 'kefu.featurizer',
  threshold: 'kefu.oos_threshold',
  oosLabel: 'kefu.oos_label',
  oosRule: 'kefu.oos_rule',
} as const;

/** `kefu.format` of the hashed n-gram models the trainer writes. */
export const HASHED_FORMAT = 'kefu-intent-hashed/3';

/** `kefu.format` of a hashed model with a TextCNN beside its members (its graph also takes `tok`). */
export const HASHED_CNN_FORMAT = 'kefu-intent-hashed-cnn/1';

export interface HashedMeta {
  labels: string[];
  featurizer: FeaturizerSettings;
  threshold: number;
  oosLabel: string | null;
  oosRule: OosRule;
}

function metaError(file: string, why: string): KefuError {
  return new KefuError('KEFU_ERR_INTENT_MODEL_METADATA', `${file}: ${why}`, { details: { file } });
}

export function parseLabels(file: string, raw: string | undefined): string[] {
  if (raw === undefined) throw metaError(file, `metadata "${META.labels}" is missing`);
  let labels: unknown;
  try {
    labels = JSON.parse(raw);
  } catch {
    throw metaError(file, `metadata "${META.labels}" is not JSON`);
  }
  if (!Array.isArray(labels) || labels.length < 2 || !labels.every((l) => typeof l === 'string')) {
    throw metaError(file, `metadata "${META.labels}" is not a list of at least 2 strings`);
  }
  return labels as string[];
}

export function parseThreshold(file: string, raw: string | undefined): number {
  if (raw === undefined) return 0;
  const t = Number(raw);
  if (!Number.isFinite(t) || t < 0 || t > 1) throw metaError(file, `metadata "${META.threshold}" is not a number in [0, 1]`);
  return t;
}

/** `kefu.oos_rule`: absent means `confidence` (every model written before the rule existed). */
export function parseOosRule(file: string, raw: string | undefined): OosRule {
  if (raw === undefined) return 'confidence';
  if (!(OOS_RULES as readonly string[]).includes(raw)) throw metaError(file, `metadata "${META.oosRule}" is not one of ${OOS_RULES.map((r) => `"${r}"`).join(', ')}`);
  return raw as OosRule;
}

/** Validates the metadata of a hashed model. */
export function parseHashedMeta(file: string, meta: Record<string, string>): HashedMeta {
  const format = meta[META.format];
  if (format !== HASHED_FORMAT && format !== HASHED_CNN_FORMAT) throw metaError(file, `metadata "${META.format}" is not "${HASHED_FORMAT}" or "${HASHED_CNN_FORMAT}"`);
  const labels = parseLabels(file, meta[META.labels]);
  const raw = meta[META.featurizer];
  if (raw === undefined) throw metaError(file, `metadata "${META.featurizer}" is missing`);
  let f: FeaturizerSettings;
  try {
    f = JSON.parse(raw) as FeaturizerSettings;
  } catch {
    throw metaError(file, `metadata "${META.featurizer}" is not JSON`);
  }
  const okRange = (r: unknown): boolean => Array.isArray(r) && r.length === 2 && r.every((x) => Number.isInteger(x));
  if (
    !Number.isInteger(f.hashBits) || !okRange(f.wordNgrams) || !okRange(f.charNgrams) ||
    typeof f.lowercase !== 'boolean' || !['NFKC', 'NFC', 'none'].includes(f.normalization) ||
    !Number.isInteger(f.maxChars) || !Number.isInteger(f.maxFeatures)
  ) {
    throw metaError(file, `metadata "${META.featurizer}" lacks a valid setting`);
  }
  const oos = meta[META.oosLabel];
  return {
    labels,
    featurizer: f,
    threshold: parseThreshold(file, meta[META.threshold]),
    oosLabel: oos ? oos : null,
    oosRule: parseOosRule(file, meta[META.oosRule]),
  };
}
