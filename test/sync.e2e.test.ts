// End-to-end: the real sync (real stripe SDK over HTTP, real fetch) against the local fakes.
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { queuedFaults, type FaultKind, type RequestInfo } from './faults.ts';
import { allOutput, ATTIO_KEY, companyOf, isCreate, isRecordWrite, leakedFragments, runCli, startBed, STRIPE_KEY, WORKSPACES, writesOf, type Bed, refuseWritesOf } from './harness.ts';

let bed: Bed | null = null;
afterEach(async () => {
  await bed?.close();
  bed = null;
});
afterAll(() => {
  // Every run in this file, the failing ones included: no 5-byte run of either key in any output.
  expect(allOutput.length).toBeGreaterThan(0);
  expect(leakedFragments(allOutput.join('\n'))).toEqual([]);
});
const open = async (opts?: Parameters<typeof startBed>[0]) => (bed = await startBed(opts));

const DAY = 86_400;
const T0 = 1_750_000_000; // 2025-06-15

describe('revenue', () => {
  it('sums net revenue: refunds, partial captures, converted and unconvertible currencies', async () => {
    const { stripe, attio, run } = await open();
    const s = stripe.store;
    const c = s.addCustomer({ name: 'Acme', email: 'ap@acme.example', created: T0 });
    s.addCharge({ customer: c.id, amount: 10_000, currency: 'usd', created: T0 + DAY, amount_refunded: 2_500 }); // 75.00
    s.addCharge({ customer: c.id, amount: 10_000, currency: 'usd', created: T0 + 2 * DAY, amount_captured: 6_000 }); // 60.00
    s.addCharge({ customer: c.id, amount: 5_000, currency: 'usd', created: T0 + 3 * DAY, status: 'failed' }); // 0
    s.addCharge({ customer: c.id, amount: 10_000, currency: 'eur', created: T0 + 4 * DAY, settlement: { currency: 'usd', amount: 10_800 } }); // 108.00
    s.addCharge({ customer: c.id, amount: 10_000, currency: 'eur', created: T0 + 5 * DAY, amount_refunded: 5_000, settlement: { currency: 'usd', amount: 11_000 } }); // 55.00
    s.addCharge({ customer: c.id, amount: 12_345, currency: 'kwd', created: T0 + 6 * DAY, settlement: { currency: 'usd', amount: 4_012_100 } }); // 40121.00
    s.addCharge({ customer: c.id, amount: 1_500, currency: 'jpy', created: T0 + 7 * DAY, settlement: { currency: 'usd', amount: 1_000 } }); // 10.00
    s.addCharge({ customer: c.id, amount: 2_000, currency: 'jpy', created: T0 + 8 * DAY }); // settled in JPY: left out
    s.addCharge({ customer: c.id, amount: 1_250, currency: 'kwd', created: T0 + 9 * DAY }); // settled in KWD: left out

    const result = await run();
    expect(result.code).toBe(0);
    expect(companyOf(attio, c.id)).toMatchObject({
      stripe_lifetime_revenue: 75 + 60 + 108 + 55 + 40_121 + 10,
      stripe_first_payment_date: '2025-06-16',
      stripe_last_payment_date: '2025-06-24',
      stripe_customer_since: '2025-06-15',
    });
    // The left-out amounts are named with their own exponents: 2000 JPY (0 decimals), 1.25 KWD (3).
    expect(result.out).toMatch(/left out of lifetime revenue \(1 customers\): 2000 JPY, 1\.25 KWD/);
  });

  it('reports in a zero-decimal target currency', async () => {
    const { stripe, attio, run } = await open({ setup: false });
    expect((await run(['--setup', '--currency', 'JPY'])).code).toBe(0);
    const c = stripe.store.addCustomer({ name: 'Tokyo', email: 'a@tokyo.example', created: T0 });
    stripe.store.addCharge({ customer: c.id, amount: 1_500, currency: 'jpy', created: T0 + DAY, amount_refunded: 200 });
    stripe.store.addCharge({ customer: c.id, amount: 1_000, currency: 'usd', created: T0 + DAY, settlement: { currency: 'jpy', amount: 15_000 } });
    stripe.store.addSubscription({ customer: c.id, currency: 'jpy', items: [{ unit_amount: 12_000, interval: 'year' }] });
    expect((await run()).code).toBe(0);
    expect(companyOf(attio, c.id)).toMatchObject({ stripe_lifetime_revenue: 1_300 + 15_000, stripe_mrr: 1_000 });
  });

  it('updates a linked customer whose charges were all refunded to zero', async () => {
    const { stripe, attio, run } = await open();
    const c = stripe.store.addCustomer({ name: 'Refundable', email: 'x@refund.example', created: T0 });
    const charge = stripe.store.addCharge({ customer: c.id, amount: 4_000, currency: 'usd', created: T0 + DAY });
    await run();
    expect(companyOf(attio, c.id)?.stripe_lifetime_revenue).toBe(40);
    stripe.store.refundCharge(charge.id, 4_000);
    const second = await run();
    expect(second.out).toContain('updated=1');
    expect(companyOf(attio, c.id)?.stripe_lifetime_revenue).toBe(0);
  });
});

describe('MRR and status', () => {
  it('normalises intervals, multiplies quantities, applies discounts, excludes trialing and metered', async () => {
    const { stripe, attio, run } = await open();
    const s = stripe.store;
    const mk = (name: string) => s.addCustomer({ name, email: `billing@${name}.example`, created: T0 });
    const yearly = mk('yearly');
    s.addSubscription({ customer: yearly.id, items: [{ unit_amount: 120_000, interval: 'year' }] }); // 100.00
    const weekly = mk('weekly');
    s.addSubscription({ customer: weekly.id, items: [{ unit_amount: 1_000, quantity: 3, interval: 'week' }] }); // 30 * 52 / 12 = 130.00
    const mixed = mk('mixed');
    s.addSubscription({
      customer: mixed.id,
      status: 'past_due',
      items: [
        { unit_amount: 5_000, quantity: 4 }, // 200.00
        { unit_amount: 100, usage_type: 'metered' }, // excluded
        { unit_amount: 60_000, interval: 'month', interval_count: 3 }, // 200.00
      ],
      discounts: [{ percent_off: 25, duration: 'forever' }], // 400 * 0.75 = 300.00
    });
    s.addSubscription({ customer: mixed.id, status: 'trialing', items: [{ unit_amount: 99_900 }] }); // excluded
    s.addSubscription({ customer: mixed.id, status: 'canceled', items: [{ unit_amount: 99_900 }] }); // excluded
    const amountOff = mk('amountoff');
    // A repeating coupon is a recurring discount (subtracted by default); forever amount-offs cannot be attached since 2025-03-31.
    s.addSubscription({ customer: amountOff.id, items: [{ unit_amount: 10_000 }], discounts: [{ amount_off: 2_500, currency: 'usd', duration: 'repeating' }] }); // 75.00
    const euro = mk('euro');
    s.addSubscription({ customer: euro.id, currency: 'eur', items: [{ unit_amount: 10_000, currency: 'eur' }] }); // other currency

    const result = await run();
    expect(result.code).toBe(0);
    expect(companyOf(attio, yearly.id)).toMatchObject({ stripe_mrr: 100, stripe_subscription_status: 'Active' });
    expect(companyOf(attio, weekly.id)).toMatchObject({ stripe_mrr: 130, stripe_subscription_status: 'Active' });
    expect(companyOf(attio, mixed.id)).toMatchObject({ stripe_mrr: 300, stripe_subscription_status: 'Past due' });
    expect(companyOf(attio, amountOff.id)).toMatchObject({ stripe_mrr: 75 });
    expect(companyOf(attio, euro.id)).toMatchObject({ stripe_mrr: 0, stripe_subscription_status: 'Active' });
    expect(result.out).toMatch(/MRR of subscriptions billed in other currencies, left out \(1 customers\): 100 EUR per month/);
  });

  it('reads items beyond the first page, and prices a tiered price from its tiers, read once per price', async () => {
    const { stripe, attio, run } = await open();
    const c = stripe.store.addCustomer({ name: 'Many', email: 'a@many.example', created: T0 });
    const items = Array.from({ length: 25 }, () => ({ unit_amount: 100 })); // 25 x 1.00
    // Graduated: 10 at 1.00, the rest at 0.50. 12 units: 10 x 100 + 2 x 50 = 1,100 (11.00).
    const tiers = [{ up_to: 10, unit_amount: 100 }, { up_to: null, unit_amount: 50 }];
    const first = stripe.store.addSubscription({ customer: c.id, items: [{ unit_amount: null, tiers, quantity: 12 }, ...items, { unit_amount: 500, quantity: 0 }] });
    const tieredPrice = first.items.data[0]!.price.id;
    // Two more subscriptions on the same tiered price: 3 units (3.00) and 20 units (10 + 5 = 15.00).
    const other = stripe.store.addCustomer({ name: 'Shared', email: 'a@shared.example', created: T0 });
    stripe.store.addSubscription({ customer: other.id, items: [{ unit_amount: null, price_id: tieredPrice, quantity: 3 }] });
    stripe.store.addSubscription({ customer: other.id, items: [{ unit_amount: null, price_id: tieredPrice, quantity: 20 }] });
    const result = await run();
    expect(result.code).toBe(0);
    expect(companyOf(attio, c.id)?.stripe_mrr).toBe(25 + 11);
    expect(companyOf(attio, other.id)?.stripe_mrr).toBe(3 + 15);
    expect(stripe.requests.some((r) => r.path === '/v1/subscription_items')).toBe(true);
    expect(stripe.requests.filter((r) => r.path.startsWith('/v1/prices/')).map((r) => r.path)).toEqual([`/v1/prices/${tieredPrice}`]);
    expect(result.out).not.toContain('not in MRR');
  });

  it('lowers MRR by recurring coupons (forever and repeating) by default, not by one-time ones, on subscriptions and on their items', async () => {
    const { stripe, attio, run } = await open();
    const s = stripe.store;
    const mk = (name: string) => s.addCustomer({ name, email: `billing@${name}.example`, created: T0 });
    const once = mk('once');
    s.addSubscription({ customer: once.id, items: [{ unit_amount: 10_000 }], discounts: [{ percent_off: 50, duration: 'once' }] }); // 100.00
    const repeating = mk('repeating');
    s.addSubscription({ customer: repeating.id, items: [{ unit_amount: 10_000 }], discounts: [{ percent_off: 50, duration: 'repeating', duration_in_months: 6 }] }); // 50.00
    const itemLevel = mk('itemlevel');
    // Item 1: 100.00 less 20% forever = 80.00; item 2: 50.00 with a once coupon = 50.00; then 10.00 off for 3 months: 120.00.
    s.addSubscription({
      customer: itemLevel.id,
      items: [
        { unit_amount: 10_000, discounts: [{ percent_off: 20, duration: 'forever' }] },
        { unit_amount: 5_000, discounts: [{ amount_off: 2_000, duration: 'once' }] },
      ],
      discounts: [{ amount_off: 1_000, duration: 'repeating' }],
    });
    const decimal = mk('decimal');
    s.addSubscription({ customer: decimal.id, items: [{ unit_amount: null, unit_amount_decimal: '1234.5678', quantity: 2 }] }); // 2 x 12.345678 = 24.691356 -> 24.6914
    const result = await run();
    expect(result.code).toBe(0);
    expect(companyOf(attio, once.id)?.stripe_mrr).toBe(100);
    expect(companyOf(attio, repeating.id)?.stripe_mrr).toBe(50);
    expect(companyOf(attio, itemLevel.id)?.stripe_mrr).toBe(120);
    expect(companyOf(attio, decimal.id)?.stripe_mrr).toBe(24.6914);
    expect(result.out).not.toContain('could not be applied');
  });

  it('picks the most advanced status across subscriptions', async () => {
    const { stripe, attio, run } = await open();
    const s = stripe.store;
    const cases: Array<[Array<'active' | 'past_due' | 'unpaid' | 'trialing' | 'paused' | 'canceled'>, string]> = [
      [['canceled', 'trialing'], 'Trialing'],
      [['canceled', 'paused'], 'Paused'],
      [['unpaid', 'trialing'], 'Trialing'],
      [['unpaid', 'canceled'], 'Unpaid'],
      [['canceled'], 'Canceled'],
      [['trialing', 'active', 'past_due'], 'Active'],
    ];
    const ids = cases.map(([statuses], i) => {
      const c = s.addCustomer({ name: `S${i}`, email: `a@s${i}.example`, created: T0 });
      for (const status of statuses) s.addSubscription({ customer: c.id, status, items: [{ unit_amount: 1_000 }] });
      return c.id;
    });
    const noSubs = s.addCustomer({ name: 'Payer', email: 'a@payer.example', created: T0 });
    s.addCharge({ customer: noSubs.id, amount: 100, currency: 'usd', created: T0 });
    await run();
    cases.forEach(([, title], i) => expect(companyOf(attio, ids[i]!)?.stripe_subscription_status).toBe(title));
    expect(companyOf(attio, noSubs.id)?.stripe_subscription_status).toBe('None');
  });
});

describe('companies: create, link, conflict, and what humans wrote', () => {
  it('creates with name and domain, links by domain, and reports a domain already linked elsewhere', async () => {
    const { stripe, attio, run } = await open();
    const s = stripe.store;
    const existing = attio.addCompany({ name: 'Globex (CRM)', domains: ['globex.example', 'globex.co.uk'] });
    const owner = s.addCustomer({ id: 'cus_someoneelse', name: 'Owner', email: 'a@owner.example', created: T0 });
    attio.addCompany({ name: 'Taken', domains: ['taken.example'], stripe_customer_id: owner.id });
    const pay = (id: string) => s.addCharge({ customer: id, amount: 1_000, currency: 'usd', created: T0 });
    const fresh = s.addCustomer({ name: 'Fresh Co', email: 'Billing@FRESH.example', created: T0 });
    const globex = s.addCustomer({ name: 'Globex Corp', email: 'ap@globex.co.uk', created: T0 });
    const taken = s.addCustomer({ name: 'Taken Too', email: 'a@taken.example', created: T0 });
    const gmail = s.addCustomer({ name: null, email: 'someone@gmail.com', created: T0 });
    const lead = s.addCustomer({ name: 'No payments', email: 'a@lead.example', created: T0 });
    [fresh, globex, taken, gmail].forEach((c) => pay(c.id));

    const result = await run();
    expect(result.code).toBe(0);
    expect(result.out).toContain('created=2 linked=1 updated=1 unchanged=0 conflicts=1 failed=0'); // Taken's owner gets its zeros
    expect(companyOf(attio, fresh.id)).toMatchObject({ name: 'Fresh Co', domains: ['fresh.example'] });
    expect(companyOf(attio, gmail.id)).toMatchObject({ name: gmail.id, domains: [] });
    const linked = attio.companies().find((c) => c.record_id === existing)!;
    expect(linked.values).toMatchObject({ stripe_customer_id: globex.id, name: 'Globex (CRM)', domains: ['globex.example', 'globex.co.uk'] });
    expect(companyOf(attio, taken.id)).toBeUndefined();
    expect(result.out).toMatch(new RegExp(`CONFLICT ${taken.id}: domain taken.example is record .*, already linked to cus_someoneelse`));
    expect(companyOf(attio, lead.id)).toBeUndefined();
    expect(attio.companies()).toHaveLength(4); // the two that were there, plus Fresh Co and the gmail customer
  });

  it.each(WORKSPACES)('links instead of failing when a create meets a uniqueness_conflict (%s workspace)', async (workspace) => {
    // The domain look-up misses (as if the company were created a moment later); the create then
    // hits Attio's uniqueness check on domains, and the sync links the company it names.
    let hidden = false;
    const { stripe, attio, run } = await open({
      workspace,
      attio: {
        intercept: (req: RequestInfo) => {
          const filter = (req.body as { filter?: { domains?: unknown } } | undefined)?.filter;
          if (!hidden && req.path.endsWith('/records/query') && filter?.domains) {
            hidden = true;
            return { status: 200, body: { data: [] } };
          }
          return undefined;
        },
      },
    });
    const company = attio.addCompany({ name: 'Racy', domains: ['racy.example'] });
    const c = stripe.store.addCustomer({ name: 'Racy Inc', email: 'a@racy.example', created: T0 });
    stripe.store.addCharge({ customer: c.id, amount: 100, currency: 'usd', created: T0 });
    const result = await run();
    expect(result.code).toBe(0);
    expect(result.out).toContain('linked=1');
    expect(attio.requests.some((r) => isCreate(r) && r.method === (workspace === 'docs' ? 'POST' : 'PUT') && r.status === 400)).toBe(true);
    expect(attio.companies().find((x) => x.record_id === company)?.values.stripe_customer_id).toBe(c.id);
    expect(attio.companies()).toHaveLength(1);
  });

  it('never overwrites a name or domains a human edited, and a second run writes nothing', async () => {
    const { stripe, attio, run } = await open();
    const c = stripe.store.addCustomer({ name: 'Initial Name', email: 'a@human.example', created: T0 });
    stripe.store.addCharge({ customer: c.id, amount: 1_000, currency: 'usd', created: T0 });
    await run();
    const record = attio.companies().find((x) => x.values.stripe_customer_id === c.id)!;
    attio.setCompanyValues(record.record_id, { name: 'Edited By Sales', domains: ['human.example', 'human-group.example'] });

    attio.resetStats();
    const unchanged = await run();
    expect(unchanged.out).toContain('created=0 linked=0 updated=0 unchanged=1');
    expect(attio.stats().writes).toBe(0);
    // The run's own request count agrees with what the server saw.
    expect(unchanged.out).toMatch(new RegExp(`requests: \\d+ Stripe requests, ${attio.stats().reads} Attio reads, 0 Attio writes, 0 retried`));

    stripe.store.addCharge({ customer: c.id, amount: 2_000, currency: 'usd', created: T0 + DAY });
    const changed = await run();
    expect(changed.out).toContain('updated=1');
    expect(companyOf(attio, c.id)).toMatchObject({ name: 'Edited By Sales', domains: ['human.example', 'human-group.example'], stripe_lifetime_revenue: 30 });
    for (const write of writesOf(attio)) {
      const values = (write.body as { data: { values: Record<string, unknown> } }).data.values;
      expect(Object.keys(values).every((slug) => slug.startsWith('stripe_'))).toBe(true);
    }
  });

  it('gives a shared domain to the older customer and reports the newer one', async () => {
    const { stripe, attio, run } = await open();
    const older = stripe.store.addCustomer({ name: 'Twin A', email: 'a@twins.example', created: T0 });
    const newer = stripe.store.addCustomer({ name: 'Twin B', email: 'b@twins.example', created: T0 + DAY });
    for (const c of [older, newer]) stripe.store.addCharge({ customer: c.id, amount: 100, currency: 'usd', created: T0 + 2 * DAY });
    const result = await run();
    expect(companyOf(attio, older.id)).toMatchObject({ domains: ['twins.example'] });
    expect(companyOf(attio, newer.id)).toBeUndefined();
    expect(result.out).toContain(`CONFLICT ${newer.id}: "twins.example" is also claimed by ${older.id}, which gets the company`);
    // It names the hint that resolves it.
    expect(result.out).toContain(`which gets the company; to place ${newer.id} elsewhere, set attio_record_id or attio_domain in its Stripe metadata`);
    expect(result.code).toBe(0);
  });
});

describe('dry run and --only', () => {
  it('dry run reads and plans but writes nothing', async () => {
    const { stripe, attio, run } = await open();
    attio.addCompany({ name: 'Linkable', domains: ['linkable.example'] });
    for (const [name, email] of [['New', 'a@new.example'], ['Linkable', 'a@linkable.example']] as const) {
      const c = stripe.store.addCustomer({ name, email, created: T0 });
      stripe.store.addCharge({ customer: c.id, amount: 1_234, currency: 'usd', created: T0 });
    }
    const before = JSON.stringify(attio.companies());
    const result = await run(['--dry-run']);
    expect(result.code).toBe(0);
    expect(attio.stats().writes).toBe(0);
    expect(JSON.stringify(attio.companies())).toBe(before);
    expect(result.out).toContain('DRY RUN: no writes');
    expect(result.out).toMatch(/created cus_\w+ as a new record \(name "New", domains "new\.example"\)/);
    expect(result.out).toMatch(/linked cus_\w+ \(record [0-9a-f-]+ \(domain linkable\.example\)\)/);
    expect(result.out).toContain('stripe_lifetime_revenue: null -> 12.34');
    expect(result.out).toContain('DRY RUN (nothing written): created=1 linked=1');
  });

  it('DRY_RUN=1 in the environment is a dry run too', async () => {
    const { stripe, attio, run, env } = await open();
    const c = stripe.store.addCustomer({ name: 'X', email: 'a@x.example', created: T0 });
    stripe.store.addCharge({ customer: c.id, amount: 100, currency: 'usd', created: T0 });
    const result = await run([], { env: { ...env, DRY_RUN: '1' } });
    expect(result.out).toContain('DRY RUN');
    expect(attio.stats().writes).toBe(0);
  });

  it('--only syncs one customer and reads only its data', async () => {
    const { stripe, attio, run } = await open();
    const ids = ['one', 'two', 'three'].map((name) => {
      const c = stripe.store.addCustomer({ name, email: `a@${name}.example`, created: T0 });
      stripe.store.addCharge({ customer: c.id, amount: 500, currency: 'usd', created: T0 });
      return c.id;
    });
    const result = await run(['--only', ids[1]!]);
    expect(result.code).toBe(0);
    expect(attio.companies().map((c) => c.values.stripe_customer_id)).toEqual([ids[1]]);
    expect(stripe.requests.some((r) => r.path === '/v1/customers')).toBe(false);
    expect(stripe.requests.filter((r) => r.path === '/v1/charges').every((r) => r.query.includes(`customer=${ids[1]}`))).toBe(true);
    const missing = await run(['--only', 'cus_doesnotexist']);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/cus_doesnotexist/);
  });
});

describe('preflight and setup', () => {
  it('reads Stripe while a slow preflight runs: reading needs nothing from Attio', async () => {
    const chargeArrivals: number[] = [];
    const preflightAnswers: number[] = [];
    let slowPreflight = false; // not for --setup in open()
    const { stripe, attio, run } = await open({
      stripe: {
        latencyMs: (req) => {
          if (req.path === '/v1/charges') chargeArrivals.push(performance.now());
          return 0;
        },
      },
      attio: {
        // Preflight reads the attributes (and so the currency); here each such read takes 1 s.
        latencyMs: (req) => {
          if (!slowPreflight || req.method !== 'GET' || !req.path.includes('/attributes')) return 0;
          preflightAnswers.push(performance.now() + 1000);
          return 1000;
        },
      },
    });
    slowPreflight = true;
    const s = stripe.store;
    const customers = Array.from({ length: 20 }, (_, i) => s.addCustomer({ email: `a@c${i}.example`, created: T0 + i }));
    for (let i = 0; i < 6000; i++) s.addCharge({ customer: customers[i % 20]!.id, amount: 100 + i, currency: 'usd', created: T0 + 100 + i * 300 });
    const result = await run();
    expect(result.code, result.err).toBe(0);
    const expected = Array.from({ length: 6000 }, (_, i) => i).filter((i) => i % 20 === 7).reduce((sum, i) => sum + 100 + i, 0) / 100;
    expect(companyOf(attio, customers[7]!.id)?.stripe_lifetime_revenue).toBe(expected);
    // The listing ran on while preflight waited: far more pages than a listing held back for
    // preflight could have (the last version held at most 16 + 8).
    const preflightDone = Math.max(...preflightAnswers);
    expect(chargeArrivals.filter((t) => t < preflightDone).length).toBeGreaterThan(24);
  });

  it('names every missing attribute with the fix, exits 2, and writes nothing', async () => {
    const { stripe, attio, run } = await open({ setup: false });
    stripe.store.addCharge({ customer: stripe.store.addCustomer({ email: 'a@b.example' }).id, amount: 100, currency: 'usd' });
    const result = await run();
    expect(result.code).toBe(2);
    for (const slug of ['stripe_customer_id', 'stripe_lifetime_revenue', 'stripe_mrr', 'stripe_subscription_status', 'stripe_customer_since'])
      expect(result.err).toContain(`"${slug}"`);
    expect(result.err).toContain('run with --setup');
    expect(attio.stats().writes).toBe(0);
  });

  it('--setup creates what is missing and is safe to run twice', async () => {
    const { attio, stripe, run } = await open({ setup: false });
    attio.addAttribute({ api_slug: 'stripe_subscription_status', type: 'select', options: ['Active', 'None'] });
    const first = await run(['--setup']);
    expect(first.code).toBe(0);
    expect(first.out).toContain('added option(s) "Past due", "Trialing", "Paused", "Unpaid", "Canceled" to "stripe_subscription_status"');
    const attributes = attio.attributes();
    // Attio refuses a unique custom attribute on companies, so the key is a plain text attribute.
    expect(attributes.find((a) => a.api_slug === 'stripe_customer_id')).toMatchObject({ type: 'text', is_unique: false });
    expect(attributes.find((a) => a.api_slug === 'stripe_mrr')).toMatchObject({ type: 'currency', config: { currency: { default_currency_code: 'USD' } } });
    attio.resetStats();
    const second = await run(['--setup']);
    expect(second.code).toBe(0);
    expect(second.out).toContain('nothing to do');
    expect(attio.stats().writes).toBe(0);
    expect(attio.attributes()).toHaveLength(attributes.length);
    expect(stripe.stats().total).toBe(0); // setup never reads Stripe
  });

  it.each([
    ['the wrong type', (a: Bed['attio']) => a.addAttribute({ api_slug: 'stripe_mrr', type: 'number' }), /"stripe_mrr" is of type number, the sync needs currency/],
    ['an archived attribute', (a: Bed['attio']) => a.addAttribute({ api_slug: 'stripe_customer_since', type: 'date', is_archived: true }), /"stripe_customer_since" is archived/],
    [
      'two currencies',
      (a: Bed['attio']) => {
        a.addAttribute({ api_slug: 'stripe_lifetime_revenue', type: 'currency', currency: 'USD' });
        a.addAttribute({ api_slug: 'stripe_mrr', type: 'currency', currency: 'EUR' });
      },
      /"stripe_mrr" is in EUR but the other revenue attributes are in USD/,
    ],
  ])('catches %s before any write', async (_name, arrange, message) => {
    const { attio, run } = await open({ setup: false });
    arrange(attio);
    await run(['--setup']);
    const result = await run();
    expect(result.code).toBe(2);
    expect(result.err).toMatch(message);
  });

  it('catches a select that lost an option', async () => {
    const { attio, run } = await open();
    attio.removeOption('stripe_subscription_status', 'Paused');
    const result = await run();
    expect(result.code).toBe(2);
    expect(result.err).toContain('"stripe_subscription_status" lacks the option(s) "Paused": run with --setup');
  });

  it('refuses to write a customer id two records carry, and says which', async () => {
    const { stripe, attio, run } = await open();
    const c = stripe.store.addCustomer({ name: 'Dup', email: 'a@dup.example', created: T0 });
    stripe.store.addCharge({ customer: c.id, amount: 100, currency: 'usd', created: T0 });
    const r1 = attio.addCompany({ name: 'Dup 1', stripe_customer_id: c.id });
    const r2 = attio.addCompany({ name: 'Dup 2', stripe_customer_id: c.id });
    const summaryFile = join(mkdtempSync(join(tmpdir(), 'sync-')), 'summary.md');
    for (const attempt of [1, 2]) {
      const result = await run([], { env: { ...bed!.env, GITHUB_STEP_SUMMARY: summaryFile } });
      expect(result.code, `run ${attempt}`).toBe(0);
      expect(result.out).toContain(`CONFLICT ${c.id}: records ${r1}, ${r2} all hold ${c.id}: none is written until you merge them in Attio (or clear the id on all but one)`);
    }
    expect(readFileSync(summaryFile, 'utf8')).toContain(`| ${c.id} | conflict | records ${r1}, ${r2} all hold ${c.id}: none is written until you merge them`);
    expect(attio.stats().writes).toBe(0);
  });
});

describe('retries', () => {
  const attioFault = (fault: FaultKind, times = 1) => queuedFaults([{ fault, times, match: isCreate }]);

  it.each<[FaultKind, number | null]>([
    ['rate_limit_seconds', 1000],
    ['rate_limit_date', null],
    ['server_500', 1000],
    ['server_502', 1000],
    ['server_503', 1000],
    ['spurious_401', 1000],
    ['drop', 1000],
    ['slow', 1000],
    ['truncated', 1000],
  ])('Attio %s on a create is retried and the record is written once', async (fault, expectedDelay) => {
    const { stripe, attio, run } = await open();
    const c = stripe.store.addCustomer({ name: 'R', email: 'a@retry.example', created: T0 });
    stripe.store.addCharge({ customer: c.id, amount: 100, currency: 'usd', created: T0 });
    attio.setFaults(attioFault(fault));
    const result = await run();
    expect(result.code).toBe(0);
    // The injected fault is the first retry (on a loaded machine a slow answer elsewhere may add more).
    expect(result.sleeps.length).toBeGreaterThanOrEqual(1);
    if (expectedDelay !== null) expect(result.sleeps[0]).toBe(expectedDelay);
    // An HTTP date (the fake's: the second after next): waited to the end of its second, at least 1 s.
    else expect(result.sleeps[0]).toBeGreaterThanOrEqual(1000), expect(result.sleeps[0]).toBeLessThanOrEqual(3000);
    expect(attio.companies().filter((x) => x.values.stripe_customer_id === c.id)).toHaveLength(1);
    expect(result.out).toMatch(/\d+ requests were retried/);
    // Without a unique key, a create that may have landed is looked up before it is sent again.
    // A 429 was not processed (Attio's rate-limit guide); a cut 200 had landed; the rest had not.
    if (fault.startsWith('rate_limit')) expect(result.out).not.toContain('creates lost their answer');
    else if (fault === 'truncated') expect(result.out).toContain('1 creates lost their answer: 1 had landed (found by stripe_customer_id, not sent again), 0 had not');
    else expect(result.out).toContain('1 creates lost their answer: 0 had landed (found by stripe_customer_id, not sent again), 1 had not (sent again)');
  });

  // Not a 401: Stripe documents it as "No valid API key provided" (a rejected key, below).
  it.each<FaultKind>(['rate_limit_seconds', 'server_500', 'drop', 'slow', 'truncated'])('Stripe %s is retried', async (fault) => {
    const { stripe, attio, run } = await open();
    const c = stripe.store.addCustomer({ name: 'R', email: 'a@retry.example', created: T0 });
    stripe.store.addCharge({ customer: c.id, amount: 700, currency: 'usd', created: T0 });
    // Three drops: the SDK itself retries one reset connection even with maxNetworkRetries 0, so
    // only a second drop in a row reaches the retry helper; its retry meets the third.
    stripe.setFaults(queuedFaults([{ fault, times: fault === 'drop' ? 3 : 1, match: (r) => r.path === '/v1/charges' }]));
    const result = await run();
    expect(result.code).toBe(0);
    expect(result.sleeps.length).toBeGreaterThanOrEqual(1);
    expect(companyOf(attio, c.id)?.stripe_lifetime_revenue).toBe(7);
  });

  it('backs off exponentially and gives up after the retries, naming the record', async () => {
    const { stripe, attio, run } = await open();
    const c = stripe.store.addCustomer({ name: 'R', email: 'a@retry.example', created: T0 });
    stripe.store.addCharge({ customer: c.id, amount: 100, currency: 'usd', created: T0 });
    attio.setFaults(attioFault('server_503', 100));
    const result = await run();
    expect(result.code).toBe(1);
    expect(result.sleeps).toEqual([1000, 2000, 4000, 8000, 16000]);
    expect(result.err).toMatch(new RegExp(`FAILED ${c.id}: Attio 503`));
  });

  it.each([
    [400, 'validation_type', 'Bad value'],
    [403, 'forbidden', 'Token lacks scope record_permission:read-write'],
    [404, 'not_found', 'Object not found'],
    [409, 'conflict', 'Conflict'],
  ])('Attio %s fails at once with its code and message', async (status, code, message) => {
    const { stripe, attio, run } = await open({
      attio: { intercept: (r) => (isRecordWrite(r) ? { status, body: { status_code: status, type: 'invalid_request_error', code, message } } : undefined) },
    });
    const c = stripe.store.addCustomer({ name: 'R', email: 'a@nope.example', created: T0 });
    stripe.store.addCharge({ customer: c.id, amount: 100, currency: 'usd', created: T0 });
    const result = await run();
    expect(result.code).toBe(1);
    expect(result.sleeps).toEqual([]);
    expect(attio.requests.filter(isRecordWrite)).toHaveLength(1);
    expect(result.err).toContain(`FAILED ${c.id}: `);
    expect(result.err).toContain(`Attio ${status} ${code}: ${message}`);
    if (status === 403) expect(result.err).toContain('The key in ATTIO_API_KEY lacks a permission');
  });

  it('a failing record does not stop the others, shows in the summary, and exits 1', async () => {
    let badId = '';
    const { stripe, attio, run } = await open({
      attio: { intercept: refuseWritesOf(() => badId, 'Name too odd') },
    });
    const ids = Array.from({ length: 6 }, (_, i) => {
      const c = stripe.store.addCustomer({ name: `C${i}`, email: `a@c${i}.example`, created: T0 + i });
      stripe.store.addCharge({ customer: c.id, amount: 100, currency: 'usd', created: T0 + i });
      return c.id;
    });
    badId = ids[2]!;
    const summaryFile = join(mkdtempSync(join(tmpdir(), 'sync-')), 'summary.md');
    const result = await run([], { env: { ...bed!.env, GITHUB_STEP_SUMMARY: summaryFile } });
    expect(result.code).toBe(1);
    expect(result.out).toContain('created=5 linked=0 updated=0 unchanged=0 conflicts=0 failed=1');
    expect(result.err).toContain(`FAILED ${badId}: Attio 400 validation_type: Name too odd`);
    expect(attio.companies()).toHaveLength(5);
    const summary = readFileSync(summaryFile, 'utf8');
    expect(summary).toContain('| 5 | 0 | 0 | 0 | 0 | 1 |');
    expect(summary).toContain(`| ${badId} | failed | Attio 400 validation_type: Name too odd |`);
  });

  it('a restricted key without a permission stops the run with the fix, exit 2', async () => {
    // Stripe's answer to a restricted key that lacks a permission, for every request.
    const denied = createServer((_req, res) => {
      res.writeHead(403, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { type: 'invalid_request_error', message: 'The provided key does not have the required permissions for this endpoint.' } }));
    });
    await new Promise<void>((resolve) => denied.listen(0, '127.0.0.1', resolve));
    try {
      const { run, env, attio } = await open();
      const result = await run([], { env: { ...env, STRIPE_API_URL: `http://127.0.0.1:${(denied.address() as AddressInfo).port}` } });
      expect(result.code).toBe(2);
      // The answer names no permission: the sync names what each request needed, all at once.
      expect(result.err).toContain('The key in STRIPE_API_KEY lacks a permission');
      expect(result.err).toMatch(/Customers \(customer_read\), Charges \(charge_read\), Subscriptions \(subscription_read\), Disputes \(dispute_read\), Products \(product_read\), Prices \(plan_read\)/);
      expect(result.sleeps).toEqual([]);
      expect(attio.stats().writes).toBe(0);
    } finally {
      denied.closeAllConnections();
      denied.close();
    }
  });

  it('a key that stays rejected stops with a message naming it and writes nothing', async () => {
    const { attio, stripe, run, env } = await open();
    stripe.store.addCharge({ customer: stripe.store.addCustomer({ email: 'a@key.example' }).id, amount: 100, currency: 'usd' });
    const result = await run([], { env: { ...env, ATTIO_API_KEY: 'attio_wrong_key_000' } });
    expect(result.code).toBe(2);
    // Attio answers 401 on valid keys under load (the field guide), so its 401 is retried first.
    expect(result.err).toContain('Attio rejected the key in ATTIO_API_KEY (401 after 5 retries)');
    expect(result.sleeps).toEqual([1000, 2000, 4000, 8000, 16000]);
    expect(attio.stats().writes).toBe(0);

    stripe.resetStats();
    const stripeRejected = await run([], { env: { ...env, STRIPE_API_KEY: 'sk_test_wrongWRONGwrong1234' } });
    expect(stripeRejected.code).toBe(2);
    // Stripe's 401 is "No valid API key provided": never retried, so the run ends within seconds
    // (exit 2 after at most one request per listing and no backoff at all, instead of 31 s of retries).
    expect(stripeRejected.err).toContain('Stripe rejected the key in STRIPE_API_KEY (401): check that it is current');
    expect(stripeRejected.sleeps).toEqual([]);
    const rejected = stripe.requests.filter((r) => r.status === 401);
    expect(rejected.length).toBeGreaterThanOrEqual(1);
    expect(rejected.length).toBeLessThanOrEqual(5); // the first round: the four listings and the products check
    expect(stripe.requests.filter((r) => r.status !== 401)).toEqual([]);
    expect(stripeRejected.err + stripeRejected.out).not.toMatch(/1234|WRONG/);
    expect(attio.stats().writes).toBe(0);
  });
});

describe('the CLI as a user runs it', () => {
  it('--help prints usage and exits 0', async () => {
    const result = await runCli(['--help'], {});
    expect(result.code).toBe(0);
    expect(result.out).toContain('Usage: npx tsx sync.ts');
  });

  it('missing configuration exits 2 before any request and names the variables', async () => {
    const result = await runCli([], { STRIPE_API_KEY: '' });
    expect(result.code).toBe(2);
    expect(result.err).toContain('STRIPE_API_KEY is not set');
    expect(result.err).toContain('ATTIO_API_KEY is not set');
  });

  it('an unknown flag exits 2 with usage', async () => {
    const result = await runCli(['--bogus'], { STRIPE_API_KEY: STRIPE_KEY, ATTIO_API_KEY: ATTIO_KEY });
    expect(result.code).toBe(2);
    expect(result.err).toContain("Unknown option '--bogus'");
  });

  it('a job summary that cannot be written after a good run is a warning: exit 0, what was written stays, no key leaks', async () => {
    const summaryFile = join(mkdtempSync(join(tmpdir(), 'sync-')), 'summary.md');
    let swapped = false;
    // Fine when the run starts (checked then); a folder by the time the summary is written.
    const intercept = (req: RequestInfo) => {
      if (!swapped && isRecordWrite(req)) {
        swapped = true;
        mkdirSync(summaryFile);
      }
      return undefined;
    };
    const { stripe, attio, env } = await open({ attio: { intercept } });
    const c = stripe.store.addCustomer({ name: 'Odd Co', email: 'a@odd.example', created: T0 });
    stripe.store.addCharge({ customer: c.id, amount: 10_00, currency: 'usd', created: T0 });
    const result = await runCli([], { ...env, GITHUB_STEP_SUMMARY: summaryFile });
    expect(swapped).toBe(true);
    expect(result.code).toBe(0);
    expect(result.err).toContain(`warning: the job summary could not be written to ${summaryFile} (it is a folder, not a file); the run itself is unaffected.`);
    expect(result.err).not.toContain('Unexpected error');
    expect(result.out).toContain('created=1 linked=0 updated=0 unchanged=0 conflicts=0 failed=0');
    expect(companyOf(attio, c.id)?.stripe_lifetime_revenue).toBe(10);
    expect(leakedFragments(result.out + result.err)).toEqual([]);
  });

  it('runs end to end, writes the step summary, and leaks no key', async () => {
    const { stripe, attio, env } = await open();
    const c = stripe.store.addCustomer({ name: 'Cli Co', email: 'a@cli.example', created: T0 });
    stripe.store.addCharge({ customer: c.id, amount: 99_00, currency: 'usd', created: T0 });
    const summaryFile = join(mkdtempSync(join(tmpdir(), 'sync-')), 'summary.md');
    const result = await runCli([], { ...env, GITHUB_STEP_SUMMARY: summaryFile });
    expect(result.code).toBe(0);
    expect(result.out).toContain('created=1 linked=0 updated=0 unchanged=0 conflicts=0 failed=0');
    expect(companyOf(attio, c.id)?.stripe_lifetime_revenue).toBe(99);
    const summary = readFileSync(summaryFile, 'utf8');
    expect(summary).toContain('| 1 | 0 | 0 | 0 | 0 | 0 |');
    for (const text of [result.out, result.err, summary]) {
      expect(text).not.toContain(STRIPE_KEY);
      expect(text).not.toContain(ATTIO_KEY);
      expect(leakedFragments(text)).toEqual([]);
    }
  });
});
