/**
 * LevelDB DeskStore on `level`, writing through the shared GroupCommitWriter so that many
 * conversations changing at once share one synced batch.
 *
 * Keys (NUL-separated; ids are printable ASCII so NUL cannot occur in them):
 *   a\0<tenant>\0<conv>  open conversation (what a restart loads)
 *   h\0<tenant>\0<conv>  closed conversation (history)
 *   g\0<tenant>\0<agent> agent settings
 * Closing a conversation moves it from `a` to `h` in one atomic batch.
 */
import { Level } from 'level';
import { GroupCommitWriter, type BatchOp } from '../../storage/index.js';
import { DeskStore, type DeskStoreOp, type DeskStoreSupports, type StoredAgent } from './desk-store.js';
import type { AgentSettings, DeskConversation } from '../types.js';

export interface LevelDeskStoreOptions {
  /** Directory of the LevelDB database. */
  location: string;
  /**
   * fsync each batch before a write resolves.
   * @defaultValue true
   */
  sync?: boolean;
}

const SEP = '\u0000';

export class LevelDeskStore extends DeskStore {
  readonly supports: DeskStoreSupports = { persistent: true, history: true };
  readonly #db: Level<string, string>;
  readonly #writer: GroupCommitWriter;

  constructor(options: LevelDeskStoreOptions) {
    super();
    if (typeof options?.location !== 'string' || options.location.length === 0) {
      throw new TypeError('LevelDeskStore: location must be a non-empty string');
    }
    this.#db = new Level<string, string>(options.location, { valueEncoding: 'utf8' });
    this.#writer = new GroupCommitWriter(this.#db, { sync: options.sync ?? true });
  }

  protected async _open(): Promise<void> {
    await this.#db.open();
  }

  protected async _close(): Promise<void> {
    await this.#writer.close();
    await this.#db.close();
  }

  protected _write(ops: DeskStoreOp[]): Promise<void> {
    const batch: BatchOp[] = [];
    for (const op of ops) {
      if (op.type === 'conversation') {
        const c = op.value;
        const open = `a${SEP}${c.tenant}${SEP}${c.id}`;
        const hist = `h${SEP}${c.tenant}${SEP}${c.id}`;
        const json = JSON.stringify(c);
        if (c.state === 'closed') batch.push({ type: 'del', key: open }, { type: 'put', key: hist, value: json });
        else batch.push({ type: 'put', key: open, value: json });
      } else if (op.type === 'agent') {
        batch.push({ type: 'put', key: `g${SEP}${op.tenant}${SEP}${op.id}`, value: JSON.stringify(op.value) });
      } else {
        batch.push({ type: 'del', key: `g${SEP}${op.tenant}${SEP}${op.id}` });
      }
    }
    return this.#writer.write(batch);
  }

  protected async _loadActive(): Promise<DeskConversation[]> {
    const out: DeskConversation[] = [];
    for await (const value of this.#db.values({ gt: `a${SEP}`, lt: `a${SEP}\uffff` })) {
      out.push(JSON.parse(value) as DeskConversation);
    }
    return out;
  }

  protected async _get(tenant: string, id: string): Promise<DeskConversation | undefined> {
    const [open, hist] = await this.#db.getMany([`a${SEP}${tenant}${SEP}${id}`, `h${SEP}${tenant}${SEP}${id}`]);
    const v = open ?? hist;
    return v === undefined ? undefined : (JSON.parse(v) as DeskConversation);
  }

  protected async _loadAgents(): Promise<StoredAgent[]> {
    const out: StoredAgent[] = [];
    for await (const [k, v] of this.#db.iterator({ gt: `g${SEP}`, lt: `g${SEP}\uffff` })) {
      const [, tenant = '', id = ''] = k.split(SEP);
      out.push({ tenant, id, settings: JSON.parse(v) as AgentSettings });
    }
    return out;
  }
}
