/**
 * The out-of-scope decision, shared by the trainer (calibration, evaluation) and the classifier
 * so that the threshold stored in a model means the same thing in both.
 *
 * `confidence`: the top label's probability is compared with the threshold (the classic rule).
 * `margin`: the top label's probability minus the out-of-scope label's. On CLINC150 the texts a
 * confidence threshold rejects wrongly are often confident enough but with "out of scope" as a
 * distant runner-up, while real out-of-scope texts spread their mass over `oos` and a few
 * intents; the margin separates the two better (see the model card's table).
 */
export type OosRule = 'confidence' | 'margin';

export const OOS_RULES: readonly OosRule[] = ['confidence', 'margin'];

/**
 * The value compared with the threshold: `top` is the top label's probability, `oos` the
 * out-of-scope label's (0 when the model has none, which makes `margin` equal `confidence`).
 */
export function oosScore(rule: OosRule, top: number, oos: number): number {
  return rule === 'margin' ? top - oos : top;
}

/** Out of scope: the top label is the out-of-scope label, or its score is below the threshold. */
export function isFlagged(topIsOos: boolean, score: number, threshold: number): boolean {
  return topIsOos || score < threshold;
}
