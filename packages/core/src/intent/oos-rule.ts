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
export type OosRule = 'confidence' | 'margin' | 'members-margin';

export const OOS_RULES: readonly OosRule[] = ['confidence', 'margin', 'members-margin'];

/** The message of the TypeError every component throws for an unknown rule. */
export const OOS_RULE_ERROR = 'oosRule must be "confidence", "margin" or "members-margin"';

/**
 * The value compared with the threshold: `top` is the top label's probability, `oos` the
 * out-of-scope label's (0 when the model has none, which makes `margin` equal `confidence`).
 * `members-margin` (session 6, models with a TextCNN): the margin of the hashed members' own
 * distribution (`top` and `oos` taken from it: see membersMargin), while the intent is still the
 * mixture's top label. Mixing the CNN in sharpens the intent but blurs the margin between real
 * out-of-scope texts and in-scope ones (the model card's session-5 table), so the threshold is
 * set and applied on the members alone.
 */
export function oosScore(rule: OosRule, top: number, oos: number): number {
  return rule === 'confidence' ? top : top - oos;
}

/**
 * The members' margin of one text: their top probability minus their out-of-scope probability
 * (0 when their top label is out of scope, which any positive threshold flags). `h` holds the
 * members' averaged probabilities from `offset`, `classes` long.
 */
export function membersMargin(h: ArrayLike<number>, offset: number, classes: number, oosIndex: number): number {
  let top = -Infinity;
  for (let c = 0; c < classes; c++) if (h[offset + c]! > top) top = h[offset + c]!;
  return top - (oosIndex >= 0 ? h[offset + oosIndex]! : 0);
}

/** Out of scope: the top label is the out-of-scope label, or its score is below the threshold. */
export function isFlagged(topIsOos: boolean, score: number, threshold: number): boolean {
  return topIsOos || score < threshold;
}
