/** HTTP-level refusal of an upgrade: the WebSocket is never opened. */
import type { Duplex } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { STATUS_CODES } from 'node:http';
import { PROTOCOL, type KefuErrorCode } from '@kefu/protocol';

export function refuseUpgrade(socket: Duplex, status: number, code: KefuErrorCode, message: string): void {
  if (socket.destroyed) return;
  const body = JSON.stringify({ code, message });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
      'Connection: close\r\nContent-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/** True when the client offered the kefu.v1 subprotocol. */
export function offersProtocol(req: IncomingMessage): boolean {
  const h = req.headers['sec-websocket-protocol'];
  if (typeof h !== 'string') return false;
  return h.split(',').some((p) => p.trim() === PROTOCOL);
}

export function noop(): void {}
