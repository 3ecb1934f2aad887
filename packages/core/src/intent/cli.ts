#!/usr/bin/env node
/**
 * kefu-intent train --data <file> [--val <file>] [--test <file>] --out <dir> [options]
 *
 * Trains a hashed n-gram intent model, writes <out>/model.onnx, prints a human report and, as
 * its last line, one JSON object (accuracy, oos_recall, labels, train_seconds, model_bytes...).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { isKefuError } from '@kefu/protocol';
import { trainIntentModel, type TrainOptions } from './trainer.js';

const USAGE = `usage: kefu-intent train --data <train.json|train.csv> [--val <file>] [--test <file>] --out <dir>
       [--seed 1] [--epochs 15] [--dim 32] [--hidden 0] [--members 2] [--member-average probs|logits] [--hash-bits 16] [--lr 0.004]
       [--dropout 0.3] [--label-smoothing 0.05] [--feature-dropout 0] [--tables fp16|int8] [--oos-label oos] [--oos-recall 0.85 | --oos-recall-bound 0.8] [--oos-rule confidence|margin|members-margin] [--refit] [--embeddings <vectors> [--vector-extremes]]
       [--cnn-filters 0 [--cnn-widths 1,2,3] [--cnn-epochs 4] [--cnn-lr 0.005] [--cnn-dropout 0.5] [--cnn-weight 0.3]] [--quiet]
--member-average logits: the members' logits are averaged, then soft-maxed (default: their probabilities).
--hidden <width>: a hidden layer of that width after each member's bag (0: none).
--cnn-filters <n>: a TextCNN (n filters per window width of --cnn-widths tokens) over the
fine-tuned word vectors beside the members; --cnn-weight is its share of the probabilities.
--vector-extremes: the word-vector feature also holds the element-wise max and min of the vectors.
--refit: after calibrating the out-of-scope threshold on the validation data, train again on
training + validation data. --oos-rule margin: the threshold applies to the top label's
probability minus the out-of-scope label's instead of the top label's probability;
members-margin (with --cnn-filters): that margin in the hashed members' own probabilities, the
intent still from the mixture with the CNN. --embeddings: pretrained word vectors (wink-embeddings JSON, or the
GloVe / fastText text format); only the training words' vectors are stored in the model.
Data: the CLINC150 JSON shape ({"train": [[text, label]...], "val": ..., "test": ..., "oos_*": ...})
or CSV with a header row, text in the first column and label in the second.`;

function num(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new RangeError(`--${name} must be a number`);
  return n;
}

export function main(argv: string[]): number {
  const [cmd, ...rest] = argv;
  if (cmd !== 'train') {
    console.error(USAGE);
    return cmd === undefined || cmd === '--help' ? 0 : 2;
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      data: { type: 'string' },
      val: { type: 'string' },
      test: { type: 'string' },
      out: { type: 'string' },
      seed: { type: 'string' },
      epochs: { type: 'string' },
      dim: { type: 'string' },
      hidden: { type: 'string' },
      members: { type: 'string' },
      'member-average': { type: 'string' },
      'hash-bits': { type: 'string' },
      lr: { type: 'string' },
      dropout: { type: 'string' },
      'label-smoothing': { type: 'string' },
      'feature-dropout': { type: 'string' },
      tables: { type: 'string' },
      'oos-label': { type: 'string' },
      'oos-recall': { type: 'string' },
      'oos-recall-bound': { type: 'string' },
      'oos-rule': { type: 'string' },
      refit: { type: 'boolean', default: false },
      embeddings: { type: 'string' },
      'vector-extremes': { type: 'boolean', default: false },
      'cnn-filters': { type: 'string' },
      'cnn-widths': { type: 'string' },
      'cnn-epochs': { type: 'string' },
      'cnn-lr': { type: 'string' },
      'cnn-dropout': { type: 'string' },
      'cnn-weight': { type: 'string' },
      quiet: { type: 'boolean', default: false },
    },
  });
  if (!values.data || !values.out) {
    console.error(USAGE);
    return 2;
  }
  const opts: TrainOptions = { train: resolve(values.data) };
  if (values.val) opts.validation = resolve(values.val);
  if (values.test) opts.test = resolve(values.test);
  const set = <K extends keyof TrainOptions>(k: K, v: TrainOptions[K] | undefined): void => {
    if (v !== undefined) opts[k] = v;
  };
  try {
    set('seed', num(values.seed, 'seed'));
    set('epochs', num(values.epochs, 'epochs'));
    set('dim', num(values.dim, 'dim'));
    set('hidden', num(values.hidden, 'hidden'));
    set('members', num(values.members, 'members'));
    set('learningRate', num(values.lr, 'lr'));
    set('dropout', num(values.dropout, 'dropout'));
    set('labelSmoothing', num(values['label-smoothing'], 'label-smoothing'));
    set('featureDropout', num(values['feature-dropout'], 'feature-dropout'));
    if (values.tables !== undefined) opts.tables = values.tables as 'fp16' | 'int8';
    if (values['member-average'] !== undefined) opts.memberAverage = values['member-average'] as 'probs' | 'logits';
    set('oosLabel', values['oos-label']);
    set('oosTargetRecall', num(values['oos-recall'], 'oos-recall'));
    set('oosRecallLowerBound', num(values['oos-recall-bound'], 'oos-recall-bound'));
    if (values['oos-rule'] !== undefined) opts.oosRule = values['oos-rule'] as TrainOptions['oosRule'];
    if (values.refit) opts.refit = true;
    if (values.embeddings) opts.embeddings = resolve(values.embeddings);
    if (values['vector-extremes']) opts.vectorExtremes = true;
    set('cnnFilters', num(values['cnn-filters'], 'cnn-filters'));
    if (values['cnn-widths'] !== undefined) opts.cnnWidths = values['cnn-widths'].split(',').map((w) => num(w, 'cnn-widths')!);
    set('cnnEpochs', num(values['cnn-epochs'], 'cnn-epochs'));
    set('cnnLearningRate', num(values['cnn-lr'], 'cnn-lr'));
    set('cnnDropout', num(values['cnn-dropout'], 'cnn-dropout'));
    set('cnnWeight', num(values['cnn-weight'], 'cnn-weight'));
    const bits = num(values['hash-bits'], 'hash-bits');
    if (bits !== undefined) opts.featurizer = { hashBits: bits };
    if (!values.quiet) opts.log = (line) => console.log(line);
    const { model, report } = trainIntentModel(opts);
    mkdirSync(values.out, { recursive: true });
    const file = join(values.out, 'model.onnx');
    writeFileSync(file, model);
    const pct = (x: number | null): string => (x === null ? 'n/a' : `${(x * 100).toFixed(2)}%`);
    console.log('');
    console.log(`model            ${file} (${report.model_bytes} bytes)`);
    console.log(`labels           ${report.labels.length}`);
    console.log(`train examples   ${report.train_examples} in ${report.train_seconds} s`);
    console.log(`oos threshold    ${report.threshold} (${report.oos_rule})`);
    console.log(`validation       in-scope accuracy ${pct(report.val_accuracy)}, out-of-scope recall ${pct(report.val_oos_recall)}`);
    if (report.before_refit) console.log(`before refit     test in-scope accuracy ${pct(report.before_refit.accuracy)} (top-1 ${pct(report.before_refit.accuracy_top1)}), out-of-scope recall ${pct(report.before_refit.oos_recall)}`);
    if (report.vector_words > 0) console.log(`word vectors     ${report.vector_words} training words`);
    console.log(`test             in-scope accuracy ${pct(report.accuracy)} (top-1 ignoring the oos flag ${pct(report.accuracy_top1)}), out-of-scope recall ${pct(report.oos_recall)}`);
    console.log(JSON.stringify(report));
    return 0;
  } catch (err) {
    if (isKefuError(err) || err instanceof RangeError || err instanceof TypeError) {
      console.error(`kefu-intent: ${(err as Error).message}`);
      console.log(JSON.stringify({ error: (err as { code?: string }).code ?? (err as Error).name, message: (err as Error).message }));
      return 1;
    }
    throw err;
  }
}

process.exitCode = main(process.argv.slice(2));
