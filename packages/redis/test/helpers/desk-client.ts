/** Clients and waits for the desk-across-nodes tests. */
import { DeskTestClient } from '@kefu/core/testing';

/** The desk suite's client (@kefu/core/testing), with waits bounded at 10 s: a leader can be starved on a loaded CI machine. */
export type DeskClient = DeskTestClient;
export const DeskClient = {
  connect: (url: string, as: string): Promise<DeskTestClient> => DeskTestClient.connect(url, as, { timeoutMs: 10_000 }),
};

export async function closeAll(...clients: Array<DeskClient | undefined>): Promise<void> {
  await Promise.allSettled(clients.map((c) => c?.close()));
}

export async function until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
