/**
 * LevelDB DeskStore on `level`, writing through the shared GroupCommitWriter so that many
 * conversations changing at once share one synced batch.
 *
 * Keys (NUL-separated; ids are printable ASCII so NUL cannot occur in them):
 *   a\0<tenant>\0<conv>  open conversation (what a restart loads)
 *   h\0<tenant>\0<conv>  closed conversation (history)
 *   g\0<tenant>\0<agent> agent settings
 *   v\0<tenant>\0<visitor> the visitor's last agent (sticky routing), JSON { agent, at }
 *   !q-<hex tenant>!...  each tenant's waiting queue (a LevelQueueStore on a sublevel)
 * Closing a conversation moves it from `a` to `h` in one atomic batch.
 */
import { Level } from 'level';
import { chainedBatchTarget, GroupCommitWriter, type BatchOp } from '../../storage/index.js';
import { LevelQueueStore } from '../../queue/level-queue-store.js';
import type { QueueStore } from '../../queue/queue-store.js';
import { DeskStore, QUEUE_INITIAL_CAPACITY, type DeskStoreOp, type DeskStoreSupports, type StoredAgent, type StoredLastAgent } from './desk-store.js';
import type { AgentSettings, DeskConversation } from '../types.js';
import type { DeskQueueItem } from '../waiting-queues.js';

export interface LevelDeskStoreOptions {
  /** Directory of the LevelDB database. */
  location: string;
  /**
   * fsync each batch before a write resolves.
   * @defaultValue true
   */
  sync?: boolean;
  /**
   * fsync each batch of the waiting queues (pushes and removals) before it resolves. Off by
   * default: queue writes survive a process crash either way, and after a machine crash the
   * desk reconciles each queue with the conversations (synced with `sync`) when it opens, so a
   * lost queue write costs at most the place among equal priorities of the chats that joined
   * last, not a chat.
   * @defaultValue false
   */
  queueSync?: boolean;
}

const SEP = '\u0000';

export class LevelDeskStore extends DeskStore {
  readonly supports: DeskStoreSupports = { persistent: true, history: true };
  readonly #db: Level<string, string>;
  readonly #writer: GroupCommitWriter;
  readonly #queueSync: boolean;

  constructor(options: LevelDeskStoreOptions) {
    super();
    if (typeof options?.location !== 'string' || options.location.length === 0) {
      throw new TypeError('LevelDeskStore: location must be a non-empty string');
    }
    // Checked before `new Level()`, which starts creating the directory at once.
    if (options.queueSync !== undefined && typeof options.queueSync !== 'boolean') throw new TypeError('LevelDeskStore: queueSync must be a boolean');
    this.#db = new Level<string, string>(options.location, { valueEncoding: 'utf8' });
    this.#queueSync = options.queueSync ?? false;
    this.#writer = new GroupCommitWriter(chainedBatchTarget(this.#db), { sync: options.sync ?? true });
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
      } else if (op.type === 'delete-agent') {
        batch.push({ type: 'del', key: `g${SEP}${op.tenant}${SEP}${op.id}` });
      } else if (op.type === 'last-agent') {
        batch.push({ type: 'put', key: `v${SEP}${op.tenant}${SEP}${op.visitor}`, value: JSON.stringify({ agent: op.agent, at: op.at }) });
      } else {
        batch.push({ type: 'del', key: `v${SEP}${op.tenant}${SEP}${op.visitor}` });
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

  protected async _loadLastAgents(): Promise<StoredLastAgent[]> {
    const out: StoredLastAgent[] = [];
    for await (const [k, v] of this.#db.iterator({ gt: `v${SEP}`, lt: `v${SEP}\uffff` })) {
      const [, tenant = '', visitor = ''] = k.split(SEP);
      const { agent, at } = JSON.parse(v) as { agent: string; at: number };
      out.push({ tenant, visitor, agent, at });
    }
    return out;
  }

  /**
   * A tenant's waiting queue lives in this database, under its own sublevel (hex of the tenant
   * id: ids may hold the sublevel separator '!'), so desk state and queue order share one
   * directory, one lock and one backup. Closing the queue closes only its sublevel.
   */
  protected override _queueStore(tenant: string): QueueStore<DeskQueueItem> {
    const sub = this.#db.sublevel<string, string>(`q-${Buffer.from(tenant).toString('hex')}`, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
    // LevelQueueStore takes a Level; a sublevel offers the same abstract-level API it uses.
    return new LevelQueueStore<DeskQueueItem>({ db: sub as unknown as Level<string, string>, sync: this.#queueSync, initialCapacity: QUEUE_INITIAL_CAPACITY });
  }
}
