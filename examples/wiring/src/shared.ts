import { Hub, jwtAuthenticator, type HubOptions } from '@kefu/core';

/** The same Hub for every server flavour: JWT (HS256) identities, in-memory conversations. */
export function createHub(secret: string, extra: Partial<HubOptions> = {}): Hub {
  return new Hub({ authenticate: jwtAuthenticator({ secret }), ...extra });
}

export interface Running {
  hub: Hub;
  port: number;
  close(): Promise<void>;
}
