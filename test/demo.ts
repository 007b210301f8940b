// `npm run demo`: the whole sync on a fresh machine, with no keys. Starts the local fake Stripe and
// Attio servers with a small realistic data set, then runs the real sync.ts against them three
// times (--setup, --dry-run, a real run) and shows the companies it left in Attio.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startFakeAttio, type FakeAttio } from './fake-attio.ts';
import { startFakeStripe, type StripeStore } from './fake-stripe.ts';

const DAY = 86_400;
const NOW = Math.floor(Date.now() / 1000);
const ago = (days: number) => NOW - days * DAY;

/** About thirty customers: currencies, refunds, subscription states, CRM companies, one conflict. */
export function seedDemo(stripe: StripeStore, attio: FakeAttio): void {
  const customer = (name: string | null, email: string | null, days: number) => stripe.addCustomer({ name, email, created: ago(days) });
  const pay = (id: string, amount: number, days: number, currency = 'usd', more: Parameters<StripeStore['addCharge']>[0] extends infer P ? Partial<P> : never = {}) =>
    stripe.addCharge({ customer: id, amount, currency, created: ago(days), ...more });
  const subscribe = (id: string, status: 'active' | 'past_due' | 'trialing' | 'canceled' | 'paused', items: Array<{ unit_amount: number; quantity?: number; interval?: 'month' | 'year' | 'week' }>, discounts = [] as Array<{ percent_off?: number; amount_off?: number; currency?: string }>) =>
    stripe.addSubscription({ customer: id, status, items, discounts, created: ago(200) });

  // Companies a salesperson already keeps in Attio (the sync links these instead of duplicating them).
  attio.addCompany({ name: 'Northwind Traders', domains: ['northwind.example'] });
  attio.addCompany({ name: 'Globex Corporation', domains: ['globex.example', 'globex-corp.example'] });
  attio.addCompany({ name: 'Initech', domains: ['initech.example'] });

  const acme = customer('Acme Inc', 'billing@acme.example', 700);
  for (let m = 1; m <= 12; m++) pay(acme.id, 49_900, m * 30);
  subscribe(acme.id, 'active', [{ unit_amount: 49_900 }]);

  const northwind = customer('Northwind', 'ap@northwind.example', 400);
  pay(northwind.id, 120_000, 300);
  pay(northwind.id, 120_000, 30, 'usd', { amount_refunded: 20_000 });
  subscribe(northwind.id, 'active', [{ unit_amount: 1_200_000, interval: 'year' }]);

  const globex = customer('Globex', 'finance@globex.example', 380);
  pay(globex.id, 89_000, 90, 'eur', { settlement: { currency: 'usd', amount: 96_120, exchange_rate: 1.08 } });
  pay(globex.id, 89_000, 60, 'eur', { settlement: { currency: 'usd', amount: 95_230, exchange_rate: 1.07 } });
  subscribe(globex.id, 'past_due', [{ unit_amount: 8_900, quantity: 10 }], [{ percent_off: 20 }]);

  const initech = customer('Initech', 'bill@initech.example', 250);
  pay(initech.id, 19_900, 40);
  subscribe(initech.id, 'trialing', [{ unit_amount: 19_900 }]);

  // Two Stripe customers on one domain: the older gets the company, the newer is reported as a conflict.
  const umbrella = customer('Umbrella Corporation', 'ops@umbrella.example', 120);
  pay(umbrella.id, 250_000, 20);
  const umbrellaEu = customer('Umbrella EU', 'eu-billing@umbrella.example', 60);
  pay(umbrellaEu.id, 80_000, 15);

  const tokyo = customer('Tokyo Robotics', 'keiri@tokyo-robotics.example', 300);
  pay(tokyo.id, 150_000, 100, 'jpy', { settlement: { currency: 'usd', amount: 99_800, exchange_rate: 0.00665 } });
  pay(tokyo.id, 150_000, 50, 'jpy', { settlement: { currency: 'jpy', amount: 150_000 } }); // settled in JPY: left out, counted

  const gulf = customer('Gulf Logistics', 'accounts@gulf-logistics.example', 200);
  pay(gulf.id, 125_500, 70, 'kwd'); // three-decimal currency, no USD settlement: counted in the notes

  const weekly = customer('Weekly Meals', 'hello@weeklymeals.example', 150);
  subscribe(weekly.id, 'active', [{ unit_amount: 2_500, quantity: 2, interval: 'week' }]);
  pay(weekly.id, 5_000, 7);

  const paused = customer('Paused Studio', 'studio@paused.example', 500);
  pay(paused.id, 30_000, 200);
  subscribe(paused.id, 'paused', [{ unit_amount: 30_000 }]);

  const churned = customer('Churned LLC', 'ceo@churned.example', 600);
  pay(churned.id, 60_000, 400);
  subscribe(churned.id, 'canceled', [{ unit_amount: 60_000 }]);

  const refunded = customer('Refunded Ltd', 'ap@refunded.example', 90);
  pay(refunded.id, 40_000, 60, 'usd', { amount_refunded: 40_000 });

  const freelancer = customer('Jane Freelancer', 'jane.doe@gmail.com', 100);
  pay(freelancer.id, 9_900, 10);

  // A long tail of small customers, some on free mail, some with no name.
  for (let i = 1; i <= 18; i++) {
    const c = customer(i % 5 === 0 ? null : `Startup ${i}`, i % 4 === 0 ? `founder${i}@outlook.com` : `team@startup${i}.example`, 30 + i * 9);
    pay(c.id, 2_900 * (1 + (i % 3)), 5 + i);
    if (i % 2 === 0) subscribe(c.id, i % 6 === 0 ? 'trialing' : 'active', [{ unit_amount: 2_900, quantity: 1 + (i % 3) }]);
  }
  customer('Lead Without Payments', 'lead@prospect.example', 5); // no charge, no subscription: not synced
}

function runSync(args: string[], env: Record<string, string>): Promise<number> {
  const syncPath = fileURLToPath(new URL('../sync.ts', import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', syncPath, ...args], { env: { ...process.env, ...env }, stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code) => resolve(code ?? 1));
  });
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r, n) => r.map((cell, i) => (i >= 2 && n > 0 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ')).join('\n');
}

async function main(): Promise<number> {
  const stripe = await startFakeStripe({ apiKey: 'sk_test_demo_local_fake_key' });
  const attio = await startFakeAttio({ apiKey: 'attio_demo_local_fake_key' });
  try {
    seedDemo(stripe.store, attio);
    const env = { STRIPE_API_KEY: 'sk_test_demo_local_fake_key', ATTIO_API_KEY: 'attio_demo_local_fake_key', STRIPE_API_URL: stripe.url, ATTIO_API_URL: attio.url, DRY_RUN: '0' };
    console.log('=== DEMO: everything below runs against LOCAL FAKE Stripe and Attio servers on 127.0.0.1 ===');
    console.log(`    fake Stripe ${stripe.url}: ${stripe.store.customers.length} customers, ${stripe.store.charges.length} charges, ${stripe.store.subscriptions.length} subscriptions`);
    console.log(`    fake Attio  ${attio.url}: ${attio.companies().length} companies a salesperson already entered\n`);

    const steps: Array<[string, string[]]> = [
      ['1/3  npx tsx sync.ts --setup        (create the stripe_* attributes in Attio)', ['--setup']],
      ['2/3  npx tsx sync.ts --dry-run      (read everything, show the plan, write nothing)', ['--dry-run']],
      ['3/3  npx tsx sync.ts                (the real run)', []],
    ];
    let lastCode = 0;
    for (const [title, args] of steps) {
      console.log(`\n--- ${title}`);
      lastCode = await runSync(args, env);
      if (args[0] === '--setup' && lastCode !== 0) return lastCode;
    }

    const money = (v: unknown) => (typeof v === 'number' ? v.toFixed(2) : '');
    const rows = [['company', 'domain', 'lifetime revenue (USD)', 'MRR (USD)', 'status']];
    for (const c of attio.companies()) {
      const v = c.values;
      rows.push([String(v.name ?? ''), ((v.domains as string[] | undefined) ?? []).join(', '), money(v.stripe_lifetime_revenue), money(v.stripe_mrr), String(v.stripe_subscription_status ?? '')]);
    }
    console.log('\n--- Attio companies after the run (fake Attio workspace):\n');
    console.log(table(rows));
    console.log('\nThat was the real sync.ts against local fakes. Next: put your keys in .env and run `npx tsx sync.ts --setup`.');
    return lastCode;
  } finally {
    await Promise.all([stripe.close(), attio.close()]);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = await main();
