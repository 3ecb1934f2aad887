/** Messages between the IntentClassifier (main thread) and its inference workers. */
import type { MessagePort } from 'node:worker_threads';
import type { FeaturizerSettings } from './featurizer.js';

export interface InitMessage {
  type: 'init';
  modelPath: string;
  kind: 'hashed' | 'bert';
  featurizer?: FeaturizerSettings;
  vocabPath?: string;
  lowercase: boolean;
  maxLength: number;
  intraOpThreads: number;
  topK: number;
  /** Expected number of classes (labels); checked against the model's output. */
  classes: number;
  /** Class whose probability each result also reports (the out-of-scope label), or -1. */
  oosIndex: number;
  /**
   * The `members-margin` rule: the model must have the output `hprobs` (the hashed members' own
   * probabilities) and each result also reports their margin.
   */
  membersMargin?: boolean;
  /** Call the runtime's native session synchronously when it checks out (see ort-runner.ts). */
  direct: boolean;
  /** After a batch, poll for the next message this long before sleeping (0: sleep at once). */
  spinMicros: number;
  /** Where the worker posts its answers (ResultMessage); set by the pool per worker. */
  results?: MessagePort;
}

export interface RunMessage {
  type: 'run';
  id: number;
  texts: string[];
}

/** Test hook: the worker exits abruptly, as if the native runtime had crashed. */
export interface CrashMessage {
  type: 'crash';
}

/** Test hook: the worker blocks for `ms`, as a stuck runtime call would. */
export interface StallMessage {
  type: 'stall';
  ms: number;
}

export type ToWorker = InitMessage | RunMessage | CrashMessage | StallMessage;

/** On the parent port. */
export type FromWorker = { type: 'ready'; direct: boolean } | { type: 'init-error'; code: string; message: string };

/** On the init's `results` port. */
export type ResultMessage =
  | {
      type: 'result';
      id: number;
      /** topK class indices per text, row-major [texts, k]. */
      index: Int32Array;
      /** Their probabilities, same layout. */
      prob: Float32Array;
      /** Probability of the init's `oosIndex` class per text (0 without one). */
      oos: Float32Array;
      /** With `membersMargin`: the members' top probability minus their `oosIndex` probability, per text. */
      margin?: Float32Array;
    }
  | { type: 'run-error'; id: number; message: string };
