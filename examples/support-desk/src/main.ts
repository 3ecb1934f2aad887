/**
 * `npm start`: the demo support desk on PORT (default 3000), data in ./data. DEMO ONLY:
 * KEFU_DEMO_ERP_FAULTS (JSON fault settings) makes the demo ERP fail from the start.
 */
import { startSupportDesk } from './app.js';
import { erpDemoMode, erpFaultsFromEnv } from './demo-erp.js';

const port = process.env.PORT ? Number(process.env.PORT) : 3000;
if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`PORT must be an integer from 0 to 65535, got "${process.env.PORT}"`);
const erpFaults = erpFaultsFromEnv(process.env.KEFU_DEMO_ERP_FAULTS);
const desk = await startSupportDesk({
  port, host: process.env.HOST ?? '127.0.0.1', dataDir: process.env.KEFU_DATA_DIR ?? './data', log: true,
  ...(erpFaults ? { erpFaults } : {}),
});
const { helpdesk, erp, crmNotes } = desk.services;
console.log(`
Kefu demo support desk
  visitor page (chat widget): ${desk.url}/
  agent console:              ${desk.url}/agent      (demo logins: Alice, Bob)
  metrics (Prometheus):       ${desk.url}/metrics
  health:                     ${desk.url}/health
  demo-only token endpoint:   POST ${desk.url}/demo/token  (DEMO ONLY: signs a token for anyone)

Refund saga back ends (mock services on loopback, restarted empty with the desk)
  helpdesk:                   ${helpdesk.url}/tickets/:id
  ERP:                        ${erp.url}/orders/:orderId/refunds
  CRM notes:                  ${crmNotes.url}/customers/:uid/notes
  ERP fault switch:           POST ${erp.url}/_faults  (DEMO ONLY; now: ${erpDemoMode(erp)} ${JSON.stringify(erp.faults.settings)})
                              or the agent console's switch "demo: make the ERP decline refunds"
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
