// The incremental run (issue 22), end to end through the fakes' event log: Stripe's events name the
// customers that changed, the sync reads those again whole and writes them, and the state it leaves
// is the one a full run leaves (a full run after it writes nothing). Also what an hourly window
// misses (and the full run repairs), the 29-day limit, and the Events permission.
import { describe, expect, it } from 'vitest';
import { bedsOfThisFile } from './beds.ts';
import { startFakeStripe } from './fake-stripe.ts';
import { companyOf, STRIPE_KEY, writesOf, type Bed } from './harness.ts';

const open = bedsOfThisFile();

const DAY = 86_400;
const NOW = Math.floor(Date.now() / 1000);
const T0 = NOW - 60 * DAY; // the account's history: its events are past Stripe's 30 days
const AGO = NOW - 3600; // the changes: an hour ago

/** An account with every kind of object the changes touch, synced once in full. */
async function syncedAccount(bed: Bed) {
  const s = bed.stripe.store;
  s.setNow(NOW);
  const mk = (name: string, i: number) => s.addCustomer({ name, email: `billing@${name.toLowerCase()}.example`, created: T0 + i });
  const refunded = mk('Refunded', 1);
  const oldCharge = s.addCharge({ customer: refunded.id, amount: 10_000, currency: 'usd', created: T0 + DAY });
  const disputed = mk('Disputed', 2);
  const disputedCharge = s.addCharge({ customer: disputed.id, amount: 8_000, currency: 'usd', created: T0 + DAY });
  const upgraded = mk('Upgraded', 3);
  const upgrade = s.addSubscription({ customer: upgraded.id, created: T0 + DAY, items: [{ unit_amount: 1_000, quantity: 2, product_name: 'Seats' }] });
  const canceled = mk('Canceled', 4);
  const cancel = s.addSubscription({ customer: canceled.id, created: T0 + DAY, items: [{ unit_amount: 5_000 }] });
  const discounted = mk('Discounted', 5);
  s.addSubscription({ customer: discounted.id, created: T0 + DAY, items: [{ unit_amount: 4_000 }] });
  const renamed = mk('Renamed', 6);
  const onPlan = s.addSubscription({ customer: renamed.id, created: T0 + DAY, items: [{ unit_amount: 3_000, product_name: 'Basic' }] });
  const alsoOnPlan = mk('Also', 7);
  s.addSubscription({ customer: alsoOnPlan.id, created: T0 + DAY, items: [{ unit_amount: 3_000, price_id: onPlan.items.data[0]!.price.id }] });
  const deleted = mk('Deleted', 8);
  s.addCharge({ customer: deleted.id, amount: 2_000, currency: 'usd', created: T0 + DAY });
  const untouched = mk('Untouched', 9);
  s.addCharge({ customer: untouched.id, amount: 700, currency: 'usd', created: T0 + DAY });
  const full = await bed.run();
  expect(full.code, full.err).toBe(0);
  return { s, refunded, oldCharge, disputed, disputedCharge, upgraded, upgrade, canceled, cancel, discounted, renamed, onPlan, alsoOnPlan, deleted, untouched };
}

describe('an incremental run', () => {
  it('reads again only what the events name, and leaves the state a full run leaves', async () => {
    const bed = await open();
    const a = await syncedAccount(bed);
    const { s } = a;
    const at = { at: AGO };
    // A change of every kind, an hour ago.
    const fresh = s.addCustomer({ name: 'Fresh', email: 'billing@fresh.example', created: AGO });
    s.addCharge({ customer: fresh.id, amount: 4_200, currency: 'usd', created: AGO });
    s.refundCharge(a.oldCharge.id, 2_500, at);
    const dispute = s.addDispute({ charge: a.disputedCharge.id, status: 'needs_response', created: AGO });
    s.closeDispute(dispute.id, 'lost', at);
    s.changeQuantity(a.upgrade.id, a.upgrade.items.data[0]!.id, 5, at);
    s.cancelSubscription(a.cancel.id, at);
    s.attachCustomerDiscount(a.discounted.id, { percent_off: 25, duration: 'forever' }, at);
    s.renameProduct(a.onPlan.items.data[0]!.price.product as string, 'Basic (2026)', at);
    s.deleteCustomer(a.deleted.id, at);

    bed.stripe.resetStats();
    bed.attio.requests.length = 0;
    const incremental = await bed.run(['--changes-since', '3h']);
    expect(incremental.code, incremental.err).toBe(0);
    expect(incremental.out).toContain(
      'note: an incremental run (--changes-since 3h): 9 customers named by ' /* the 8 changed, the one sharing the renamed product's price */,
    );
    expect(incremental.out).toContain('the totals, needs attention and the currency check are on full runs');
    expect(incremental.out).not.toContain('Stripe totals:');
    expect(incremental.out).not.toContain('Needs attention:');
    expect(incremental.out).toMatch(/^created=1 linked=0 updated=7 unchanged=0 conflicts=0 failed=0$/m);
    // Only the changed customers were read: no listing of all customers, none of Untouched's charges.
    const stripePaths = bed.stripe.requests.map((r) => `${r.path}?${r.query}`);
    expect(stripePaths.filter((p) => p.startsWith('/v1/customers?'))).toEqual([]);
    expect(stripePaths.some((p) => p.includes(`customer=${a.untouched.id}`))).toBe(false);
    // Only their companies were loaded: by their keys, never the full load of every key starting cus_ (one page of 10 for the account check).
    const queries = bed.attio.requests.filter((r) => r.path === '/v2/objects/companies/records/query').map((r) => r.body as { filter: unknown; limit: number });
    expect(queries.some((q) => JSON.stringify(q.filter).includes('"$or":['))).toBe(true);
    expect(queries.filter((q) => JSON.stringify(q.filter).includes('"$contains":"cus_"')).map((q) => q.limit)).toEqual([10]);
    expect(companyOf(bed.attio, a.refunded.id)).toMatchObject({ stripe_lifetime_revenue: 75 });
    expect(companyOf(bed.attio, a.disputed.id)).toMatchObject({ stripe_lifetime_revenue: 0 });
    expect(companyOf(bed.attio, a.upgraded.id)).toMatchObject({ stripe_mrr: 50, stripe_plan: 'Seats ×5' });
    expect(companyOf(bed.attio, a.canceled.id)).toMatchObject({ stripe_mrr: 0, stripe_subscription_status: 'Canceled', stripe_churned_on: new Date(AGO * 1000).toISOString().slice(0, 10) });
    expect(companyOf(bed.attio, a.discounted.id)).toMatchObject({ stripe_mrr: 30 });
    expect(companyOf(bed.attio, a.renamed.id)).toMatchObject({ stripe_plan: 'Basic (2026)' });
    expect(companyOf(bed.attio, a.alsoOnPlan.id)).toMatchObject({ stripe_plan: 'Basic (2026)' });
    expect(companyOf(bed.attio, fresh.id)).toMatchObject({ stripe_lifetime_revenue: 42 });
    expect(companyOf(bed.attio, a.deleted.id)).toMatchObject({ stripe_lifetime_revenue: 20 }); // as a full run: a deleted customer's company is left

    // The same state as a full run: a full run now writes nothing, to companies or people.
    bed.attio.requests.length = 0;
    const full = await bed.run();
    expect(full.code).toBe(0);
    expect(writesOf(bed.attio)).toEqual([]);
    expect(full.out).toMatch(/^created=0 linked=0 updated=0 unchanged=9 conflicts=0 failed=0$/m); // the deleted customer's company is left, as the incremental run left it
  });

  it('misses what happened before its window, and the next full run writes it', async () => {
    const bed = await open();
    const a = await syncedAccount(bed);
    a.s.refundCharge(a.oldCharge.id, 1_000, { at: NOW - 5 * 3600 });
    const hourly = await bed.run(['--changes-since', '3h']);
    expect(hourly.code).toBe(0);
    expect(hourly.err).toContain('Read no changed Stripe customer (0 events)');
    expect(hourly.out).toMatch(/^created=0 linked=0 updated=0 unchanged=0/m);
    expect(companyOf(bed.attio, a.refunded.id)).toMatchObject({ stripe_lifetime_revenue: 100 });
    const daily = await bed.run();
    expect(daily.out).toMatch(/^created=0 linked=0 updated=1 unchanged=8/m);
    expect(companyOf(bed.attio, a.refunded.id)).toMatchObject({ stripe_lifetime_revenue: 90 });
  });

  it("stops before any write when the key reads another account than the companies' (three of them looked up)", async () => {
    const bed = await open();
    await syncedAccount(bed);
    const other = await startFakeStripe({ apiKey: STRIPE_KEY });
    try {
      other.store.setNow(NOW);
      const stranger = other.store.addCustomer({ id: 'cus_Stranger1', name: 'Stranger', email: 'a@stranger.example', created: AGO });
      other.store.addCharge({ customer: stranger.id, amount: 100, currency: 'usd', created: AGO });
      bed.attio.resetStats();
      const result = await bed.run(['--changes-since', '3h'], { env: { ...bed.env, STRIPE_API_URL: other.url } });
      expect(result.code).toBe(2);
      expect(result.err).toContain('Attio companies looked up');
      expect(result.err).toContain('is in the Stripe account that STRIPE_API_KEY reads (test mode), not even as a deleted customer');
      expect(bed.attio.stats().writes).toBe(0);
      expect(other.requests.filter((r) => /^\/v1\/customers\/cus_/.test(r.path)).map((r) => r.status)).toEqual([200, 404, 404, 404]); // the stranger, then three of the companies'
      const anyway = await bed.run(['--changes-since', '3h', '--allow-account-mismatch'], { env: { ...bed.env, STRIPE_API_URL: other.url } });
      expect(anyway.code).toBe(0);
      expect(anyway.out).toMatch(/^created=1 /m);
    } finally {
      await other.close();
    }
  });

  it('refuses a window over 29 days before any request, with the reason', async () => {
    const bed = await open();
    const result = await bed.run(['--changes-since', '30d']);
    expect(result.code).toBe(2);
    expect(result.err).toContain('--changes-since 30d is more than 29 days: Stripe keeps events for 30 days only');
    expect(bed.stripe.stats().total + bed.attio.stats().total).toBe(0);
  });
});
