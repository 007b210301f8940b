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
});
