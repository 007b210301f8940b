// Permissions as a contract: the README's list of Stripe permissions is exactly what the sync needs.
// A restricted key with that list (and nothing else) runs a full sync against the fake Stripe, which
// refuses every endpoint and expansion the key lacks (test/fake-stripe.ts, "Restricted keys"); with
// any one permission removed, the run stops in its first round of requests, exit 2, naming it, and
// writes nothing.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { STRIPE_PERMISSIONS } from '../sync.ts';
import { bedsOfThisFile } from './beds.ts';
import { companyOf, leakedFragments, type Bed } from './harness.ts';

const open = bedsOfThisFile();
const RESTRICTED_KEY = 'rk_live_51Zq8Xk3Wv9Tn2Lp7Qm4Bh6J';
const T0 = 1_750_000_000;

/** The permission names in the README's Permissions table (second column). */
function readmePermissions(): string[] {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('## Permissions'), readme.indexOf('## GitHub Actions'));
  return [...section.matchAll(/^\s*\| [A-Za-z ]+ \| `([a-z_]+)` \|/gm)].map((m) => m[1]!);
}

/** An account that makes the sync use every permission: a discount, a conversion, a dispute, tiers, Stripe Tax. */
async function accountBed(permissions: readonly string[]): Promise<Bed & { customerId: string }> {
  const bed = await open({ stripe: { apiKey: RESTRICTED_KEY, permissions } });
  const s = bed.stripe.store;
  const c = s.addCustomer({ name: 'Perm', email: 'billing@perm.example', created: T0, discount: { percent_off: 10, duration: 'forever' } });
  const charge = s.addCharge({ customer: c.id, amount: 10_000, currency: 'eur', created: T0 + 1, settlement: { currency: 'usd', amount: 11_000 } });
  s.addDispute({ charge: charge.id, status: 'lost', amount: 1_000, created: T0 + 2, settlement: { amount: 1_100 } });
  s.addSubscription({ customer: c.id, created: T0, items: [{ unit_amount: null, tiers: [{ up_to: null, unit_amount: 1_000 }], quantity: 2, product_name: 'Seats' }] });
  s.addSubscription({
    customer: c.id,
    created: T0 + 3,
    automatic_tax: true,
    latest_invoice: { subtotal: 12_000, subtotal_excluding_tax: 10_000 },
    items: [{ unit_amount: 12_000, tax_behavior: 'inclusive', product_name: 'Pro' }],
    discounts: [{ percent_off: 50, duration: 'once' }],
  });
  return Object.assign(bed, { customerId: c.id });
}

const runWithKey = (bed: Bed) => bed.run([], { env: { ...bed.env, STRIPE_API_KEY: RESTRICTED_KEY } });

describe('Stripe permissions', () => {
  it('the README lists exactly the permissions the sync uses', () => {
    expect(readmePermissions().sort()).toEqual(Object.keys(STRIPE_PERMISSIONS).sort());
  });

  it('a restricted key with exactly the README\'s permissions runs a full sync', async () => {
    const bed = await accountBed(readmePermissions());
    const result = await runWithKey(bed);
    expect(result.code).toBe(0);
    expect(result.err).not.toMatch(/403|permission/);
    // Revenue: 110.00 USD settled, less the 11.00 USD the lost dispute withdrew = 99.00.
    // MRR: tiers 2 x 10.00 = 20.00 with the customer's 10% (it has no discounts of its own) = 18.00;
    // Stripe Tax: 120.00 of which the latest invoice says 20.00 is tax = 100.00; its own once coupon
    // does not count by default, and it does not inherit the customer's: 18.00 + 100.00 = 118.00.
    expect(companyOf(bed.attio, bed.customerId)).toMatchObject({ stripe_lifetime_revenue: 99, stripe_mrr: 118, stripe_plan: 'Pro, Seats ×2' });
    expect(bed.stripe.requests.filter((r) => r.status === 403)).toEqual([]);
    expect(leakedFragments(result.out + result.err, [RESTRICTED_KEY])).toEqual([]);
  });

  const required = Object.entries(STRIPE_PERMISSIONS).flatMap(([p, v]) => ('optional' in v ? [] : [p]));
  it.each(required)('without %s, stops in its first round of requests, exit 2, naming it, writing nothing', async (missing) => {
    const bed = await accountBed(readmePermissions().filter((p) => p !== missing));
    const result = await runWithKey(bed);
    expect(result.code).toBe(2);
    const dashboard = STRIPE_PERMISSIONS[missing as keyof typeof STRIPE_PERMISSIONS].dashboard;
    expect(result.err).toContain(`Read is missing on ${dashboard} (${missing})`);
    expect(result.sleeps).toEqual([]); // nothing retried
    // The permission check is the first round: the first page of each of the four listings and one
    // request for products and prices (and, only when products is refused, one for prices alone).
    expect(bed.stripe.requests.length).toBeLessThanOrEqual(6);
    expect(bed.attio.stats().writes).toBe(0);
    expect(leakedFragments(result.out + result.err, [RESTRICTED_KEY])).toEqual([]);
  });

  it('without the optional Invoices, completes: the Stripe Tax subscription keeps its tax, and a note says what to grant', async () => {
    const bed = await accountBed(readmePermissions().filter((p) => p !== 'invoice_read'));
    const result = await runWithKey(bed);
    expect(result.code).toBe(0);
    // 18.00 + 120.00 with its tax (the latest invoice could not be read).
    expect(companyOf(bed.attio, bed.customerId)).toMatchObject({ stripe_mrr: 138 });
    expect(result.out).toContain('the key may not read invoices: their MRR includes the tax (grant Read on Invoices, invoice_read, to leave it out)');
  });

  it('a full run needs no Events; an incremental run with the README\'s list does, and without Events stops naming it', async () => {
    const bed = await accountBed(readmePermissions().filter((p) => p !== 'event_read'));
    expect((await runWithKey(bed)).code).toBe(0);
    const incremental = await bed.run(['--changes-since', '2h'], { env: { ...bed.env, STRIPE_API_KEY: RESTRICTED_KEY } });
    expect(incremental.code).toBe(2);
    expect(incremental.err).toContain('Read is missing on Events (event_read)');
    expect(bed.stripe.requests.filter((r) => r.path === '/v1/events')).toHaveLength(4); // one per event type, at once
    const permitted = await accountBed(readmePermissions());
    expect((await permitted.run(['--changes-since', '2h'], { env: { ...permitted.env, STRIPE_API_KEY: RESTRICTED_KEY } })).code).toBe(0);
  });

  it('names every missing permission at once', async () => {
    const bed = await accountBed(readmePermissions().filter((p) => !['product_read', 'plan_read', 'balance_read'].includes(p)));
    const result = await runWithKey(bed);
    expect(result.code).toBe(2);
    expect(result.err).toContain('Read is missing on Balance (balance_read), Products (product_read), Prices (plan_read)');
  });
});
