/**
 * End to end in a real browser: Debian's chromium driven by playwright-core, against the demo
 * support desk started in this process (real hub, desk, LevelDB in a temp dir, mock back ends,
 * the shipped intent model). One visitor and one agent, each in its own browser profile.
 * Screenshots go to test-output/ (gitignored); KEFU_UPDATE_SCREENSHOTS=1 also copies them to
 * docs/images/ for the README.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { findBinary } from '@kefu/core/testing';
import { startSupportDesk, type SupportDesk } from '../../src/app.js';

const bin = findBinary('/usr/bin/chromium');
const skip = 'skip' in bin ? bin.skip : false;
const out = fileURLToPath(new URL('../../test-output/', import.meta.url));
const docsImages = fileURLToPath(new URL('../../../../docs/images/', import.meta.url));
const T = 20_000; // generous per-step bound: two cores shared with other work

let desk: SupportDesk | undefined;
const contexts: BrowserContext[] = [];
const dirs: string[] = [];

async function browserProfile(viewport = { width: 1200, height: 760 }): Promise<BrowserContext> {
  const dir = await mkdtemp(join(tmpdir(), 'kefu-e2e-chromium-'));
  dirs.push(dir);
  const ctx = await chromium.launchPersistentContext(dir, {
    executablePath: 'path' in bin ? bin.path : '',
    headless: true,
    viewport,
    ...(viewport.width < 500 ? { isMobile: true, hasTouch: true, deviceScaleFactor: 2 } : {}),
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
  contexts.push(ctx);
  return ctx;
}

async function shot(page: Page, name: string): Promise<void> {
  await mkdir(out, { recursive: true });
  await page.screenshot({ path: join(out, name) });
  if (process.env.KEFU_UPDATE_SCREENSHOTS === '1') {
    await mkdir(docsImages, { recursive: true });
    await copyFile(join(out, name), join(docsImages, name));
  }
}

before(async () => {
  if (skip) return;
  // Always bundle the browser code afresh (esbuild, under a second): never test stale bundles.
  await import('../../src/build-assets.js');
  const dataDir = await mkdtemp(join(tmpdir(), 'kefu-e2e-data-'));
  dirs.push(dataDir);
  desk = await startSupportDesk({ port: 0, dataDir });
});

after(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await desk?.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

test('visitor and agent: bot answer, hand-off, accept with profile, typing, read ticks, refund saga, reload keeps history, close, rating', { skip, timeout: 180_000 }, async () => {
  const base = desk!.url;
  // Say why up front rather than time out waiting for a bot answer that cannot come.
  assert.equal(desk!.services.classifierError, undefined, 'the demo\'s intent classifier must load for the bot step');
  const agentCtx = await browserProfile();
  const visitorCtx = await browserProfile();
  const agent = agentCtx.pages()[0] ?? await agentCtx.newPage();
  const visitor = visitorCtx.pages()[0] ?? await visitorCtx.newPage();
  const pageErrors: string[] = [];
  for (const p of [agent, visitor]) p.on('pageerror', (e) => pageErrors.push(String(e)));

  // Agent signs in (demo login) and is online.
  await agent.goto(`${base}/agent`);
  await agent.getByTestId('login-alice').click();
  await agent.locator('[data-testid=conn][data-state=open]').waitFor({ timeout: T });
  // The DEMO ONLY box: the ERP switch reads "works normally", and no refund waits for repair.
  await agent.getByTestId('demo-box').waitFor({ timeout: T });
  assert.equal(await agent.getByTestId('erp-mode').inputValue(), 'normal');
  await agent.getByTestId('failed-refunds').filter({ hasText: 'none' }).waitFor({ timeout: T });

  // Visitor opens the widget and asks something the bot knows. A fixed demo visitor id: the mock
  // back ends derive the profile from it, and this one has a refundable order and silver VIP.
  await visitor.goto(`${base}/`);
  await visitor.evaluate(() => localStorage.setItem('kefu.widget.v1', JSON.stringify({ visitorId: 'v-e2e0001' })));
  await visitor.reload();
  await visitor.getByTestId('kefu-launcher').click();
  await visitor.locator('[data-testid=kefu-state][data-state=open]').waitFor({ timeout: T });
  await visitor.getByTestId('kefu-input').fill('what is my bank account balance');
  await visitor.getByTestId('kefu-send').click();
  const botMsg = visitor.getByTestId('kefu-msg-bot').first();
  await botMsg.waitFor({ timeout: T });
  assert.match(await botMsg.innerText(), /balance/i);

  // Asks for a human: the agent gets the chat with the visitor's profile and detected intent.
  await visitor.getByTestId('kefu-human').click();
  const offer = agent.getByTestId('offer').first();
  await offer.waitFor({ timeout: T });
  const offerText = await offer.innerText();
  assert.match(offerText, /intent: balance/);
  assert.match(await agent.getByTestId('offer-profile').first().innerText(), /@example\.com/, 'CRM data in the offer');
  assert.match(offerText, /recent order/, 'orders in the offer');
  assert.match(await agent.getByTestId('offer-profile').first().innerText(), /VIP 1\b.*silver/s, 'VIP level in the offer');
  await offer.getByTestId('offer-accept').click();
  await visitor.getByText(/Alice joined the chat/).waitFor({ timeout: T });
  await agent.getByTestId('profile').waitFor({ timeout: T });
  assert.match(await agent.getByTestId('intent').innerText(), /balance/);
  await agent.locator('[data-testid=msg-bot]').first().waitFor({ timeout: T }); // transcript loaded

  // Agent types: the visitor sees it; agent sends; the visitor reads; the agent sees the double tick.
  await agent.getByTestId('input').fill('Hello, this is Al');
  await visitor.getByTestId('kefu-typing').filter({ hasText: /typing/ }).waitFor({ timeout: T });
  await agent.getByTestId('input').fill('Hello, this is Alice. How can I help?');
  await agent.getByTestId('send').click();
  await visitor.getByTestId('kefu-msg-agent').filter({ hasText: 'How can I help?' }).waitFor({ timeout: T });
  await agent.locator('[data-testid=msg-me] .meta[data-read=true]').first().waitFor({ timeout: T });

  // Visitor types and answers; the agent sees typing, the message, and the visitor sees it read.
  await visitor.getByTestId('kefu-input').fill('My order arrived bro');
  await agent.getByTestId('typing').filter({ hasText: /typing/ }).waitFor({ timeout: T });
  await visitor.getByTestId('kefu-input').fill('My order arrived broken');
  await visitor.getByTestId('kefu-send').click();
  await agent.getByTestId('msg-visitor').filter({ hasText: 'arrived broken' }).waitFor({ timeout: T });
  await visitor.locator('[data-testid=kefu-msg-me] .meta[data-read=true]').last().waitFor({ timeout: T });

  // The refund action: a durable queue job runs the refund saga; its progress shows in the chat.
  await agent.getByTestId('refund').click();
  await agent.getByTestId('refund-result').filter({ hasText: /queued/ }).waitFor({ timeout: T });
  await visitor.getByTestId('kefu-msg-system').filter({ hasText: /refund is complete/i }).waitFor({ timeout: 30_000 });
  await agent.getByTestId('msg-system').filter({ hasText: /refund is complete/i }).waitFor({ timeout: T });
  await shot(visitor, 'widget.png');
  await shot(agent, 'agent-console.png');

  // Reload: the widget resumes the same conversation with its whole history, in order.
  const before = await visitor.locator('[data-testid=kefu-log] [data-seq]').allInnerTexts();
  await visitor.reload();
  await visitor.locator('[data-testid=kefu-state][data-state=open]').waitFor({ timeout: T });
  await visitor.getByTestId('kefu-msg-me').filter({ hasText: 'arrived broken' }).waitFor({ timeout: T });
  const afterReload = await visitor.locator('[data-testid=kefu-log] [data-seq]').allInnerTexts();
  const strip = (xs: string[]): string[] => xs.map((x) => x.replace(/\s*\d\d:\d\d.*$/s, '').trim());
  assert.deepEqual(strip(afterReload), strip(before), 'history intact after reload');
  assert.ok(afterReload.length >= 4, 'question, bot answer, agent message and reply are all there');
  await visitor.locator('[data-testid=kefu-msg-me] .meta[data-read=true]').last().waitFor({ timeout: T }); // read ticks survive too

  // The agent closes; the visitor rates.
  await agent.getByTestId('close-chat').click();
  await visitor.getByTestId('kefu-rating').waitFor({ state: 'visible', timeout: T });
  await visitor.getByTestId('kefu-star-5').click();
  await visitor.getByTestId('kefu-rated').waitFor({ timeout: T });
  assert.match(await visitor.getByTestId('kefu-rated').innerText(), /5\/5/);
  await shot(visitor, 'widget-rated.png');
  // A new chat starts clean.
  await visitor.getByTestId('kefu-new-chat').click();
  await visitor.getByTestId('kefu-input').waitFor({ state: 'visible', timeout: T });
  assert.equal(await visitor.locator('[data-testid=kefu-log] [data-seq]').count(), 0);
  assert.deepEqual(pageErrors, [], 'no uncaught errors in either page');
});

test('on a phone: full-screen widget; queue position while agents are away; canned reply; transfer to another agent who takes over; offline outbox, kept across a reload', { skip, timeout: 180_000 }, async () => {
  const base = desk!.url;
  const [aliceCtx, bobCtx, phoneCtx] = [await browserProfile(), await browserProfile(), await browserProfile({ width: 390, height: 844 })];
  const [alice, bob, phone] = [aliceCtx, bobCtx, phoneCtx].map((c) => c.pages()[0]!);
  const pageErrors: string[] = [];
  for (const p of [alice!, bob!, phone!]) p.on('pageerror', (e) => pageErrors.push(String(e)));
  for (const [page, who] of [[alice!, 'alice'], [bob!, 'bob']] as const) {
    await page.goto(`${base}/agent`);
    await page.getByTestId(`login-${who}`).click();
    await page.locator('[data-testid=conn][data-state=open]').waitFor({ timeout: T });
  }

  // Both agents step away, so the chat waits in the queue: the visitor sees its position, the
  // agents see it in the waiting queue with its position.
  for (const page of [alice!, bob!]) await page.locator('#status').selectOption('away');

  await phone!.goto(`${base}/`);
  await phone!.getByTestId('kefu-launcher').click();
  const panel = phone!.getByTestId('kefu-panel');
  await panel.waitFor({ timeout: T });
  const box = await panel.boundingBox();
  assert.ok(box && box.width === 390 && box.height === 844, `panel fills the phone screen (${JSON.stringify(box)})`);
  await phone!.locator('[data-testid=kefu-state][data-state=open]').waitFor({ timeout: T });
  await phone!.getByTestId('kefu-input').fill('I want to talk to a human');
  await phone!.getByTestId('kefu-send').click();
  await phone!.locator('[data-testid=kefu-queue][data-position="1"]').waitFor({ timeout: T });
  assert.match(await phone!.getByTestId('kefu-queue').innerText(), /number 1 in the queue/);
  const waiting = alice!.getByTestId('queue-entry').first();
  await waiting.waitFor({ timeout: T });
  assert.match(await waiting.innerText(), /^#1 /);
  assert.equal(await waiting.getAttribute('data-conv'), await phone!.getByTestId('kefu-log').getAttribute('data-conv'));
  assert.equal(await alice!.getByTestId('offer').count(), 0, 'nobody is offered the chat while both are away');
  await shot(alice!, 'agent-queue.png');
  await shot(phone!, 'widget-queue.png');
  for (const page of [alice!, bob!]) await page.locator('#status').selectOption('online');

  // Whoever is offered the chat accepts it, answers with a canned reply, and transfers it to the other.
  const offered = await Promise.race([
    alice!.getByTestId('offer').first().waitFor({ timeout: T }).then(() => 'alice' as const),
    bob!.getByTestId('offer').first().waitFor({ timeout: T }).then(() => 'bob' as const),
  ]);
  const [first, second, secondName] = offered === 'alice' ? [alice!, bob!, 'Bob'] : [bob!, alice!, 'Alice'];
  await first.getByTestId('offer-accept').first().click();
  await first.getByTestId('profile').waitFor({ timeout: T });
  await first.getByTestId('canned').selectOption('hello');
  assert.match(await first.getByTestId('input').inputValue(), /thanks for waiting/);
  await first.getByTestId('send').click();
  await phone!.getByTestId('kefu-msg-agent').filter({ hasText: 'thanks for waiting' }).waitFor({ timeout: T });
  await shot(phone!, 'widget-phone.png');

  await first.locator('#transfer-to').selectOption(offered === 'alice' ? 'bob' : 'alice');
  await first.getByTestId('transfer').click();
  await phone!.getByText(new RegExp(`${secondName} joined the chat`)).waitFor({ timeout: T });
  const conv = await phone!.getByTestId('kefu-log').getAttribute('data-conv');
  assert.ok(conv);
  const item = second.locator(`[data-testid=chat-item][data-conv="${conv}"]`);
  await item.waitFor({ timeout: T });
  await item.click();
  await second.getByTestId('msg-agent').filter({ hasText: 'thanks for waiting' }).waitFor({ timeout: T }); // the history came along
  await second.getByTestId('input').fill(`Hi, ${secondName} here, I will take it from here.`);
  await second.getByTestId('send').click();
  await phone!.getByTestId('kefu-msg-agent').filter({ hasText: `${secondName} here` }).waitFor({ timeout: T });
  await first.locator(`[data-testid=chat-item][data-conv="${conv}"]`).waitFor({ state: 'detached', timeout: T }); // gone from the first agent's list

  // The phone loses its network: a message written meanwhile waits in the outbox, goes out once
  // on reconnect, and the agent gets it exactly once.
  await phoneCtx!.setOffline(true);
  await phone!.locator('[data-testid=kefu-state]:not([data-state=open])').waitFor({ timeout: T });
  await phone!.getByTestId('kefu-input').fill('sent while offline');
  await phone!.getByTestId('kefu-send').click();
  await phone!.locator('[data-testid=kefu-msg-me].pending').filter({ hasText: 'sent while offline' }).waitFor({ timeout: T });
  await phoneCtx!.setOffline(false);
  await phone!.locator('[data-testid=kefu-state][data-state=open]').waitFor({ timeout: 30_000 });
  await second.getByTestId('msg-visitor').filter({ hasText: 'sent while offline' }).waitFor({ timeout: T });
  await phone!.locator('[data-testid=kefu-msg-me]:not(.pending)').filter({ hasText: 'sent while offline' }).waitFor({ timeout: T });
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(await second.getByTestId('msg-visitor').filter({ hasText: 'sent while offline' }).count(), 1, 'delivered once');
  assert.equal(await phone!.getByTestId('kefu-msg-me').filter({ hasText: 'sent while offline' }).count(), 1, 'one bubble');

  // A reload while the hub is unreachable: the client's outbox is in memory, so the widget keeps
  // the unacknowledged message in localStorage and the reloaded page sends it (same cid) once.
  let hubReachable = false;
  await phoneCtx!.routeWebSocket(/\/kefu/, (ws) => {
    if (hubReachable) ws.connectToServer();
    else ws.close({ code: 4000, reason: 'e2e: hub unreachable' });
  });
  await phoneCtx!.setOffline(true);
  await phone!.locator('[data-testid=kefu-state]:not([data-state=open])').waitFor({ timeout: T });
  await phone!.getByTestId('kefu-input').fill('kept across a reload');
  await phone!.getByTestId('kefu-send').click();
  await phone!.locator('[data-testid=kefu-msg-me].pending').filter({ hasText: 'kept across a reload' }).waitFor({ timeout: T });
  assert.match(await phone!.evaluate(() => localStorage.getItem('kefu.widget.v1') ?? ''), /kept across a reload/);
  await phoneCtx!.setOffline(false);
  await phone!.reload();
  await phone!.locator('[data-testid=kefu-state][data-state=reconnecting]').waitFor({ timeout: T });
  hubReachable = true;
  await phone!.locator('[data-testid=kefu-state][data-state=open]').waitFor({ timeout: 30_000 });
  await second.getByTestId('msg-visitor').filter({ hasText: 'kept across a reload' }).waitFor({ timeout: T });
  await phone!.locator('[data-testid=kefu-msg-me]:not(.pending)').filter({ hasText: 'kept across a reload' }).waitFor({ timeout: T });
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(await second.getByTestId('msg-visitor').filter({ hasText: 'kept across a reload' }).count(), 1, 'delivered once after the reload');
  assert.equal(await phone!.getByTestId('kefu-msg-me').filter({ hasText: 'kept across a reload' }).count(), 1, 'one bubble after the reload');
  assert.doesNotMatch(await phone!.evaluate(() => localStorage.getItem('kefu.widget.v1') ?? ''), /kept across a reload/, 'acked: no longer kept');
  assert.deepEqual(pageErrors, []);
});
