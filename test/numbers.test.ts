// Numbers a finance person can hold against Stripe's dashboard, end to end: one account with every
// rule (coupon durations, decimal and tiered prices, an uncaptured authorisation, lost and open
// disputes, a converted charge, another currency) through the real sync and the local fakes. The
// oracle below is worked out by hand, line by line, from Stripe's definitions (README, "How the
// numbers are computed"); the test checks every company's values and the run's totals line.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { companyOf, startBed, type Bed } from './harness.ts';

let bed: Bed | null = null;
afterEach(async () => {
  await bed?.close();
  bed = null;
});

const T0 = 1_750_000_000; // 2025-06-15
const DAY = 86_400;
const date = (unix: number) => new Date(unix * 1000).toISOString().slice(0, 10);

describe('the numbers of a whole account', () => {
  it('match the oracle worked out by hand, company by company and in total', async () => {
    bed = await startBed();
    const s = bed.stripe.store;
    const mk = (name: string) => s.addCustomer({ name, email: `billing@${name.toLowerCase()}.example`, created: T0 });

    // Alpha: 100.00 paid; a 50.00 authorisation never captured (no money moved, no payment date).
    // A 200.00 monthly plan with a 25% coupon for one month: MRR stays 200.00 (only forever coupons count).
    const alpha = mk('Alpha');
    s.addCharge({ customer: alpha.id, amount: 10_000, currency: 'usd', created: T0 + DAY });
    s.addCharge({ customer: alpha.id, amount: 5_000, currency: 'usd', created: T0 + 5 * DAY, captured: false });
    s.addSubscription({ customer: alpha.id, created: T0, items: [{ unit_amount: 20_000 }], discounts: [{ percent_off: 25, duration: 'once' }] });

    // Beta: 300.00 paid and lost in a dispute, 80.00 paid: revenue 80.00.
    // 1,200.00 a year with 10% off forever: 1,080 / 12 = 90.00 a month.
    const beta = mk('Beta');
    const disputed = s.addCharge({ customer: beta.id, amount: 30_000, currency: 'usd', created: T0 + DAY });
    s.addDispute({ charge: disputed.id, status: 'lost', created: T0 + 10 * DAY });
    s.addCharge({ customer: beta.id, amount: 8_000, currency: 'usd', created: T0 + 2 * DAY });
    s.addSubscription({ customer: beta.id, created: T0, items: [{ unit_amount: 120_000, interval: 'year' }], discounts: [{ percent_off: 10, duration: 'forever' }] });

    // Gamma: 100.00 EUR settled as 110.00 USD; half of it (50.00 EUR) lost in a dispute, which
    // Stripe withdrew as 56.00 USD: revenue 110 - 56 = 54.00.
    // Volume tiers (up to 5 at 20.00, then 15.00), 8 seats: all 8 at 15.00 = 120.00 a month.
    const gamma = mk('Gamma');
    const euro = s.addCharge({ customer: gamma.id, amount: 10_000, currency: 'eur', created: T0 + DAY, settlement: { currency: 'usd', amount: 11_000 } });
    s.addDispute({ charge: euro.id, amount: 5_000, status: 'lost', created: T0 + 3 * DAY, settlement: { amount: 5_600 } });
    s.addSubscription({
      customer: gamma.id,
      created: T0,
      items: [{ unit_amount: null, tiers_mode: 'volume', tiers: [{ up_to: 5, unit_amount: 2_000 }, { up_to: null, unit_amount: 1_500 }], quantity: 8 }],
    });

    // Delta: 40.00 paid, disputed and still open: it counts until the dispute is lost.
    // A decimal price of 9.996 (999.6 minor units) x 3 = 29.988, plus graduated tiers (10 at
    // 1.00, then 0.50) for 12 units = 11.00: 40.988 a month.
    const delta = mk('Delta');
    const open = s.addCharge({ customer: delta.id, amount: 4_000, currency: 'usd', created: T0 + DAY });
    s.addDispute({ charge: open.id, status: 'needs_response', created: T0 + 2 * DAY });
    s.addSubscription({
      customer: delta.id,
      created: T0,
      items: [
        { unit_amount: null, unit_amount_decimal: '999.6', quantity: 3 },
        { unit_amount: null, tiers: [{ up_to: 10, unit_amount: 100 }, { up_to: null, unit_amount: 50 }], quantity: 12 },
      ],
    });

    // Epsilon: trialing, so no MRR. Zeta: 100.00 EUR a month, another currency: left out of MRR.
    const epsilon = mk('Epsilon');
    s.addSubscription({ customer: epsilon.id, status: 'trialing', created: T0, items: [{ unit_amount: 50_000 }] });
    const zeta = mk('Zeta');
    s.addSubscription({ customer: zeta.id, currency: 'eur', created: T0, items: [{ unit_amount: 10_000, currency: 'eur' }] });

    const oracle = {
      [alpha.id]: { revenue: 100, mrr: 200, status: 'Active', first: date(T0 + DAY), last: date(T0 + DAY) },
      [beta.id]: { revenue: 80, mrr: 90, status: 'Active', first: date(T0 + DAY), last: date(T0 + 2 * DAY) },
      [gamma.id]: { revenue: 54, mrr: 120, status: 'Active', first: date(T0 + DAY), last: date(T0 + DAY) },
      [delta.id]: { revenue: 40, mrr: 40.988, status: 'Active', first: date(T0 + DAY), last: date(T0 + DAY) },
      [epsilon.id]: { revenue: 0, mrr: 0, status: 'Trialing', first: null, last: null },
      [zeta.id]: { revenue: 0, mrr: 0, status: 'Active', first: null, last: null },
    };
    // Totals: MRR 200 + 90 + 120 + 40.988 = 450.988; revenue 100 + 80 + 54 + 40 = 274.00;
    // active subscriptions: Alpha, Beta, Gamma, Delta and Zeta (trialing does not count) = 5.
    const totals =
      'Stripe totals: MRR 450.99 USD, 5 active subscriptions, lifetime revenue 274.00 USD; left out, in other currencies: MRR 100.00 EUR';

    const summaryFile = join(mkdtempSync(join(tmpdir(), 'sync-')), 'summary.md');
    const result = await bed.run([], { env: { ...bed.env, GITHUB_STEP_SUMMARY: summaryFile } });
    expect(result.code).toBe(0);
    for (const [id, want] of Object.entries(oracle)) {
      expect(companyOf(bed.attio, id), id).toMatchObject({
        stripe_lifetime_revenue: want.revenue,
        stripe_mrr: want.mrr,
        stripe_subscription_status: want.status,
        stripe_first_payment_date: want.first,
        stripe_last_payment_date: want.last,
      });
    }
    expect(result.out).toContain(`\n${totals}\n`);
    expect(readFileSync(summaryFile, 'utf8')).toContain(totals);
    expect(result.out).toContain('2 lost disputes were subtracted from lifetime revenue');
    expect(result.out).toContain('1 disputes are still open');
    // Each tiered price read once, with its tiers.
    expect(bed.stripe.requests.filter((r) => r.path.startsWith('/v1/prices/')).every((r) => r.query.includes('expand'))).toBe(true);
    expect(bed.stripe.requests.filter((r) => r.path.startsWith('/v1/prices/'))).toHaveLength(2);
  });

  it('hold for the price shapes of real accounts: multi-currency, packages, tax, trials, paused collection, mixed intervals, customer discounts', async () => {
    bed = await startBed();
    const s = bed.stripe.store;
    const mk = (name: string, more: Parameters<typeof s.addCustomer>[0] = {}) => s.addCustomer({ name, email: `billing@${name.toLowerCase()}.example`, created: T0, ...more });
    const now = Math.floor(Date.now() / 1000);

    // Eta: a USD subscription of 2 on a price whose default is EUR 10.00 and whose USD option is
    // 11.00: billed in the option, 2 x 11.00 = 22.00 (never 20.00 of the default).
    const eta = mk('Eta');
    s.addSubscription({ customer: eta.id, created: T0, items: [{ unit_amount: 1_000, currency: 'eur', currency_options: { usd: { unit_amount: 1_100 } }, quantity: 2 }] });
    // Theta: package pricing, 10.00 per 5 seats rounded up; 12 seats bill 3 packages = 30.00.
    const theta = mk('Theta');
    s.addSubscription({ customer: theta.id, created: T0, items: [{ unit_amount: 1_000, transform_quantity: { divide_by: 5, round: 'up' }, quantity: 12 }] });
    // Iota: 119.00 with the subscription's 19% inclusive VAT = 100.00; an item with its own
    // exclusive 7% rate (so the default does not apply) = 50.00: 150.00.
    const iota = mk('Iota');
    s.addSubscription({
      customer: iota.id,
      created: T0,
      default_tax_rates: [{ percentage: 19, inclusive: true }],
      items: [{ unit_amount: 11_900 }, { unit_amount: 5_000, tax_rates: [{ percentage: 7, inclusive: false }] }],
    });
    // Kappa: Stripe Tax, a tax-inclusive 120.00 whose latest invoice holds 20.00 of tax
    // (subtotal 120.00, subtotal_excluding_tax 100.00): 100.00.
    const kappa = mk('Kappa');
    s.addSubscription({ customer: kappa.id, created: T0, automatic_tax: true, latest_invoice: { subtotal: 12_000, subtotal_excluding_tax: 10_000 }, items: [{ unit_amount: 12_000, tax_behavior: 'inclusive' }] });
    // Lambda: two 40.00 items, one in a trial of its own for another month: 40.00.
    const lambda = mk('Lambda');
    s.addSubscription({ customer: lambda.id, created: T0, items: [{ unit_amount: 4_000 }, { unit_amount: 4_000, current_trial: { start_date: now - 86_400, end_date: now + 30 * 86_400 } }] });
    // Mu: collection paused to void (60.00) counts 0; paused to keep as draft (25.00) counts: 25.00.
    const mu = mk('Mu');
    s.addSubscription({ customer: mu.id, created: T0, pause_collection: { behavior: 'void' }, items: [{ unit_amount: 6_000 }] });
    s.addSubscription({ customer: mu.id, created: T0, pause_collection: { behavior: 'keep_as_draft' }, items: [{ unit_amount: 2_500 }] });
    // Nu: flexible billing with mixed intervals, 100.00 a month and 1,200.00 a year (100.00 a
    // month), 30.00 off each monthly invoice for 3 months (repeating: recurring, counted): 170.00.
    const nu = mk('Nu');
    s.addSubscription({ customer: nu.id, created: T0, items: [{ unit_amount: 10_000 }, { unit_amount: 120_000, interval: 'year' }], discounts: [{ amount_off: 3_000, duration: 'repeating' }] });
    // Xi: the customer's own 20% forever applies to its subscription without discounts (50.00 ->
    // 40.00), not to the one with its own 10% (50.00 -> 45.00): 85.00.
    const xi = mk('Xi', { discount: { percent_off: 20, duration: 'forever' } });
    s.addSubscription({ customer: xi.id, created: T0, items: [{ unit_amount: 5_000 }] });
    s.addSubscription({ customer: xi.id, created: T0 + 1, items: [{ unit_amount: 5_000 }], discounts: [{ percent_off: 10, duration: 'repeating' }] });
    // Omicron: unpaid (churn in Stripe's analytics): MRR 0, its own status. Its items (a tiered
    // price and more than a page) are never read: it cannot count.
    const omicron = mk('Omicron');
    s.addSubscription({
      customer: omicron.id,
      status: 'unpaid',
      created: T0,
      items: [{ unit_amount: null, tiers: [{ up_to: null, unit_amount: 9_900 }] }, ...Array.from({ length: 12 }, () => ({ unit_amount: 100 }))],
    });

    const oracle: Record<string, { mrr: number; status: string }> = {
      [eta.id]: { mrr: 22, status: 'Active' },
      [theta.id]: { mrr: 30, status: 'Active' },
      [iota.id]: { mrr: 150, status: 'Active' },
      [kappa.id]: { mrr: 100, status: 'Active' },
      [lambda.id]: { mrr: 40, status: 'Active' },
      [mu.id]: { mrr: 25, status: 'Active' },
      [nu.id]: { mrr: 170, status: 'Active' },
      [xi.id]: { mrr: 85, status: 'Active' },
      [omicron.id]: { mrr: 0, status: 'Unpaid' },
    };
    // Totals: 22 + 30 + 150 + 100 + 40 + 25 + 170 + 85 = 622.00; active subscriptions: one each
    // for Eta to Lambda and Nu (6), two each for Mu and Xi (4; paused collection keeps the status
    // active) = 10; Omicron's unpaid one does not count. No charges: revenue 0.00.
    const totals = 'Stripe totals: MRR 622.00 USD, 10 active subscriptions, lifetime revenue 0.00 USD';

    const result = await bed.run();
    expect(result.code).toBe(0);
    for (const [id, want] of Object.entries(oracle)) {
      expect(companyOf(bed.attio, id), id).toMatchObject({ stripe_mrr: want.mrr, stripe_subscription_status: want.status });
    }
    expect(result.out).toContain(`\n${totals}\n`);
    // What was read for what: Eta's price once, with its currency options; Kappa's latest invoice;
    // nothing for Omicron (no items beyond the first page, no tiers).
    const priceReads = bed.stripe.requests.filter((r) => r.path.startsWith('/v1/prices/'));
    expect(priceReads.map((r) => decodeURIComponent(r.query))).toEqual(['expand[0]=currency_options']);
    expect(bed.stripe.requests.filter((r) => r.path.startsWith('/v1/invoices/'))).toHaveLength(1);
    expect(bed.stripe.requests.filter((r) => r.path === '/v1/subscription_items')).toHaveLength(0);
    expect(result.out).not.toContain('could not be priced');
  });

  it('follow the account\'s discount switches (STRIPE_MRR_DISCOUNTS)', async () => {
    bed = await startBed();
    const s = bed.stripe.store;
    // 100.00 a month with 50% off once, and 100.00 with 20% off forever.
    const once = s.addCustomer({ name: 'Once', email: 'billing@once.example', created: T0 });
    s.addSubscription({ customer: once.id, created: T0, items: [{ unit_amount: 10_000 }], discounts: [{ percent_off: 50, duration: 'once' }] });
    const forever = s.addCustomer({ name: 'Forever', email: 'billing@forever.example', created: T0 });
    s.addSubscription({ customer: forever.id, created: T0, items: [{ unit_amount: 10_000 }], discounts: [{ percent_off: 20, duration: 'forever' }] });
    const mrrs = async (switches: string) => {
      expect((await bed!.run([], { env: { ...bed!.env, STRIPE_MRR_DISCOUNTS: switches } })).code).toBe(0);
      return [companyOf(bed!.attio, once.id)?.stripe_mrr, companyOf(bed!.attio, forever.id)?.stripe_mrr];
    };
    expect(await mrrs('')).toEqual([100, 80]); // the default: recurring only
    expect(await mrrs('one-time')).toEqual([50, 100]);
    expect(await mrrs('recurring,one-time')).toEqual([50, 80]);
    expect(await mrrs('none')).toEqual([100, 100]);
    const bad = await bed.run([], { env: { ...bed.env, STRIPE_MRR_DISCOUNTS: 'forever' } });
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('STRIPE_MRR_DISCOUNTS takes recurring, one-time');
  });
});
