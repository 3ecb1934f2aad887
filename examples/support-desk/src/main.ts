/** `npm start`: the demo support desk on PORT (default 3000), data in ./data. */
import { startSupportDesk } from './app.js';

const port = process.env.PORT ? Number(process.env.PORT) : 3000;
if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`PORT must be an integer from 0 to 65535, got "${process.env.PORT}"`);
const desk = await startSupportDesk({ port, host: process.env.HOST ?? '127.0.0.1', dataDir: process.env.KEFU_DATA_DIR ?? './data', log: true });
console.log(`
Kefu demo support desk
  visitor page (chat widget): ${desk.url}/
  agent console:              ${desk.url}/agent      (demo logins: Alice, Bob)
  metrics (Prometheus):       ${desk.url}/metrics
  health:                     ${desk.url}/health
  demo-only token endpoint:   POST ${desk.url}/demo/token  (DEMO ONLY: signs a token for anyone)
`);
let stopping = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (stopping) process.exit(1);
    stopping = true;
    console.log('stopping…');
    void desk.close().then(() => process.exit(0));
  });
}
