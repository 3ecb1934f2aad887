/**
 * Typed helpers for the desk's vocabulary (commands and events from @kefu/protocol's desk.ts)
 * on top of the generic `command` / `event` of KefuClient.
 */
import type { DeskCommandMap, DeskEventMap, EventFrame, JsonObject } from '@kefu/protocol';
import type { KefuClient } from './client.js';

/** Runs a desk command with typed args and result, e.g. `deskCommand(c, 'desk.accept', { offerId })`. */
export async function deskCommand<N extends keyof DeskCommandMap>(
  client: KefuClient, name: N, args: DeskCommandMap[N][0], conv?: string,
): Promise<DeskCommandMap[N][1]> {
  return (await client.command(name, args as JsonObject, conv)) as unknown as DeskCommandMap[N][1];
}

/** Subscribes to one desk event with a typed payload; returns the unsubscribe function. */
export function onDeskEvent<N extends keyof DeskEventMap>(
  client: KefuClient, name: N, listener: (data: DeskEventMap[N], frame: EventFrame) => void,
): () => void {
  const fn = (f: EventFrame): void => { if (f.name === name) listener(f.data as unknown as DeskEventMap[N], f); };
  client.on('event', fn);
  return () => { client.off('event', fn); };
}
