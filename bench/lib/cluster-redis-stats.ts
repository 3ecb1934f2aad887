/**
 * What the shared redis-server spent, from its own INFO (cluster bench): CPU seconds
 * (used_cpu_user + used_cpu_sys, main thread and children) and memory, so that Redis's cost per
 * message and per connection can be set beside the hub nodes'.
 */
import { Redis } from 'ioredis';

export interface RedisSample { cpuS: number; usedMemory: number; at: number }

function field(info: string, name: string): number {
  const m = new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info);
  return m ? Number(m[1]) : NaN;
}

export class RedisStats {
  private readonly client: Redis;

  constructor(url: string) {
    this.client = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 2 });
  }

  async sample(): Promise<RedisSample> {
    const [cpu, mem] = await Promise.all([this.client.info('cpu'), this.client.info('memory')]);
    return { cpuS: field(cpu, 'used_cpu_user') + field(cpu, 'used_cpu_sys'), usedMemory: field(mem, 'used_memory'), at: performance.now() };
  }

  /** CPU used between two samples, % of one core. */
  static cpuPct(a: RedisSample, b: RedisSample): number {
    return ((b.cpuS - a.cpuS) / ((b.at - a.at) / 1000)) * 100;
  }

  /** Deletes every key between systems, so that one system's conversations do not weigh on the next. */
  async flush(): Promise<void> {
    await this.client.flushall();
  }

  async close(): Promise<void> {
    await this.client.quit().catch(() => this.client.disconnect());
  }
}
