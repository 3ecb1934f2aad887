/**
 * A GroupCommitWriter target that writes each group as a LevelDB *chained* batch.
 *
 * Why: abstract-level's array form `db.batch(ops)` clones every operation object (two spreads per
 * op) and re-resolves its encodings; the chained form adds each op to the native batch directly.
 * Measured here (classic-level via level 10, 100 puts of 200 B per batch, sync off): 15-17.5 µs
 * of CPU per op with the array form, 4.6-5.6 µs with the chained form.
 */
import type { BatchTarget } from './group-commit.js';

/** The slice of a `level` database that a chained batch needs (string keys and values). */
export interface ChainedBatchDb {
  batch(): {
    put(key: string, value: string): unknown;
    del(key: string): unknown;
    write(options: { sync: boolean }): Promise<void>;
    close(): Promise<void>;
  };
}

export function chainedBatchTarget(db: ChainedBatchDb): BatchTarget {
  return {
    async batch(ops, options) {
      const b = db.batch();
      try {
        for (const op of ops) {
          if (op.type === 'put') b.put(op.key, op.value as string);
          else b.del(op.key);
        }
      } catch (err) {
        await b.close();
        throw err;
      }
      await b.write(options);
    },
  };
}
