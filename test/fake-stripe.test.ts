// Self-check for test/fake-stripe.ts: drives the fake with the REAL stripe SDK and asserts that each
// feature behaves as the real API does. Run: npx vitest run test/fake-stripe.test.ts
import assert from 'node:assert/strict';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, it, onTestFailed } from 'vitest';
import { API_VERSION, CHARGE_DECLINES, DEFAULT_API_KEY, RECORDED_EVENT_TYPES, startFakeStripe, StripeStore } from './fake-stripe.ts';
import type { ChargeDecline, FakeStripe, SubscriptionInput, SubscriptionItemInput } from './fake-stripe.ts';
import { ALL_FAULTS, LANDED_FAULTS, queuedFaults, sleep } from './faults.ts';
import type { FaultKind } from './faults.ts';

function client(fake: FakeStripe, opts: { key?: string; timeout?: number } = {}): Stripe {
  return new Stripe(opts.key ?? DEFAULT_API_KEY, {
    host: '127.0.0.1',
    port: fake.port,
    protocol: 'http',
    maxNetworkRetries: 0,
    telemetry: false,
    timeout: opts.timeout ?? 5000,
  });
}

/** The error a promise rejects with (fails when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<InstanceType<typeof Stripe.errors.StripeError>> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof Stripe.errors.StripeError, `expected a StripeError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the request to fail');
}

/** Waits for the start of a fresh wall-clock second, so a burst lands in one RateWindow second. */
async function startOfSecond(): Promise<void> {
  await sleep(1000 - (Date.now() % 1000) + 5);
}

let fake!: FakeStripe;
let stripe!: Stripe;
let store!: FakeStripe['store'];

// The data set, built in beforeAll on the shared fake's store.
let customers!: Stripe.Customer[];
let tiedA!: Stripe.Customer;
let tiedB!: Stripe.Customer;
let gone!: Stripe.Customer;
let c0!: Stripe.Customer;
let c1!: Stripe.Customer;
let usdCharge!: Stripe.Charge;
let eurCharge!: Stripe.Charge;
let jpyCharge!: Stripe.Charge;
let pending!: Stripe.Charge;
let failed!: Stripe.Charge;
let refunded!: Stripe.Charge;
let goneCharge!: Stripe.Charge;
let active!: Stripe.Subscription;
let canceled!: Stripe.Subscription;
let expired!: Stripe.Subscription;
let trialing!: Stripe.Subscription;
let big!: Stripe.Subscription;
let goneSub!: Stripe.Subscription;

beforeAll(async () => {
  fake = await startFakeStripe();
  stripe = client(fake);
  store = fake.store;
  customers = Array.from({ length: 25 }, (_, i) =>
    store.addCustomer({ email: `c${i}@example.com`, name: `Customer ${i}`, metadata: { n: String(i) } }),
  );
  tiedA = store.addCustomer({ created: 1_800_000_000, email: 'tie-a@example.com' });
  tiedB = store.addCustomer({ created: 1_800_000_000, email: 'tie-b@example.com' });
  gone = store.addCustomer({ email: 'gone@example.com' });
  c0 = customers[0]!;
  c1 = customers[1]!;

  usdCharge = store.addCharge({ customer: c0.id, amount: 5000, currency: 'usd' });
  eurCharge = store.addCharge({ customer: c0.id, amount: 10000, currency: 'EUR', settlement: { currency: 'usd', amount: 10850 } });
  jpyCharge = store.addCharge({ customer: c1.id, amount: 1000, currency: 'jpy', settlement: { currency: 'usd', amount: 670 } });
  pending = store.addCharge({ customer: c1.id, amount: 700, currency: 'usd', status: 'pending' });
  failed = store.addCharge({ customer: null, amount: 900, currency: 'usd', status: 'failed' });
  refunded = store.addCharge({ customer: c1.id, amount: 2000, currency: 'usd' });
  store.refundCharge(refunded.id, 500);
  store.refundCharge(refunded.id, 1500);
  goneCharge = store.addCharge({ customer: gone.id, amount: 300, currency: 'usd' });

  active = store.addSubscription({
    customer: c0.id,
    items: [{ unit_amount: 1500, quantity: 2 }, { unit_amount: null }, { unit_amount: 10, usage_type: 'metered' }],
    discounts: [{ percent_off: 20 }, { amount_off: 500, duration: 'repeating' }],
  });
  canceled = store.addSubscription({ customer: c0.id, status: 'canceled', items: [{ unit_amount: 900 }] });
  expired = store.addSubscription({ customer: c1.id, status: 'incomplete_expired', items: [{ unit_amount: 900 }] });
  trialing = store.addSubscription({ customer: c1.id, status: 'trialing', items: [{ unit_amount: 900, interval: 'year' }] });
  big = store.addSubscription({
    customer: c1.id,
    items: Array.from({ length: 25 }, (_, i) => ({ unit_amount: 100 + i })),
  });
  goneSub = store.addSubscription({ customer: gone.id, items: [{ unit_amount: 100 }] });
  store.deleteCustomer(gone.id);
});

afterAll(async () => {
  await fake?.close();
});

it('customers: auto-pagination across pages, newest first, starting_after cursors', async () => {
  fake.resetStats();
  const all = await stripe.customers.list({ limit: 10 }).autoPagingToArray({ limit: 1000 });
  // 27 live customers (the deleted one is not listed); ties on `created`: newest inserted first.
  assert.equal(all.length, 27);
  assert.deepEqual(all.slice(0, 2).map((c) => c.id), [tiedB.id, tiedA.id]);
  assert.deepEqual(all.slice(2).map((c) => c.id), customers.map((c) => c.id).reverse());
  const pages = fake.requests.filter((r) => r.path === '/v1/customers');
  assert.equal(pages.length, 3);
  assert.equal(pages[0]!.query, 'limit=10');
  assert.equal(pages[1]!.query, `limit=10&starting_after=${all[9]!.id}`);
  assert.equal(pages[2]!.query, `limit=10&starting_after=${all[19]!.id}`);
  assert.ok(pages.every((p) => p.status === 200));
  const last = await stripe.customers.list({ limit: 10, starting_after: all[19]!.id });
  assert.equal(last.has_more, false);
  assert.equal(last.data.length, 7);
  assert.equal(last.url, '/v1/customers');
});

it('customers: created[gte]/[lt] window (gte inclusive, lt exclusive), with a cursor inside it; object shape', async () => {
  const lo = customers[5]!.created;
  const hi = customers[10]!.created;
  const some = await stripe.customers.list({ created: { gte: lo, lt: hi }, limit: 100 });
  assert.deepEqual(some.data.map((c) => c.id), customers.slice(5, 10).map((c) => c.id).reverse());
  const paged = await stripe.customers.list({ created: { gte: lo, lt: hi }, limit: 2, starting_after: customers[8]!.id });
  assert.deepEqual([paged.data.map((c) => c.id), paged.has_more], [[customers[7]!.id, customers[6]!.id], true]);
  const one = await stripe.customers.list({ created: { gte: customers[3]!.created, lt: customers[3]!.created + 1 } });
  assert.deepEqual(one.data.map((c) => c.id), [customers[3]!.id]);
  const c = one.data[0]!;
  assert.equal(c.object, 'customer');
  assert.equal(c.name, 'Customer 3');
  assert.equal(c.description, null);
  assert.deepEqual(c.metadata, { n: '3' });
  assert.equal(c.created, 1_700_000_000 + 4 * 60, 'deterministic timestamps: BASE + n*60');
});

it('customers/:id: customer, deleted stub, 404 resource_missing; deletion cancels subscriptions', async () => {
  const one = await stripe.customers.retrieve(c0.id);
  assert.equal(one.id, c0.id);
  assert.equal(one.deleted, undefined);
  const stub = await stripe.customers.retrieve(gone.id);
  assert.deepEqual({ ...stub }, { id: gone.id, object: 'customer', deleted: true });
  const err = await rejection(stripe.customers.retrieve('cus_nope'));
  assert.ok(err instanceof Stripe.errors.StripeInvalidRequestError);
  assert.equal(err.statusCode, 404);
  assert.equal(err.code, 'resource_missing');
  assert.equal(err.message, "No such customer: 'cus_nope'");
  assert.equal(goneSub.status, 'canceled');
  const list = await stripe.customers.list({ limit: 100 });
  assert.ok(!list.data.some((c) => c.id === gone.id), 'a deleted customer is not listed');
});

it('charges: balance_transaction id by default, full object with expand[]=data.balance_transaction', async () => {
  const plain = await stripe.charges.list({ limit: 100 });
  assert.equal(plain.data.length, 7);
  assert.deepEqual(plain.data.map((c) => c.id), [goneCharge, refunded, failed, pending, jpyCharge, eurCharge, usdCharge].map((c) => c.id));
  const eur = plain.data.find((c) => c.id === eurCharge.id)!;
  assert.equal(typeof eur.balance_transaction, 'string');
  assert.match(eur.balance_transaction as string, /^txn_/);
  assert.equal(eur.currency, 'eur');

  const expanded = await stripe.charges.list({ limit: 100, expand: ['data.balance_transaction'] });
  const byId = new Map(expanded.data.map((c) => [c.id, c]));
  const bt = (id: string) => byId.get(id)!.balance_transaction as Stripe.BalanceTransaction | null;
  assert.deepEqual(
    [bt(eurCharge.id)!.amount, bt(eurCharge.id)!.currency, bt(eurCharge.id)!.exchange_rate, bt(eurCharge.id)!.fee, bt(eurCharge.id)!.net],
    [10850, 'usd', 1.085, 0, 10850],
  );
  assert.equal(bt(jpyCharge.id)!.exchange_rate, 0.0067, 'exchange rate in major units (JPY is zero-decimal)');
  assert.equal(bt(usdCharge.id)!.exchange_rate, null);
  assert.equal(bt(usdCharge.id)!.amount, 5000);
  assert.equal(bt(usdCharge.id)!.object, 'balance_transaction');
  assert.equal(bt(pending.id), null);
  assert.equal(bt(failed.id), null);
  const r = byId.get(refunded.id)!;
  assert.deepEqual([r.amount_refunded, r.refunded], [2000, true]);
  assert.equal(byId.get(failed.id)!.status, 'failed');
  assert.equal(byId.get(failed.id)!.customer, null);
});

it('charges: customer filter (a deleted customer’s charges too), created window, both with the expansion', async () => {
  const mine = await stripe.charges.list({ customer: c0.id });
  assert.deepEqual(mine.data.map((c) => c.id), [eurCharge.id, usdCharge.id]);
  const recent = await stripe.charges.list({ created: { gte: pending.created + 1, lt: goneCharge.created } });
  assert.deepEqual(recent.data.map((c) => c.id), [refunded.id, failed.id]);
  const goneOnes = await stripe.charges.list({ customer: gone.id, created: { gte: 0, lt: goneCharge.created + 1 }, limit: 100, expand: ['data.balance_transaction'] });
  assert.deepEqual(goneOnes.data.map((c) => [c.id, c.customer, (c.balance_transaction as Stripe.BalanceTransaction).amount]), [[goneCharge.id, gone.id, 300]]);
});

it('subscriptions: default hides canceled + incomplete_expired; status=all / canceled / ended / trialing', async () => {
  const ids = async (params: Stripe.SubscriptionListParams) =>
    (await stripe.subscriptions.list({ limit: 100, ...params })).data.map((s) => s.id).sort();
  const sorted = (...subs: Stripe.Subscription[]) => subs.map((s) => s.id).sort();
  assert.deepEqual(await ids({}), sorted(active, trialing, big));
  assert.deepEqual(await ids({ status: 'all' }), sorted(active, canceled, expired, trialing, big, goneSub));
  assert.deepEqual(await ids({ status: 'canceled' }), sorted(canceled, goneSub));
  assert.deepEqual(await ids({ status: 'ended' }), sorted(canceled, expired, goneSub));
  assert.deepEqual(await ids({ status: 'trialing' }), sorted(trialing));
  assert.deepEqual(await ids({ customer: c0.id, status: 'all' }), sorted(active, canceled));
  assert.deepEqual(await ids({ created: { gte: 0, lt: active.created + 1 }, status: 'all' }), sorted(active));
  assert.deepEqual(await ids({ created: { gte: active.created, lt: canceled.created }, status: 'all' }), sorted(active));
});

it('subscriptions: discounts as ids; expand data.discounts.source.coupon expands the discounts and their coupons', async () => {
  const plain = (await stripe.subscriptions.list({ customer: c0.id })).data[0]!;
  assert.equal(plain.discounts.length, 2);
  assert.ok(plain.discounts.every((d) => typeof d === 'string' && d.startsWith('di_')));

  const two = (await stripe.subscriptions.list({ customer: c0.id, expand: ['data.discounts.source.coupon'] })).data[0]!;
  const discount = two.discounts[0] as Stripe.Discount;
  assert.deepEqual([discount.object, discount.source.type, discount.subscription], ['discount', 'coupon', two.id]);
  assert.equal(typeof two.customer, 'string', 'the customer stays an id');
  const coupons = two.discounts.map((d) => (d as Stripe.Discount).source.coupon as Stripe.Coupon);
  assert.deepEqual(
    coupons.map((c) => [c.object, c.percent_off, c.amount_off, c.currency, c.duration, c.valid]),
    [
      ['coupon', 20, null, null, 'forever', true],
      ['coupon', null, 500, 'usd', 'repeating', true],
    ],
  );
});

it('subscriptions: embedded items (price, quantity, periods, metered, tiered, Decimal)', async () => {
  const sub = (await stripe.subscriptions.list({ customer: c0.id })).data[0]!;
  assert.equal(sub.items.object, 'list');
  assert.equal(sub.items.has_more, false);
  assert.equal(sub.items.url, `/v1/subscription_items?subscription=${sub.id}`);
  const [licensed, tiered, metered] = sub.items.data;
  assert.equal(licensed!.quantity, 2);
  assert.equal(licensed!.price.unit_amount, 1500);
  assert.equal(String(licensed!.price.unit_amount_decimal), '1500', 'the SDK turns the decimal string into a Decimal');
  assert.deepEqual(
    [licensed!.price.recurring!.interval, licensed!.price.recurring!.interval_count, licensed!.price.recurring!.usage_type],
    ['month', 1, 'licensed'],
  );
  assert.equal(licensed!.price.billing_scheme, 'per_unit');
  assert.equal(licensed!.current_period_start, sub.created);
  assert.ok(licensed!.current_period_end > licensed!.current_period_start);
  assert.equal(tiered!.price.unit_amount, null);
  assert.equal(tiered!.price.billing_scheme, 'tiered');
  assert.equal(metered!.price.recurring!.usage_type, 'metered');
  assert.equal(metered!.quantity, undefined);
});

it('subscription_items: 25 items, 10 embedded (has_more, total_count), paging continues the embedded list', async () => {
  const sub = (await stripe.subscriptions.list({ customer: c1.id, status: 'active' })).data[0]!;
  assert.equal(sub.id, big.id);
  assert.equal(sub.items.data.length, 10);
  assert.equal(sub.items.has_more, true);
  assert.equal((sub.items as unknown as { total_count: number }).total_count, 25);
  const all = await stripe.subscriptionItems.list({ subscription: big.id, limit: 10 }).autoPagingToArray({ limit: 100 });
  assert.deepEqual(all.map((i) => i.id), store.itemsOf(big.id).map((i) => i.id));
  assert.deepEqual(all.slice(0, 10).map((i) => i.id), sub.items.data.map((i) => i.id));
  const rest = await stripe.subscriptionItems
    .list({ subscription: big.id, limit: 100, starting_after: sub.items.data[9]!.id })
    .autoPagingToArray({ limit: 100 });
  assert.equal(rest.length, 15);
  assert.deepEqual(rest.map((i) => i.price.unit_amount), Array.from({ length: 15 }, (_, i) => 110 + i));
  const missing = await rejection(stripe.subscriptionItems.list({} as Stripe.SubscriptionItemListParams));
  assert.equal(missing.statusCode, 400);
  assert.equal(missing.code, 'parameter_missing');
});

it('strictness: unknown parameter, bad expand, limit bounds, unknown cursor, bad status, empty string', async () => {
  const unknown = await rejection(stripe.customers.list({ foo: 'bar' } as Stripe.CustomerListParams));
  assert.ok(unknown instanceof Stripe.errors.StripeInvalidRequestError);
  assert.deepEqual([unknown.statusCode, unknown.code, unknown.param, unknown.message], [400, 'parameter_unknown', 'foo', 'Received unknown parameter: foo']);
  const nested = await rejection(stripe.charges.list({ created: { gte: 1, foo: 2 } as Stripe.RangeQueryParam }));
  assert.equal(nested.message, 'Received unknown parameter: created[foo]');
  const wrongEndpoint = await rejection(stripe.customers.list({ customer: 'x' } as Stripe.CustomerListParams));
  assert.equal(wrongEndpoint.param, 'customer');

  const expand = await rejection(stripe.charges.list({ expand: ['balance_transaction'] }));
  assert.deepEqual([expand.statusCode, expand.message], [400, 'This property cannot be expanded (balance_transaction).']);
  const deep = await rejection(stripe.subscriptions.list({ expand: ['data.items.data.price'] }));
  assert.equal(deep.message, 'This property cannot be expanded (items).');

  const tooBig = await rejection(stripe.customers.list({ limit: 101 }));
  assert.deepEqual([tooBig.statusCode, tooBig.param], [400, 'limit']);
  const tooSmall = await rejection(stripe.customers.list({ limit: 0 }));
  assert.equal(tooSmall.param, 'limit');
  const cursor = await rejection(stripe.charges.list({ starting_after: 'ch_nope' }));
  assert.deepEqual([cursor.statusCode, cursor.code, cursor.param, cursor.message], [400, 'resource_missing', 'starting_after', "No such charge: 'ch_nope'"]);
  const status = await rejection(stripe.subscriptions.list({ status: 'bogus' }));
  assert.equal(status.param, 'status');
  const empty = await rejection(stripe.charges.list({ customer: '' }));
  assert.match(empty.message, /You passed an empty string for 'customer'/);
  const fakeGap = await rejection(stripe.subscriptions.list({ plan: 'plan_x' }));
  assert.equal(fakeGap.code, 'fake_not_implemented');
});

// The fake serves what sync.ts sends and nothing else. What the real API also accepts on those
// endpoints answers 400 fake_not_implemented (never a made-up parameter_unknown or "cannot be expanded").
describe('what sync.ts never sends: 400 fake_not_implemented, per endpoint', () => {
  /** Each call answers 400 fake_not_implemented naming `param`. */
  async function notServed(calls: Array<[() => Promise<unknown>, string]>): Promise<void> {
    for (const [call, param] of calls) {
      const err = await rejection(call());
      assert.ok(err instanceof Stripe.errors.StripeInvalidRequestError);
      assert.deepEqual([err.statusCode, err.rawType, err.code, err.param], [400, 'invalid_request_error', 'fake_not_implemented', param], `${param}: ${err.message}`);
    }
  }

  it('GET /v1/customers: ending_before, email, expand, test_clock, created=N, created[gt], created[lte]', async () => {
    const err = await rejection(stripe.customers.list({ email: 'c3@example.com' }));
    assert.equal(err.message, "fake-stripe does not implement the parameter 'email' (the real API accepts it)");
    const lte = await rejection(stripe.customers.list({ created: { gte: 0, lte: 1 } }));
    assert.equal(lte.message, "fake-stripe does not implement the parameter 'created[lte]' (the real API accepts it)");
    await notServed([
      [() => stripe.customers.list({ limit: 3, ending_before: c1.id }), 'ending_before'],
      [() => stripe.customers.list({ expand: ['data.default_source'] }), 'expand'],
      [() => stripe.customers.list({ test_clock: 'clock_x' }), 'test_clock'],
      [() => stripe.customers.list({ created: c0.created }), 'created'],
      [() => stripe.customers.list({ created: { gt: c0.created } }), 'created[gt]'],
      [() => stripe.customers.list({ created: { lte: c0.created } }), 'created[lte]'],
    ]);
  });

  it('GET /v1/customers/:id: expand', async () => {
    await notServed([[() => stripe.customers.retrieve(c0.id, { expand: ['default_source'] }), 'expand']]);
  });

  it('GET /v1/charges: ending_before, payment_intent, transfer_group, created[gt], expand data.customer', async () => {
    const err = await rejection(stripe.charges.list({ customer: gone.id, expand: ['data.customer'] }));
    assert.equal(err.message, "fake-stripe does not implement the expansion 'data.customer' (the real API accepts it)");
    await notServed([
      [() => stripe.charges.list({ ending_before: usdCharge.id }), 'ending_before'],
      [() => stripe.charges.list({ payment_intent: 'pi_x' }), 'payment_intent'],
      [() => stripe.charges.list({ transfer_group: 'group_x' }), 'transfer_group'],
      [() => stripe.charges.list({ created: { gt: pending.created } }), 'created[gt]'],
      [() => stripe.charges.list({ expand: ['data.balance_transaction', 'data.customer'] }), 'expand'],
    ]);
  });

  it('GET /v1/subscriptions: ending_before, created=N, the filters, expand data.discounts, data.customer, data.items.data.discounts', async () => {
    await notServed([
      [() => stripe.subscriptions.list({ ending_before: active.id }), 'ending_before'],
      [() => stripe.subscriptions.list({ created: active.created, status: 'all' }), 'created'],
      [() => stripe.subscriptions.list({ created: { lte: active.created } }), 'created[lte]'],
      [() => stripe.subscriptions.list({ plan: 'plan_x' }), 'plan'],
      [() => stripe.subscriptions.list({ collection_method: 'charge_automatically' }), 'collection_method'],
      [() => stripe.subscriptions.list({ test_clock: 'clock_x' }), 'test_clock'],
      [() => stripe.subscriptions.list({ customer: c0.id, expand: ['data.discounts'] }), 'expand'],
      [() => stripe.subscriptions.list({ expand: ['data.customer'] }), 'expand'],
      [() => stripe.subscriptions.list({ expand: ['data.items.data.discounts'] }), 'expand'],
    ]);
  });

  it('GET /v1/subscription_items: ending_before, expand data.discounts, data.price.product, data.plan.product', async () => {
    await notServed([
      [() => stripe.subscriptionItems.list({ subscription: big.id, ending_before: big.items.data[5]!.id }), 'ending_before'],
      [() => stripe.subscriptionItems.list({ subscription: active.id, expand: ['data.discounts'] }), 'expand'],
      [() => stripe.subscriptionItems.list({ subscription: active.id, expand: ['data.price.product'] }), 'expand'],
      [() => stripe.subscriptionItems.list({ subscription: active.id, expand: ['data.plan.product'] }), 'expand'],
    ]);
  });

  it('GET /v1/prices/:id: expand product (and inside it)', async () => {
    const price = active.items.data[0]!.price.id;
    await notServed(
      ['product', 'product.default_price', 'product.tax_code'].map((path) => [() => stripe.prices.retrieve(price, { expand: [path] }), 'expand']),
    );
  });

  it('GET /v1/products: cursors, created, active, expand data.tax_code, shippable, type, url (with ids or without)', async () => {
    const product = String(active.items.data[0]!.price.product);
    await notServed([
      [() => stripe.products.list({ ids: [product], starting_after: product }), 'starting_after'],
      [() => stripe.products.list({ starting_after: product }), 'starting_after'],
      [() => stripe.products.list({ ending_before: product }), 'ending_before'],
      [() => stripe.products.list({ created: { gte: 0, lt: 2_000_000_000 } }), 'created'],
      [() => stripe.products.list({ active: true }), 'active'],
      [() => stripe.products.list({ ids: [product], limit: 100, expand: ['data.tax_code'] }), 'expand'],
      [() => stripe.products.list({ shippable: true }), 'shippable'],
      [() => stripe.products.list({ type: 'service' }), 'type'],
      [() => stripe.products.list({ url: 'https://example.com' }), 'url'],
    ]);
  });

  it('GET /v1/disputes: ending_before, charge, payment_intent, created[gt], expand data.charge.balance_transaction, data.charge.customer, data.payment_intent', async () => {
    await notServed([
      [() => stripe.disputes.list({ ending_before: 'dp_x' }), 'ending_before'],
      [() => stripe.disputes.list({ charge: usdCharge.id }), 'charge'],
      [() => stripe.disputes.list({ payment_intent: 'pi_x' }), 'payment_intent'],
      [() => stripe.disputes.list({ created: { gt: 0 } }), 'created[gt]'],
      [() => stripe.disputes.list({ expand: ['data.charge.balance_transaction'] }), 'expand'],
      [() => stripe.disputes.list({ expand: ['data.charge', 'data.charge.customer'] }), 'expand'],
      [() => stripe.disputes.list({ expand: ['data.payment_intent'] }), 'expand'],
    ]);
  });
});

it('unknown URL and non-GET methods: 404 Unrecognized request URL', async () => {
  const auth = { authorization: `Bearer ${DEFAULT_API_KEY}` };
  const res = await fetch(`${fake.url}/v1/refunds`, { headers: auth });
  assert.equal(res.status, 404);
  const body = (await res.json()) as { error: { type: string; message: string } };
  assert.equal(body.error.type, 'invalid_request_error');
  assert.match(body.error.message, /^Unrecognized request URL \(GET: \/v1\/refunds\)/);
  const post = await fetch(`${fake.url}/v1/customers`, { method: 'POST', headers: auth, body: 'email=x' });
  assert.equal(post.status, 404);
  assert.match(((await post.json()) as { error: { message: string } }).error.message, /\(POST: \/v1\/customers\)/);
  const err = await rejection(stripe.customers.create({ email: 'x@example.com' }));
  assert.equal(err.statusCode, 404);
});

it('auth: wrong key -> 401 StripeAuthenticationError with masked key; missing key -> 401', async () => {
  const badKey = 'sk_test_51WrongKeyAbcdefWXYZ';
  const err = await rejection(client(fake, { key: badKey }).customers.list());
  assert.ok(err instanceof Stripe.errors.StripeAuthenticationError);
  assert.equal(err.statusCode, 401);
  assert.equal(err.message, `Invalid API Key provided: sk_test_${'*'.repeat(badKey.length - 12)}WXYZ`);
  assert.ok(!err.message.includes(badKey));
  const res = await fetch(`${fake.url}/v1/customers`);
  assert.equal(res.status, 401);
  assert.match(((await res.json()) as { error: { message: string } }).error.message, /^You did not provide an API key/);
});

it('headers: Request-Id on every answer, Stripe-Version echoed', async () => {
  const list = await stripe.customers.list({ limit: 1 });
  assert.match(list.lastResponse.requestId, /^req_/);
  assert.equal(list.lastResponse.apiVersion, '2026-10-28.endive');
  const err = await rejection(stripe.customers.retrieve('cus_nope'));
  assert.match(err.requestId ?? '', /^req_/);
});

it('latency: latencyMs (number and per-request function)', async () => {
  const slow = await startFakeStripe({ latencyMs: (req) => (req.path === '/v1/charges' ? 120 : 40) });
  try {
    const s = client(slow);
    let t = Date.now();
    await s.customers.list();
    const customersMs = Date.now() - t;
    t = Date.now();
    await s.charges.list();
    const chargesMs = Date.now() - t;
    assert.ok(customersMs >= 38 && customersMs < 110, `customers took ${customersMs}ms`);
    assert.ok(chargesMs >= 118, `charges took ${chargesMs}ms`);
  } finally {
    await slow.close();
  }
});

it('faults: each kind via the shared module (queuedFaults), as the SDK sees it', async () => {
  const f = await startFakeStripe({ slowMs: 1500 });
  try {
    const s = client(f, { timeout: 500 });
    const seen: string[] = [];
    // Diagnostic: what each fault looked like to the SDK, printed only when an assertion fails.
    onTestFailed(() => console.log(seen.map((line) => `     ${line}`).join('\n')));
    // Stripe endpoints are reads: the landed_* kinds look exactly like drop / server_502 / slow.
    for (const kind of [...ALL_FAULTS, ...LANDED_FAULTS]) {
      const drops = kind === 'drop' || kind === 'landed_drop';
      f.setFaults(queuedFaults([{ fault: kind, times: drops ? 2 : 1 }]));
      f.resetStats();
      const err = await rejection(s.customers.list());
      const statuses = f.requests.map((r) => r.status);
      seen.push(`${kind} -> ${err.type}${err.statusCode ? ` ${err.statusCode}` : ''} [statuses ${statuses.join(',')}]`);
      const expected: Record<FaultKind, () => void> = {
        rate_limit_seconds: () => {
          assert.ok(err instanceof Stripe.errors.StripeRateLimitError);
          assert.equal(err.headers?.['retry-after'], '1');
        },
        rate_limit_date: () => {
          assert.ok(err instanceof Stripe.errors.StripeRateLimitError);
          assert.ok(!Number.isNaN(Date.parse(String(err.headers?.['retry-after']))));
        },
        server_500: () => assert.ok(err instanceof Stripe.errors.StripeAPIError && err.statusCode === 500),
        server_502: () => assert.ok(err instanceof Stripe.errors.StripeAPIError && err.statusCode === 502),
        server_503: () => assert.ok(err instanceof Stripe.errors.StripeAPIError && err.statusCode === 503),
        spurious_401: () => {
          assert.ok(err instanceof Stripe.errors.StripeAuthenticationError);
          assert.match(err.message, /^Invalid API Key provided: sk_test_\*+3456$/);
        },
        // The SDK retries a reset connection once even with maxNetworkRetries 0, so two drops are needed.
        drop: () => {
          assert.ok(err instanceof Stripe.errors.StripeConnectionError);
          assert.deepEqual(statuses, [0, 0]);
        },
        slow: () => {
          assert.ok(err instanceof Stripe.errors.StripeConnectionError);
          assert.match(err.message, /timeout/);
          assert.deepEqual(statuses, [0]); // the client gave up before the 503
        },
        truncated: () => {
          assert.ok(err instanceof Stripe.errors.StripeConnectionError);
          assert.deepEqual(statuses, [200]);
        },
        landed_drop: () => {
          assert.ok(err instanceof Stripe.errors.StripeConnectionError);
          assert.deepEqual(statuses, [0, 0]);
        },
        landed_502: () => {
          assert.ok(err instanceof Stripe.errors.StripeAPIError && err.statusCode === 502);
          assert.deepEqual(statuses, [502]);
        },
        landed_slow: () => {
          assert.ok(err instanceof Stripe.errors.StripeConnectionError);
          assert.match(err.message, /timeout/);
          assert.deepEqual(statuses, [0]);
        },
      };
      expected[kind]();
      assert.equal(f.stats().faults, drops ? 2 : 1);
    }
    // A single drop is invisible to the caller: the SDK's built-in reconnect retry succeeds.
    f.setFaults(queuedFaults([{ fault: 'drop' }]));
    f.resetStats();
    await s.customers.list();
    assert.deepEqual(f.requests.map((r) => r.status), [0, 200]);
    seen.push('drop x1 -> retried by the SDK, succeeded [statuses 0,200]');
    // Spent schedule: normal answers again; match() limits faults to one endpoint.
    f.setFaults(queuedFaults([{ fault: 'server_500', match: (r) => r.path === '/v1/charges' }]));
    await s.customers.list();
    await rejection(s.charges.list());
    await s.charges.list();
  } finally {
    await f.close();
  }
});

// Waits for wall-clock second boundaries, so it gets more room than the 5 s default timeout.
it('rate limiting: perEndpoint and overall budgets -> 429 StripeRateLimitError, no Retry-After', { timeout: 10_000 }, async () => {
  const limited = await startFakeStripe({ rateLimit: { perEndpoint: 5 } });
  try {
    const s = client(limited);
    await startOfSecond();
    const results = await Promise.allSettled(Array.from({ length: 12 }, () => s.customers.list()));
    const rejected = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason as unknown);
    assert.equal(rejected.length, 7);
    const err = rejected[0];
    assert.ok(err instanceof Stripe.errors.StripeRateLimitError);
    assert.equal(err.statusCode, 429);
    assert.equal(err.code, 'rate_limit');
    assert.equal(err.headers?.['retry-after'], undefined);
    await s.charges.list(); // another endpoint has its own budget
    assert.equal(limited.stats().rateLimited, 7);
    assert.deepEqual(limited.stats().byEndpoint, { '/v1/customers': 12, '/v1/charges': 1 });
    await sleep(1000);
    await s.customers.list(); // the next second has a fresh budget
  } finally {
    await limited.close();
  }
  const overall = await startFakeStripe({ rateLimit: { overall: 3 } });
  try {
    const s = client(overall);
    await startOfSecond();
    const results = await Promise.allSettled([s.customers.list(), s.charges.list(), s.subscriptions.list(), s.customers.list(), s.charges.list()]);
    assert.equal(results.filter((r) => r.status === 'rejected').length, 2);
    assert.equal(overall.stats().rateLimited, 2);
  } finally {
    await overall.close();
  }
});

it('store: deterministic ids/timestamps, read-only created, builder validation', async () => {
  const a = await startFakeStripe();
  const b = await startFakeStripe();
  try {
    const build = (f: FakeStripe) => {
      const c = f.store.addCustomer({ email: 'x@example.com' });
      const ch = f.store.addCharge({ customer: c.id, amount: 100, currency: 'usd' });
      const sub = f.store.addSubscription({ customer: c.id, items: [{ unit_amount: 100 }], discounts: [{ percent_off: 5 }] });
      return [c.id, c.created, ch.id, ch.balance_transaction, ch.created, sub.id, sub.items.data[0]!.id, sub.items.data[0]!.price.id, sub.discounts[0]];
    };
    const ids = build(a);
    assert.deepEqual(build(b), ids);
    assert.deepEqual(ids.slice(0, 2), ['cus_fake0000000001', 1_700_000_060]);
    const c = a.store.customers[0]!;
    assert.throws(() => {
      (c as { created: number }).created = 1;
    }, TypeError);
    assert.throws(() => a.store.addCustomer({ id: c.id }), /duplicate id/);
    assert.throws(() => a.store.addCharge({ customer: 'cus_unknown', amount: 1, currency: 'usd' }), /no such customer/);
    assert.throws(() => a.store.refundCharge(a.store.charges[0]!.id, 101), /cannot refund/);
    a.store.deleteCustomer(c.id);
    assert.throws(() => a.store.addSubscription({ customer: c.id, items: [{ unit_amount: 1 }] }), /deleted/);
  } finally {
    await a.close();
    await b.close();
  }
  // A customer filter with a cursor from another customer still pages by position, like the API.
  const older = await stripe.charges.list({ customer: c0.id, starting_after: jpyCharge.id });
  assert.deepEqual(older.data.map((ch) => ch.id), [eurCharge.id, usdCharge.id]);
});

it('stats and resetStats', async () => {
  fake.resetStats();
  await stripe.customers.list();
  await stripe.customers.retrieve(c0.id);
  await rejection(stripe.customers.retrieve('cus_nope'));
  assert.deepEqual(fake.stats(), { total: 3, byEndpoint: { '/v1/customers': 1, '/v1/customers/:id': 2 }, rateLimited: 0, faults: 0 });
  assert.deepEqual(fake.requests.map((r) => `${r.method} ${r.path} ${r.status}`), [
    'GET /v1/customers 200',
    `GET /v1/customers/${c0.id} 200`,
    'GET /v1/customers/cus_nope 404',
  ]);
  fake.resetStats();
  assert.equal(fake.stats().total, 0);
  assert.equal(fake.requests.length, 0);
});

// ------------------------------------------------------------------------------------------------
// Billing data for MRR and revenue: coupon durations at both levels, decimal and tiered prices,
// uncaptured authorisations, disputes. A fake of its own, so the lists above keep their counts.
// ------------------------------------------------------------------------------------------------

describe('billing data', () => {
  let bf!: FakeStripe;
  let api!: Stripe;
  const JAN_2024 = Date.UTC(2024, 0, 1) / 1000;
  let buyer!: Stripe.Customer;
  let couponSub!: Stripe.Subscription;
  let priced!: Stripe.Subscription;
  let usd!: Stripe.Charge;
  let eur!: Stripe.Charge;
  let jpy!: Stripe.Charge;
  let auth!: Stripe.Charge;
  let partial!: Stripe.Charge;
  let extra!: Stripe.Charge;
  let inquiry!: Stripe.Dispute;
  let open!: Stripe.Dispute;
  let won!: Stripe.Dispute;
  let lost!: Stripe.Dispute;
  let converted!: Stripe.Dispute;

  beforeAll(async () => {
    bf = await startFakeStripe();
    api = client(bf);
    const s = bf.store;
    buyer = s.addCustomer({ email: 'buyer@example.com' });
    couponSub = s.addSubscription({
      customer: buyer.id,
      created: JAN_2024,
      items: [
        { unit_amount: 2000, discounts: [{ percent_off: 50, duration: 'repeating', duration_in_months: 2 }] },
        { unit_amount: 1000, discounts: [{ amount_off: 100, duration: 'repeating', duration_in_months: 12 }, { percent_off: 10, duration: 'once' }] },
        { unit_amount: 500 },
      ],
      discounts: [
        { percent_off: 10, duration: 'once' },
        { amount_off: 300, duration: 'repeating', duration_in_months: 6 },
        { percent_off: 5, duration: 'forever' },
      ],
    });
    priced = s.addSubscription({
      customer: buyer.id,
      created: JAN_2024 + 1,
      items: [
        { unit_amount: null, unit_amount_decimal: '1234.5678', quantity: 3 },
        { unit_amount: null, unit_amount_decimal: '1500' },
        {
          unit_amount: null,
          tiers: [
            { up_to: 10, unit_amount: 500, flat_amount: 1000 },
            { up_to: 100, unit_amount_decimal: '250.5' },
            { up_to: null, unit_amount: 100 },
          ],
          quantity: 25,
        },
        { unit_amount: null, tiers_mode: 'volume', tiers: [{ up_to: 5, flat_amount_decimal: '999.9' }, { up_to: null, unit_amount: 150 }] },
        { unit_amount: null },
      ],
    });

    usd = s.addCharge({ customer: buyer.id, amount: 5000, currency: 'usd', created: JAN_2024 + 100 });
    eur = s.addCharge({ customer: buyer.id, amount: 10000, currency: 'eur', created: JAN_2024 + 200, settlement: { currency: 'usd', amount: 10850 } });
    jpy = s.addCharge({ customer: buyer.id, amount: 3000, currency: 'jpy', created: JAN_2024 + 300 });
    auth = s.addCharge({ customer: buyer.id, amount: 7000, currency: 'usd', created: JAN_2024 + 400, captured: false });
    partial = s.addCharge({ customer: buyer.id, amount: 4000, currency: 'usd', created: JAN_2024 + 500, amount_captured: 1500 });
    extra = s.addCharge({ customer: buyer.id, amount: 800, currency: 'usd', created: JAN_2024 + 600 });

    inquiry = s.addDispute({ charge: usd.id, status: 'warning_needs_response', created: JAN_2024 + 1000 });
    open = s.addDispute({ charge: eur.id, status: 'needs_response', created: JAN_2024 + 2000 });
    won = s.addDispute({ charge: jpy.id, status: 'won', amount: 2000, created: JAN_2024 + 3000, reason: 'fraudulent' });
    lost = s.addDispute({ charge: partial.id, status: 'lost', created: JAN_2024 + 4000, fee: 1500 });
    converted = s.addDispute({ charge: extra.id, status: 'under_review', created: JAN_2024 + 5000 });
  });

  afterAll(async () => {
    await bf?.close();
  });

  it('coupons: once / repeating (duration_in_months, end) / forever on the subscription, via data.discounts.source.coupon', async () => {
    const sub = (await api.subscriptions.list({ customer: buyer.id, created: { gte: JAN_2024, lt: JAN_2024 + 1 }, expand: ['data.discounts.source.coupon'] })).data[0]!;
    assert.equal(sub.id, couponSub.id);
    const discounts = sub.discounts as Stripe.Discount[];
    const coupons = discounts.map((d) => d.source.coupon as Stripe.Coupon);
    assert.deepEqual(
      coupons.map((c) => [c.duration, c.duration_in_months, c.percent_off, c.amount_off, c.currency]),
      [
        ['once', null, 10, null, null],
        ['repeating', 6, null, 300, 'usd'],
        ['forever', null, 5, null, null],
      ],
    );
    assert.deepEqual(discounts.map((d) => d.end), [null, Date.UTC(2024, 6, 1) / 1000, null], 'a repeating discount ends duration_in_months after it started');
    assert.deepEqual(discounts.map((d) => [d.start, d.subscription, d.subscription_item]), discounts.map(() => [JAN_2024, couponSub.id, null]));
    // Item-level discounts stay ids in the embedded items: the subscription expansion does not reach them.
    const [first, second, third] = sub.items.data;
    assert.equal(first!.discounts.length, 1);
    assert.ok([...first!.discounts, ...second!.discounts].every((d) => typeof d === 'string' && d.startsWith('di_')));
    assert.equal(second!.discounts.length, 2);
    assert.deepEqual(third!.discounts, []);
  });

  it('item-level discounts: /v1/subscription_items with expand data.discounts.source.coupon', async () => {
    const plain = await api.subscriptionItems.list({ subscription: couponSub.id });
    assert.ok(plain.data[0]!.discounts.every((d) => typeof d === 'string'));

    const items = (await api.subscriptionItems.list({ subscription: couponSub.id, limit: 100, expand: ['data.discounts.source.coupon'] })).data;
    const d0 = items[0]!.discounts[0] as Stripe.Discount;
    assert.deepEqual([d0.object, d0.source.type, d0.subscription_item], ['discount', 'coupon', items[0]!.id]);
    const view = items.map((item) =>
      (item.discounts as Stripe.Discount[]).map((d) => {
        const c = d.source.coupon as Stripe.Coupon;
        return [d.subscription_item === item.id, c.object, c.duration, c.duration_in_months, c.percent_off, c.amount_off, c.currency, d.end];
      }),
    );
    assert.deepEqual(view, [
      [[true, 'coupon', 'repeating', 2, 50, null, null, Date.UTC(2024, 2, 1) / 1000]],
      [
        [true, 'coupon', 'repeating', 12, null, 100, 'usd', Date.UTC(2025, 0, 1) / 1000],
        [true, 'coupon', 'once', null, 10, null, null, null],
      ],
      [],
    ]);
  });

  it('expand depth: four levels at most, counted as Stripe does (data included); item coupons via /v1/subscriptions refused', async () => {
    const six = await rejection(api.subscriptions.list({ expand: ['data.items.data.discounts.source.coupon'] }));
    assert.deepEqual(
      [six.statusCode, six.param, six.message],
      [400, 'expand', 'You cannot expand more than 4 levels of a property. Property: data.items.data.discounts.source.coupon'],
    );
    const five = await rejection(api.subscriptionItems.list({ subscription: couponSub.id, expand: ['data.discounts.source.coupon.applies_to'] }));
    assert.match(five.message, /^You cannot expand more than 4 levels/);
    const four = await rejection(api.subscriptions.list({ expand: ['data.items.data.discounts'] }));
    assert.equal(four.code, 'fake_not_implemented', 'four levels pass the depth rule; the fake does not serve this one');
    const bogus = await rejection(api.subscriptionItems.list({ subscription: couponSub.id, expand: ['data.price'] }));
    assert.deepEqual([bogus.statusCode, bogus.message], [400, 'This property cannot be expanded (price).']);
  });

  it('prices: per-unit with unit_amount null and a decimal unit_amount_decimal; a whole decimal fills unit_amount', async () => {
    const [fractional, whole] = (await api.subscriptionItems.list({ subscription: priced.id })).data;
    assert.equal(fractional!.price.billing_scheme, 'per_unit');
    assert.equal(fractional!.price.unit_amount, null);
    assert.equal(String(fractional!.price.unit_amount_decimal), '1234.5678');
    assert.equal(fractional!.price.tiers_mode, null);
    assert.equal(fractional!.quantity, 3);
    assert.equal(fractional!.plan.amount, null);
    assert.equal(String(fractional!.plan.amount_decimal), '1234.5678');
    assert.deepEqual([whole!.price.unit_amount, String(whole!.price.unit_amount_decimal)], [1500, '1500']);
    const retrieved = await api.prices.retrieve(fractional!.price.id);
    assert.equal(String(retrieved.unit_amount_decimal), '1234.5678');
    assert.equal(retrieved.unit_amount, null);
    assert.throws(() => bf.store.addSubscription({ customer: buyer.id, items: [{ unit_amount: 5, unit_amount_decimal: '5.5' }] }), /unit_amount: null/);
    assert.throws(() => bf.store.addSubscription({ customer: buyer.id, items: [{ unit_amount: null, unit_amount_decimal: '1.1234567890123' }] }), /12 decimal places/);
  });

  it('prices: tiered prices carry no tiers in lists; GET /v1/prices/:id adds them only with expand[]=tiers', async () => {
    const listed = (await api.subscriptions.list({ customer: buyer.id, created: { gte: JAN_2024 + 1, lt: JAN_2024 + 2 } })).data[0]!.items.data;
    const fromItems = (await api.subscriptionItems.list({ subscription: priced.id })).data;
    const graduated = listed[2]!.price;
    const volume = listed[3]!.price;
    for (const price of [graduated, volume, listed[4]!.price, fromItems[2]!.price, fromItems[3]!.price]) {
      assert.equal(price.billing_scheme, 'tiered');
      assert.equal(price.unit_amount, null);
      assert.equal(price.unit_amount_decimal, null);
      assert.ok(!('tiers' in price), `a listed price has no tiers field (${price.id})`);
    }
    assert.deepEqual([graduated.tiers_mode, volume.tiers_mode, listed[4]!.price.tiers_mode], ['graduated', 'volume', 'graduated']);

    const bare = await api.prices.retrieve(graduated.id);
    assert.ok(!('tiers' in bare), 'no tiers without the expansion');
    const { lastResponse: _ignored, ...bareFields } = bare;
    assert.deepEqual(JSON.parse(JSON.stringify(bareFields)), JSON.parse(JSON.stringify(graduated)), 'the retrieve answers the price the item references');

    const tiered = await api.prices.retrieve(graduated.id, { expand: ['tiers'] });
    assert.deepEqual(
      tiered.tiers!.map((t) => [t.up_to, t.unit_amount, t.unit_amount_decimal === null ? null : String(t.unit_amount_decimal), t.flat_amount, t.flat_amount_decimal === null ? null : String(t.flat_amount_decimal)]),
      [
        [10, 500, '500', 1000, '1000'],
        [100, null, '250.5', null, null],
        [null, 100, '100', null, null],
      ],
    );
    const vol = await api.prices.retrieve(volume.id, { expand: ['tiers'] });
    const str = (d: unknown) => (d === null ? null : String(d));
    assert.deepEqual(vol.tiers!.map((t) => [t.up_to, t.flat_amount, str(t.flat_amount_decimal), t.unit_amount, str(t.unit_amount_decimal)]), [
      [5, null, '999.9', null, null],
      [null, null, null, 150, '150'],
    ]);
    const perUnit = await api.prices.retrieve(fromItems[0]!.price.id, { expand: ['tiers'] });
    assert.ok(!('tiers' in perUnit), 'a per-unit price has no tiers');
    const defaulted = await api.prices.retrieve(listed[4]!.price.id, { expand: ['tiers'] });
    assert.deepEqual(defaulted.tiers!.map((t) => [t.up_to, t.unit_amount]), [[null, 0]]);
  });

  it('prices: unknown expansion, unknown parameter, unknown price refused', async () => {
    const id = priced.items.data[2]!.price.id;
    const bogus = await rejection(api.prices.retrieve(id, { expand: ['bogus'] }));
    assert.deepEqual([bogus.statusCode, bogus.param, bogus.message], [400, 'expand', 'This property cannot be expanded (bogus).']);
    const listStyle = await rejection(api.prices.retrieve(id, { expand: ['data.tiers'] }));
    assert.equal(listStyle.message, 'This property cannot be expanded (data).', 'a retrieve does not take list paths');
    const param = await rejection(api.prices.retrieve(id, { active: true } as Stripe.PriceRetrieveParams));
    assert.deepEqual([param.statusCode, param.code, param.param], [400, 'parameter_unknown', 'active']);
    const missing = await rejection(api.prices.retrieve('price_nope'));
    assert.deepEqual([missing.statusCode, missing.code, missing.message], [404, 'resource_missing', "No such price: 'price_nope'"]);
  });

  it('charges: an uncaptured authorisation (succeeded, captured false, amount_captured 0, no balance transaction); partial capture unchanged', async () => {
    const charges = (await api.charges.list({ customer: buyer.id, limit: 100, expand: ['data.balance_transaction'] })).data;
    const a = charges.find((c) => c.id === auth.id)!;
    assert.deepEqual(
      [a.status, a.captured, a.paid, a.amount, a.amount_captured, a.amount_refunded, a.refunded, a.balance_transaction],
      ['succeeded', false, true, 7000, 0, 0, false, null],
    );
    const p = charges.find((c) => c.id === partial.id)!;
    assert.deepEqual([p.status, p.captured, p.amount, p.amount_captured], ['succeeded', true, 4000, 1500]);
    assert.equal((p.balance_transaction as Stripe.BalanceTransaction).amount, 1500);
    assert.equal(charges.find((c) => c.id === usd.id)!.captured, true);
    assert.throws(() => bf.store.addCharge({ customer: null, amount: 1, currency: 'usd', status: 'failed', captured: false }), /uncaptured/);
    assert.throws(() => bf.store.addDispute({ charge: auth.id, status: 'needs_response' }), /moved no money/);
  });

  it('disputes: object shape, balance transactions per status in the settlement currency, charge marked disputed', async () => {
    const all = (await api.disputes.list({ limit: 100 })).data;
    const byId = new Map(all.map((d) => [d.id, d]));
    const i = byId.get(inquiry.id)!;
    assert.match(i.id, /^dp_/);
    assert.deepEqual(
      [i.object, i.amount, i.currency, i.charge, i.created, i.status, i.is_charge_refundable, i.reason, i.livemode, i.metadata, i.balance_transactions],
      ['dispute', 5000, 'usd', usd.id, JAN_2024 + 1000, 'warning_needs_response', true, 'general', false, {}, []],
    );
    const o = byId.get(open.id)!;
    assert.deepEqual([o.amount, o.currency, o.is_charge_refundable], [10000, 'eur', false]);
    assert.deepEqual(
      o.balance_transactions.map((t) => [t.object, t.amount, t.currency, t.exchange_rate, t.type, t.reporting_category, t.source, t.net]),
      [['balance_transaction', -10850, 'usd', 1.085, 'adjustment', 'dispute', open.id, -10850]],
    );
    const w = byId.get(won.id)!;
    assert.deepEqual([w.amount, w.currency, w.reason], [2000, 'jpy', 'fraudulent']);
    assert.deepEqual(w.balance_transactions.map((t) => [t.amount, t.currency, t.reporting_category]), [
      [-2000, 'jpy', 'dispute'],
      [2000, 'jpy', 'dispute_reversal'],
    ]);
    const l = byId.get(lost.id)!;
    assert.equal(l.amount, 1500, 'default amount: the captured amount');
    assert.deepEqual(l.balance_transactions.map((t) => [t.amount, t.fee, t.net]), [[-1500, 1500, -3000]]);
    assert.equal(byId.get(converted.id)!.balance_transactions.length, 1);

    const charges = (await api.charges.list({ customer: buyer.id, limit: 100 })).data;
    const disputed = new Set(charges.filter((c) => c.disputed).map((c) => c.id));
    assert.deepEqual([...disputed].sort(), [usd, eur, jpy, partial, extra].map((c) => c.id).sort());
    assert.equal(charges.find((c) => c.id === jpy.id)!.amount_refunded, 0, 'a dispute does not touch amount_refunded');
  });

  it('disputes: newest first, auto-pagination with starting_after, created window', async () => {
    const newestFirst = [converted, lost, won, open, inquiry].map((d) => d.id);
    bf.resetStats();
    const paged = await api.disputes.list({ limit: 2 }).autoPagingToArray({ limit: 100 });
    assert.deepEqual(paged.map((d) => d.id), newestFirst);
    const pages = bf.requests.filter((r) => r.path === '/v1/disputes');
    assert.deepEqual(pages.map((r) => r.query), ['limit=2', `limit=2&starting_after=${newestFirst[1]}`, `limit=2&starting_after=${newestFirst[3]}`]);
    assert.deepEqual(pages.map((r) => r.objects), [2, 2, 1]);

    const range = await api.disputes.list({ created: { gte: JAN_2024 + 2000, lt: JAN_2024 + 4000 } });
    assert.deepEqual(range.data.map((d) => d.id), [won.id, open.id]);
    assert.equal(range.url, '/v1/disputes');
    const next = await api.disputes.list({ created: { gte: JAN_2024 + 1000, lt: JAN_2024 + 5000 }, limit: 2, starting_after: won.id });
    assert.deepEqual([next.data.map((d) => d.id), next.has_more], [[open.id, inquiry.id], false]);
  });

  it('disputes: expand data.charge (its balance_transaction and customer stay ids), strictness', async () => {
    const all = (await api.disputes.list({ limit: 100, expand: ['data.charge'] })).data;
    const got = all.find((d) => d.id === won.id)!;
    assert.deepEqual([got.object, got.status, got.amount, got.currency], ['dispute', 'won', 2000, 'jpy']);
    assert.deepEqual([(got.charge as Stripe.Charge).object, (got.charge as Stripe.Charge).id], ['charge', jpy.id]);
    assert.ok(all.every((d) => typeof d.charge === 'object'), 'every dispute on the page has its charge expanded');
    const charge = all.find((d) => d.id === open.id)!.charge as Stripe.Charge;
    assert.deepEqual([charge.object, charge.id, charge.disputed, charge.customer], ['charge', eur.id, true, buyer.id]);
    assert.match(charge.balance_transaction as string, /^txn_/);
    assert.equal(typeof (await api.disputes.list({ limit: 100 })).data.find((d) => d.id === won.id)!.charge, 'string', 'an id unless expanded');

    const unknown = await rejection(api.disputes.list({ status: 'won' } as Stripe.DisputeListParams));
    assert.deepEqual([unknown.statusCode, unknown.code, unknown.param], [400, 'parameter_unknown', 'status']);
    const badExpand = await rejection(api.disputes.list({ expand: ['data.evidence'] }));
    assert.equal(badExpand.message, 'This property cannot be expanded (evidence).');
    const pi = await rejection(api.disputes.list({ payment_intent: 'pi_x' }));
    assert.equal(pi.code, 'fake_not_implemented');
    const cursor = await rejection(api.disputes.list({ starting_after: usd.id }));
    assert.deepEqual([cursor.code, cursor.message], ['resource_missing', `No such dispute: '${usd.id}'`]);
  });

  it('endpoints the sync never calls are not served: product and dispute by id, product search -> 404 Unrecognized request URL', async () => {
    // The fakes implement what sync.ts calls and nothing else: it reads products through the list
    // (`ids`) and disputes through the list, so these real Stripe endpoints answer like any unknown URL,
    // even for ids the store holds.
    const product = String(priced.items.data[0]!.price.product);
    assert.equal(bf.store.product(product).id, product);
    bf.resetStats();
    const calls: Array<[() => Promise<unknown>, string]> = [
      [() => api.products.retrieve(product), `/v1/products/${product}`],
      [() => api.disputes.retrieve(won.id, { expand: ['charge'] }), `/v1/disputes/${won.id}`],
      [() => api.products.search({ query: "name:'Pro'" }), '/v1/products/search'],
    ];
    for (const [call, path] of calls) {
      const err = await rejection(call());
      assert.ok(err instanceof Stripe.errors.StripeInvalidRequestError);
      assert.equal(err.statusCode, 404, path);
      assert.equal(err.message, `Unrecognized request URL (GET: ${path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`);
    }
    // Counted under the raw path, as unknown URLs are: no route pattern claims them.
    assert.deepEqual(bf.stats().byEndpoint, Object.fromEntries(calls.map(([, path]) => [path, 1])));
  });
});

// ------------------------------------------------------------------------------------------------
// Products, scheduled cancellations, live and test mode. Fakes of their own, for the same reason.
// ------------------------------------------------------------------------------------------------

describe('products', () => {
  let pf!: FakeStripe;
  let api!: Stripe;
  let first!: Stripe.Subscription;
  let second!: Stripe.Subscription;
  let third!: Stripe.Subscription;

  beforeAll(async () => {
    pf = await startFakeStripe();
    api = client(pf);
    const s = pf.store;
    const buyer = s.addCustomer({ email: 'products@example.com' });
    first = s.addSubscription({ customer: buyer.id, items: [{ unit_amount: 2000, product_name: 'Pro' }, { unit_amount: 500 }] });
    const pro = String(first.items.data[0]!.price.product);
    // A new (yearly) price on the Pro product, and the second item's price shared as it is.
    second = s.addSubscription({
      customer: buyer.id,
      items: [{ unit_amount: 20_000, interval: 'year', product_id: pro }, { unit_amount: null, price_id: first.items.data[1]!.price.id }],
    });
    third = s.addSubscription({ customer: buyer.id, items: [{ unit_amount: 100 }] });
  });

  afterAll(async () => {
    await pf?.close();
  });

  it('GET /v1/products with ids answers the stored products of item prices, named or by default', async () => {
    const [proItem, plainItem] = first.items.data;
    const page = await api.products.list({ ids: [String(proItem!.price.product), String(plainItem!.price.product)], limit: 100 });
    assert.deepEqual([page.object, page.url, page.has_more, page.data.length], ['list', '/v1/products', false, 2]);
    const pro = page.data.find((p) => p.id === proItem!.price.product)!;
    assert.deepEqual(pro, {
      id: 'prod_fake0000000001',
      object: 'product',
      active: true,
      created: first.created,
      default_price: null,
      description: null,
      images: [],
      livemode: false,
      marketing_features: [],
      metadata: {},
      name: 'Pro',
      package_dimensions: null,
      shippable: null,
      statement_descriptor: null,
      tax_code: null,
      tax_details: null,
      type: 'service',
      unit_label: null,
      updated: first.created,
      url: null,
    });
    const plain = page.data.find((p) => p.id === plainItem!.price.product)!;
    assert.deepEqual([plain.id, plain.name], ['prod_fake0000000002', 'Product 2'], 'the default name derives from the id');
    assert.equal(pf.store.product(plain.id).name, 'Product 2');
  });

  it('items share products: product_id makes a new price on it, price_id shares the price and its product; ids as before', async () => {
    const [a0, a1] = first.items.data;
    const [b0, b1] = second.items.data;
    assert.equal(b0!.price.product, a0!.price.product);
    assert.notEqual(b0!.price.id, a0!.price.id, 'a new price');
    assert.deepEqual([b0!.price.recurring!.interval, b0!.price.unit_amount, b0!.plan.product], ['year', 20_000, a0!.price.product]);
    assert.deepEqual([b1!.price.id, b1!.price.product], [a1!.price.id, a1!.price.product]);
    // Ids of callers that pass none of the new inputs are what they were; sharing claims no product id.
    const ids = (sub: Stripe.Subscription) => sub.items.data.map((i) => [i.id, i.price.id, i.price.product]);
    assert.deepEqual(ids(first), [
      ['si_fake0000000001', 'price_fake0000000001', 'prod_fake0000000001'],
      ['si_fake0000000002', 'price_fake0000000002', 'prod_fake0000000002'],
    ]);
    assert.deepEqual(ids(second), [
      ['si_fake0000000003', 'price_fake0000000003', 'prod_fake0000000001'],
      ['si_fake0000000004', 'price_fake0000000002', 'prod_fake0000000002'],
    ]);
    assert.deepEqual(ids(third), [['si_fake0000000005', 'price_fake0000000004', 'prod_fake0000000003']]);
    const third3 = await api.products.list({ ids: ['prod_fake0000000003'], limit: 100 });
    assert.deepEqual(third3.data.map((p) => [p.id, p.name]), [['prod_fake0000000003', 'Product 3']]);

    const s = pf.store;
    const customer = s.customers[0]!.id;
    assert.throws(() => s.addSubscription({ customer, items: [{ unit_amount: 1, product_id: 'prod_nope' }] }), /no product prod_nope/);
    assert.throws(() => s.addSubscription({ customer, items: [{ unit_amount: 1, price_id: a0!.price.id, product_name: 'X' }] }), /shared price/);
    assert.throws(() => s.addSubscription({ customer, items: [{ unit_amount: 1, product_id: String(a0!.price.product), product_name: 'Basic' }] }), /named 'Pro'/);
    assert.throws(() => s.addSubscription({ customer, items: [{ unit_amount: 1, product_name: ' ' }] }), /cannot be empty/);
  });

  it('products list with ids: an unknown id is simply absent; an unknown parameter refused', async () => {
    const id = String(first.items.data[0]!.price.product);
    const some = await api.products.list({ ids: ['prod_nope', id], limit: 100 });
    assert.deepEqual([some.data.map((p) => p.id), some.has_more], [[id], false]);
    const none = await api.products.list({ ids: ['prod_nope'], limit: 100 });
    assert.deepEqual([none.data, none.has_more], [[], false]);
    const param = await rejection(api.products.list({ ids: [id], limit: 100, name: 'Pro' } as Stripe.ProductListParams));
    assert.ok(param instanceof Stripe.errors.StripeInvalidRequestError);
    assert.deepEqual([param.statusCode, param.code, param.param, param.message], [400, 'parameter_unknown', 'name', 'Received unknown parameter: name']);
    const tooBig = await rejection(api.products.list({ ids: [id], limit: 101 }));
    assert.deepEqual([tooBig.statusCode, tooBig.param], [400, 'limit']);
  });

  it('GET /v1/products lists products, newest first, or just the `ids` asked for', async () => {
    const pro = String(first.items.data[0]!.price.product);
    const plain = String(third.items.data[0]!.price.product);
    const some = await api.products.list({ ids: [plain, pro], limit: 100 });
    assert.deepEqual(some.data.map((p) => p.id).sort(), [plain, pro].sort());
    assert.equal(some.data.find((p) => p.id === pro)!.name, 'Pro');
    assert.equal(some.has_more, false);
    const all = await api.products.list({ limit: 100 });
    assert.ok(all.data.length >= 3);
    assert.ok(all.data.every((p, i) => i === 0 || all.data[i - 1]!.created >= p.created), 'newest first');
    const unknown = await rejection(api.products.list({ bogus: 1 } as Stripe.ProductListParams));
    assert.equal(unknown.code, 'parameter_unknown');
  });

  it('products are ids in a price retrieve and in items (the sync reads names through the products list); data.items.data.price.product is too deep', async () => {
    const price = await api.prices.retrieve(second.items.data[0]!.price.id, { expand: ['tiers'] });
    assert.equal(price.product, String(first.items.data[0]!.price.product));
    const items = (await api.subscriptionItems.list({ subscription: second.id, limit: 100, expand: ['data.discounts.source.coupon'] })).data;
    assert.ok(items.every((i) => typeof i.price.product === 'string' && i.plan.product === i.price.product));
    const names = await api.products.list({ ids: items.map((i) => String(i.price.product)), limit: 100 });
    assert.deepEqual(names.data.map((p) => p.name).sort(), ['Pro', 'Product 2']);
    const tooDeep = await rejection(api.subscriptions.list({ expand: ['data.items.data.price.product'] }));
    assert.match(tooDeep.message, /^You cannot expand more than 4 levels/);
  });
});

describe('scheduled cancellations', () => {
  let cf!: FakeStripe;
  let api!: Stripe;
  const T = Date.UTC(2025, 0, 1) / 1000;
  const FEB_1 = Date.UTC(2025, 1, 1) / 1000;
  const DAY = 86_400;

  beforeAll(async () => {
    cf = await startFakeStripe();
    api = client(cf);
  });

  afterAll(async () => {
    await cf?.close();
  });

  it('cancel_at, cancel_at_period_end, canceled_at, ended_at and trial_end in a list answer', async () => {
    const s = cf.store;
    const customer = s.addCustomer({ email: 'leaving@example.com' }).id;
    const add = (extra: Partial<SubscriptionInput>, items: SubscriptionItemInput[] = [{ unit_amount: 1000 }]) =>
      s.addSubscription({ customer, created: T, items, billing_mode: 'classic', ...extra });
    const plain = add({});
    const atPeriodEnd = add({ cancel_at_period_end: true });
    const explicit = add({ cancel_at: T + 10 * DAY });
    const mixed = add({ cancel_at_period_end: true }, [{ unit_amount: 12_000, interval: 'year' }, { unit_amount: 1000 }]);
    const repeated = add({ cancel_at_period_end: true, cancel_at: FEB_1 });
    const ended = add({ status: 'canceled', cancel_at_period_end: true });
    const endedPlain = add({ status: 'canceled' });
    const earlyTrial = add({ status: 'trialing', cancel_at: T + 5 * DAY });
    const lateTrial = add({ status: 'trialing', cancel_at: T + 20 * DAY });

    const listed = new Map((await api.subscriptions.list({ customer, status: 'all', limit: 100 })).data.map((x) => [x.id, x]));
    const view = (sub: Stripe.Subscription) => {
      const x = listed.get(sub.id)!;
      return [x.status, x.cancel_at, x.cancel_at_period_end, x.canceled_at, x.ended_at];
    };
    assert.deepEqual(view(plain), ['active', null, false, null, null]);
    // Classic billing mode: cancel_at is the items' current_period_end (Feb 1 for a monthly item from Jan 1).
    assert.deepEqual(view(atPeriodEnd), ['active', FEB_1, true, null, null]);
    assert.equal(listed.get(atPeriodEnd.id)!.items.data[0]!.current_period_end, FEB_1);
    assert.deepEqual(view(explicit), ['active', T + 10 * DAY, false, null, null]);
    assert.deepEqual(view(mixed), ['active', FEB_1, true, null, null], 'the earliest item period end');
    assert.deepEqual(view(repeated), ['active', FEB_1, true, null, null]);
    // It did cancel at the period end: ended then; canceled_at is when it was requested (at creation here).
    assert.deepEqual(view(ended), ['canceled', FEB_1, true, T, FEB_1]);
    assert.deepEqual(view(endedPlain), ['canceled', null, false, T + 30 * DAY, T + 30 * DAY], 'unchanged without a schedule');
    assert.deepEqual([listed.get(earlyTrial.id)!.trial_end, listed.get(earlyTrial.id)!.cancel_at], [T + 5 * DAY, T + 5 * DAY], 'cancel_at before trial_end pulls it');
    assert.deepEqual([listed.get(lateTrial.id)!.trial_end, listed.get(lateTrial.id)!.cancel_at], [T + 14 * DAY, T + 20 * DAY]);

    assert.throws(() => add({ cancel_at_period_end: true, cancel_at: T + 10 * DAY }), /cancel_at is the period end/);
    assert.throws(() => add({ cancel_at_period_end: true, cancel_at: null }), /cancel_at is the period end/);
    assert.throws(() => add({ cancel_at: T }), /after the subscription's created/);
    assert.throws(() => add({ status: 'incomplete_expired', cancel_at: T + DAY }), /incomplete_expired/);
  });
});

describe('livemode follows the key', () => {
  /** Every livemode an SDK client sees in one fake's answers, by object. */
  async function modes(apiKey?: string): Promise<{ store: boolean; seen: Record<string, boolean> }> {
    // A restricted key here has every permission these reads need (permissions are tested on their own).
    const permissions = ['customer_read', 'charge_read', 'dispute_read', 'subscription_read', 'coupon_read', 'plan_read', 'product_read'];
    const f = await startFakeStripe(apiKey === undefined ? {} : { apiKey, permissions });
    try {
      const api = client(f, { key: apiKey });
      const s = f.store;
      const c = s.addCustomer({ email: 'mode@example.com' });
      const ch = s.addCharge({ customer: c.id, amount: 1000, currency: 'usd' });
      s.addDispute({ charge: ch.id, status: 'needs_response' });
      const sub = s.addSubscription({ customer: c.id, items: [{ unit_amount: 1000, product_name: 'Pro' }], discounts: [{ percent_off: 10 }] });
      const item = sub.items.data[0]!;
      const listedSub = (await api.subscriptions.list({ expand: ['data.discounts.source.coupon'] })).data[0]!;
      const listedItem = listedSub.items.data[0]!;
      const seen = {
        customer: (await api.customers.list()).data[0]!.livemode,
        customerRetrieve: ((await api.customers.retrieve(c.id)) as Stripe.Customer).livemode,
        charge: (await api.charges.list()).data[0]!.livemode,
        dispute: (await api.disputes.list()).data[0]!.livemode,
        subscription: listedSub.livemode,
        price: listedItem.price.livemode,
        plan: listedItem.plan.livemode,
        coupon: ((listedSub.discounts[0] as Stripe.Discount).source.coupon as Stripe.Coupon).livemode,
        priceRetrieve: (await api.prices.retrieve(item.price.id)).livemode,
        product: (await api.products.list({ ids: [String(item.price.product)], limit: 100 })).data[0]!.livemode,
      };
      return { store: s.livemode, seen };
    } finally {
      await f.close();
    }
  }
  const all = (value: boolean) =>
    Object.fromEntries(
      ['customer', 'customerRetrieve', 'charge', 'dispute', 'subscription', 'price', 'plan', 'coupon', 'priceRetrieve', 'product'].map((k) => [k, value]),
    );

  it('a live key (sk_live_, rk_live_) serves live-mode objects', async () => {
    for (const key of ['sk_live_51LiveKeyAbcdef0123', 'rk_live_51LiveKeyAbcdef0123']) {
      assert.deepEqual(await modes(key), { store: true, seen: all(true) }, key);
    }
  });

  it('a test key (sk_test_, rk_test_, the default) serves test-mode objects', async () => {
    for (const key of ['sk_test_51TestKeyAbcdef0123', 'rk_test_51TestKeyAbcdef0123', undefined]) {
      assert.deepEqual(await modes(key), { store: false, seen: all(false) }, String(key));
    }
    assert.deepEqual([new StripeStore().livemode, new StripeStore({ livemode: true }).livemode], [false, true]);
  });
});

describe('restricted keys: every endpoint and expansion needs its permission', () => {
  const KEY = 'rk_test_51RestrictedKeyAbc0123';
  async function restricted(permissions: string[]) {
    const f = await startFakeStripe({ apiKey: KEY, permissions });
    const c = f.store.addCustomer({ email: 'r@example.com' });
    f.store.addCharge({ customer: c.id, amount: 1000, currency: 'usd' });
    f.store.addSubscription({ customer: c.id, items: [{ unit_amount: 1000 }], discounts: [{ percent_off: 10 }] });
    return { f, api: client(f, { key: KEY }) };
  }
  it('answers 403 naming the permission, with the key masked; a granted one goes through', async () => {
    const { f, api } = await restricted(['customer_read']);
    try {
      assert.equal((await api.customers.list()).data.length, 1);
      const denied = await rejection(api.charges.list());
      assert.equal(denied.statusCode, 403);
      assert.ok(denied instanceof Stripe.errors.StripePermissionError);
      assert.match(denied.message, /^The provided key 'rk_test_\*+0123' does not have the required permissions .* Having the 'rak_charge_read' permission would allow this request to continue\.$/);
      assert.ok(!denied.message.includes('51RestrictedKeyAbc'));
      for (const [call, permission] of [
        [() => api.subscriptions.list(), 'subscription_read'],
        [() => api.disputes.list(), 'dispute_read'],
        [() => api.prices.list({ limit: 1 }), 'plan_read'],
        [() => api.prices.list({ product: 'prod_any', limit: 1 }), 'plan_read'],
        [() => api.charges.retrieve('ch_any'), 'charge_read'],
        [() => api.subscriptions.list({ price: 'price_any' }), 'subscription_read'],
        [() => api.products.list({ limit: 1 }), 'product_read'],
        [() => api.products.list({ limit: 1, expand: ['data.default_price'] }), 'product_read'],
        [() => api.invoices.retrieve('in_any'), 'invoice_read'],
      ] as const)
        assert.match((await rejection(call())).message, new RegExp(`'rak_${permission}'`));
    } finally {
      await f.close();
    }
  });
  it('needs the expanded objects\' permissions too: balance transactions, coupons, charges', async () => {
    const { f, api } = await restricted(['customer_read', 'charge_read', 'subscription_read', 'dispute_read']);
    try {
      assert.equal((await api.charges.list()).data.length, 1);
      assert.match((await rejection(api.charges.list({ expand: ['data.balance_transaction'] }))).message, /'rak_balance_read'/);
      const charge = (await api.charges.list()).data[0]!;
      assert.equal((await api.charges.retrieve(charge.id)).id, charge.id);
      assert.match((await rejection(api.charges.retrieve(charge.id, { expand: ['balance_transaction'] }))).message, /'rak_balance_read'/);
      assert.match((await rejection(api.subscriptions.list({ expand: ['data.discounts.source.coupon'] }))).message, /'rak_coupon_read'/);
      assert.match((await rejection(api.customers.list({ expand: ['data.discount.source.coupon'] }))).message, /'rak_coupon_read'/);
      assert.equal((await api.disputes.list({ expand: ['data.charge'] })).object, 'list');
      assert.match((await rejection(api.products.list({ expand: ['data.default_price'] }))).message, /'rak_product_read'/);
    } finally {
      await f.close();
    }
  });
  it('a secret key has every permission', async () => {
    const f = await startFakeStripe({ permissions: [] });
    try {
      assert.equal((await rejection(client(f).invoices.retrieve('in_none'))).statusCode, 404);
    } finally {
      await f.close();
    }
  });
});

describe('price and subscription shapes of real accounts', () => {
  let sf!: FakeStripe;
  let api!: Stripe;
  beforeAll(async () => {
    sf = await startFakeStripe();
    api = client(sf);
  });
  afterAll(async () => {
    await sf?.close();
  });

  it('currency_options only when expanded; a subscription in another currency needs one', async () => {
    const s = sf.store;
    const c = s.addCustomer({ email: 'multi@example.com' });
    const sub = s.addSubscription({ customer: c.id, currency: 'eur', items: [{ unit_amount: 1000, currency: 'usd', currency_options: { eur: { unit_amount: 900, tax_behavior: 'inclusive' } } }] });
    const priceId = sub.items.data[0]!.price.id;
    const listed = (await api.subscriptions.list({ customer: c.id })).data[0]!;
    assert.deepEqual([listed.currency, listed.items.data[0]!.price.currency, listed.items.data[0]!.price.currency_options], ['eur', 'usd', undefined]);
    assert.equal((await api.prices.retrieve(priceId)).currency_options, undefined);
    const expanded = await api.prices.retrieve(priceId, { expand: ['currency_options'] });
    assert.deepEqual(expanded.currency_options, { eur: { custom_unit_amount: null, tax_behavior: 'inclusive', unit_amount: 900, unit_amount_decimal: '900' } });
    assert.throws(() => s.addSubscription({ customer: c.id, currency: 'gbp', items: [{ unit_amount: 1000, currency: 'usd' }] }), /without a gbp currency option/);
    assert.throws(() => s.addSubscription({ customer: c.id, items: [{ unit_amount: 1000, currency_options: { usd: { unit_amount: 1 } } }] }), /own currency/);
  });

  it('transform_quantity, tax behaviour, tax rates and item trials as the API sends them', async () => {
    const s = sf.store;
    const c = s.addCustomer({ email: 'shapes@example.com' });
    s.addSubscription({
      customer: c.id,
      default_tax_rates: [{ percentage: 19, inclusive: true }],
      items: [
        { unit_amount: 1000, quantity: 12, transform_quantity: { divide_by: 5, round: 'up' }, tax_behavior: 'exclusive', tax_rates: [{ percentage: 7, inclusive: false }] },
        { unit_amount: 500, current_trial: { start_date: 1, end_date: 2 } },
      ],
    });
    const listed = (await api.subscriptions.list({ customer: c.id })).data[0]!;
    const [pack, trial] = listed.items.data;
    assert.deepEqual([pack!.price.transform_quantity, pack!.plan.transform_usage, pack!.price.tax_behavior], [{ divide_by: 5, round: 'up' }, { divide_by: 5, round: 'up' }, 'exclusive']);
    assert.deepEqual(pack!.tax_rates!.map((r) => [r.object, r.percentage, r.inclusive, r.rate_type]), [['tax_rate', 7, false, null]]);
    assert.deepEqual(listed.default_tax_rates!.map((r) => [r.percentage, r.inclusive]), [[19, true]]);
    assert.deepEqual([trial!.current_trial?.start_date, trial!.current_trial?.end_date, trial!.current_trial?.trial_offer.startsWith('trof_')], [1, 2, true]);
    assert.equal(trial!.price.tax_behavior, 'unspecified');
    assert.throws(() => s.addSubscription({ customer: c.id, items: [{ unit_amount: null, transform_quantity: { divide_by: 5, round: 'up' } }] }), /per-unit price/);
  });

  it('flexible billing mode by default; classic on request; paused collection; Stripe Tax with its latest invoice', async () => {
    const s = sf.store;
    const c = s.addCustomer({ email: 'modes@example.com' });
    const flexible = s.addSubscription({ customer: c.id, cancel_at_period_end: true, items: [{ unit_amount: 1000 }] });
    const classic = s.addSubscription({ customer: c.id, billing_mode: 'classic', cancel_at_period_end: true, items: [{ unit_amount: 1000 }] });
    const paused = s.addSubscription({ customer: c.id, pause_collection: { behavior: 'void' }, items: [{ unit_amount: 1000 }] });
    const taxed = s.addSubscription({ customer: c.id, automatic_tax: true, latest_invoice: { subtotal: 1200, subtotal_excluding_tax: 1000 }, items: [{ unit_amount: 1200, tax_behavior: 'inclusive' }] });
    const listed = new Map((await api.subscriptions.list({ customer: c.id, limit: 100 })).data.map((x) => [x.id, x]));
    assert.deepEqual([listed.get(flexible.id)!.billing_mode.type, listed.get(flexible.id)!.cancel_at], ['flexible', null]);
    assert.deepEqual([listed.get(classic.id)!.billing_mode.type, listed.get(classic.id)!.cancel_at], ['classic', classic.items.data[0]!.current_period_end]);
    assert.deepEqual([listed.get(paused.id)!.status, listed.get(paused.id)!.pause_collection], ['active', { behavior: 'void', resumes_at: null }]);
    const t = listed.get(taxed.id)!;
    assert.equal(t.automatic_tax.enabled, true);
    assert.equal(typeof t.latest_invoice, 'string');
    const invoice = await api.invoices.retrieve(t.latest_invoice as string);
    assert.deepEqual([invoice.object, invoice.subtotal, invoice.subtotal_excluding_tax, invoice.currency], ['invoice', 1200, 1000, 'usd']);
    assert.equal((await rejection(api.invoices.retrieve('in_nope'))).statusCode, 404);
  });

  it('customer discounts, expandable; forever amount-off coupons refused on subscriptions and items (since 2025-03-31)', async () => {
    const s = sf.store;
    const c = s.addCustomer({ email: 'disc@example.com', discount: { amount_off: 500, duration: 'forever', currency: 'usd' } });
    const plain = (await api.customers.retrieve(c.id)) as Stripe.Customer;
    assert.equal(typeof plain.discount?.source.coupon, 'string');
    const listed = (await api.customers.list({ expand: ['data.discount.source.coupon'], limit: 100 })).data.find((x) => x.id === c.id)!;
    assert.deepEqual([listed.discount?.customer, listed.discount?.subscription, (listed.discount?.source.coupon as Stripe.Coupon).amount_off], [c.id, null, 500]);
    const retrieved = (await api.customers.retrieve(c.id, { expand: ['discount.source.coupon'] })) as Stripe.Customer;
    assert.equal((retrieved.discount?.source.coupon as Stripe.Coupon).duration, 'forever');
    assert.throws(() => s.addSubscription({ customer: c.id, items: [{ unit_amount: 1000 }], discounts: [{ amount_off: 100, duration: 'forever' }] }), /cannot be attached to a subscription/);
    assert.throws(() => s.addSubscription({ customer: c.id, items: [{ unit_amount: 1000, discounts: [{ amount_off: 100 }] }] }), /cannot be attached to a subscription item/);
    assert.equal((await api.prices.list({ limit: 1 })).data.length, 1);
  });
});

describe('failed charges, delinquent customers, trials and cancellations (what the sync reads for issue 21)', () => {
  let f!: FakeStripe;
  let api!: Stripe;
  const T = Date.UTC(2025, 0, 1) / 1000;
  const DAY = 86_400;
  beforeAll(async () => {
    f = await startFakeStripe();
    api = client(f);
  });
  afterAll(async () => {
    await f?.close();
  });

  it('failed charges carry failure_code, failure_message and the outcome of each documented decline; a Radar block is outcome.type blocked', async () => {
    const s = f.store;
    const c = s.addCustomer({ email: 'declines@example.com' });
    const made = new Map<string, Stripe.Charge>();
    let t = T;
    for (const decline of Object.keys(CHARGE_DECLINES) as ChargeDecline[]) {
      made.set(decline, s.addCharge({ customer: c.id, amount: 1000, currency: 'usd', status: 'failed', decline, created: (t += 60) }));
    }
    const plainFailed = s.addCharge({ customer: c.id, amount: 1000, currency: 'usd', status: 'failed', created: (t += 60) });
    const listed = new Map((await api.charges.list({ customer: c.id, limit: 100 })).data.map((x) => [x.id, x]));
    const view = (ch: Stripe.Charge) => {
      const x = listed.get(ch.id)!;
      return [x.status, x.paid, x.captured, x.amount_captured, x.balance_transaction, x.failure_code, x.failure_message, x.outcome?.type, x.outcome?.reason, x.outcome?.network_status, x.outcome?.risk_level, x.outcome?.seller_message];
    };
    const failedPart = ['failed', false, false, 0, null] as const;
    assert.deepEqual(view(made.get('generic_decline')!), [...failedPart, 'card_declined', 'Your card was declined.', 'issuer_declined', 'generic_decline', 'declined_by_network', 'normal', 'The bank did not return any further details with this decline.']);
    assert.deepEqual(view(plainFailed), view(made.get('generic_decline')!), 'the default decline is the generic one');
    assert.deepEqual(view(made.get('insufficient_funds')!), [...failedPart, 'card_declined', 'Your card has insufficient funds.', 'issuer_declined', 'insufficient_funds', 'declined_by_network', 'normal', 'The bank returned the decline code `insufficient_funds`.']);
    assert.deepEqual(view(made.get('stolen_card')!).slice(5, 9), ['card_declined', 'Your card was declined.', 'issuer_declined', 'stolen_card']);
    assert.deepEqual(view(made.get('expired_card')!), [...failedPart, 'expired_card', 'Your card has expired.', 'issuer_declined', 'expired_card', 'declined_by_network', 'normal', 'The bank returned the decline code `expired_card`.']);
    assert.deepEqual(view(made.get('incorrect_cvc')!).slice(5, 9), ['incorrect_cvc', "Your card's security code is incorrect.", 'issuer_declined', 'incorrect_cvc']);
    assert.deepEqual(view(made.get('radar_block')!), [...failedPart, 'card_declined', 'Your card was declined.', 'blocked', 'highest_risk_level', 'not_sent_to_network', 'highest', 'Stripe blocked this charge as too risky.']);
    const outcome = listed.get(made.get('expired_card')!.id)!.outcome!;
    assert.deepEqual([outcome.advice_code, outcome.network_advice_code, outcome.network_decline_code, 'risk_score' in outcome, 'rule' in outcome], [null, null, null, false, false]);
    assert.throws(() => s.addCharge({ customer: c.id, amount: 1, currency: 'usd', decline: 'expired_card' }), /only a failed charge/);
    assert.throws(() => s.addCharge({ customer: c.id, amount: 1, currency: 'usd', status: 'failed', risk: 'elevated' }), /risk is for/);
  });

  it('succeeded and pending charges: no failure, Radar risk outcomes as documented, or no outcome at all', async () => {
    const s = f.store;
    const c = s.addCustomer({ email: 'risks@example.com' });
    const normal = s.addCharge({ customer: c.id, amount: 500, currency: 'usd' });
    const elevated = s.addCharge({ customer: c.id, amount: 500, currency: 'usd', risk: 'elevated' });
    const notAssessed = s.addCharge({ customer: c.id, amount: 500, currency: 'usd', risk: 'not_assessed' });
    const unknown = s.addCharge({ customer: c.id, amount: 500, currency: 'usd', risk: 'unknown' });
    const pending = s.addCharge({ customer: c.id, amount: 500, currency: 'usd', status: 'pending' });
    const bare = s.addCharge({ customer: c.id, amount: 500, currency: 'usd', outcome: null });
    const listed = new Map((await api.charges.list({ customer: c.id, limit: 100 })).data.map((x) => [x.id, x]));
    const view = (ch: Stripe.Charge) => {
      const x = listed.get(ch.id)!;
      return [x.status, x.failure_code, x.failure_message, x.outcome && [x.outcome.type, x.outcome.reason, x.outcome.risk_level, x.outcome.network_status]];
    };
    assert.deepEqual(view(normal), ['succeeded', null, null, ['authorized', null, 'normal', 'approved_by_network']]);
    assert.equal(listed.get(normal.id)!.outcome!.seller_message, 'The charge was authorized.');
    assert.deepEqual(view(elevated), ['succeeded', null, null, ['manual_review', 'elevated_risk_level', 'elevated', 'approved_by_network']]);
    assert.deepEqual(view(notAssessed), ['succeeded', null, null, ['authorized', 'not_assessed_risk_level', 'not_assessed', 'approved_by_network']]);
    assert.deepEqual(view(unknown), ['succeeded', null, null, ['authorized', 'unknown_risk_level', 'unknown', 'approved_by_network']]);
    assert.deepEqual(view(pending), ['pending', null, null, ['authorized', null, 'normal', 'approved_by_network']]);
    assert.deepEqual(view(bare), ['succeeded', null, null, null]);
  });

  it('a failed charge followed by a later succeeded one: both listed newest first, each with its own created', async () => {
    const s = f.store;
    const c = s.addCustomer({ email: 'retried@example.com' });
    const old = s.addCharge({ customer: c.id, amount: 900, currency: 'usd', created: T + DAY });
    const failed = s.addCharge({ customer: c.id, amount: 900, currency: 'usd', status: 'failed', decline: 'insufficient_funds', created: T + 2 * DAY });
    const retried = s.addCharge({ customer: c.id, amount: 900, currency: 'usd', created: T + 3 * DAY });
    const listed = (await api.charges.list({ customer: c.id })).data;
    assert.deepEqual(listed.map((x) => [x.id, x.status, x.created]), [
      [retried.id, 'succeeded', T + 3 * DAY],
      [failed.id, 'failed', T + 2 * DAY],
      [old.id, 'succeeded', T + DAY],
    ]);
  });

  it('customers: delinquent true, false (the default), null, or left out', async () => {
    const s = f.store;
    const yes = s.addCustomer({ email: 'late@example.com', delinquent: true });
    const no = s.addCustomer({ email: 'ontime@example.com' });
    const unknown = s.addCustomer({ email: 'null@example.com', delinquent: null });
    const absent = s.addCustomer({ email: 'absent@example.com', delinquent: 'absent' });
    const listed = new Map((await api.customers.list({ limit: 100 })).data.map((x) => [x.id, x]));
    assert.deepEqual([yes, no, unknown].map((c) => listed.get(c.id)!.delinquent), [true, false, null]);
    assert.equal('delinquent' in listed.get(absent.id)!, false);
    assert.equal(((await api.customers.retrieve(yes.id)) as Stripe.Customer).delinquent, true);
  });

  it('subscriptions: trials (running, ended, default), ends (ended_at, canceled_at), scheduled ends and the items\' periods', async () => {
    const s = f.store;
    const customer = s.addCustomer({ email: 'lifecycle@example.com' }).id;
    const add = (extra: Partial<SubscriptionInput>, items: SubscriptionItemInput[] = [{ unit_amount: 1000 }]) => s.addSubscription({ customer, created: T, items, ...extra });
    const defaultTrial = add({ status: 'trialing' });
    const trial = add({ status: 'trialing', trial: { start: T + DAY, end: T + 8 * DAY } });
    const afterTrial = add({ status: 'active', trial: { end: T + 7 * DAY } });
    const plain = add({});
    const ended = add({ status: 'canceled', ended_at: T + 40 * DAY, canceled_at: T + 10 * DAY });
    const endedDefault = add({ status: 'canceled' });
    const scheduled = add({ cancel_at: T + 20 * DAY });
    const atPeriodEnd = add({ cancel_at_period_end: true });
    const atPeriodEndClassic = add({ cancel_at_period_end: true, billing_mode: 'classic', current_period_start: T + 5 * DAY });
    const listed = new Map((await api.subscriptions.list({ customer, status: 'all', limit: 100 })).data.map((x) => [x.id, x]));
    const view = (sub: Stripe.Subscription) => {
      const x = listed.get(sub.id)!;
      return [x.status, x.trial_start, x.trial_end, x.cancel_at_period_end, x.cancel_at, x.canceled_at, x.ended_at];
    };
    assert.deepEqual(view(defaultTrial), ['trialing', T, T + 14 * DAY, false, null, null, null]);
    assert.deepEqual(view(trial), ['trialing', T + DAY, T + 8 * DAY, false, null, null, null]);
    assert.deepEqual(view(afterTrial), ['active', T, T + 7 * DAY, false, null, null, null]);
    assert.deepEqual(view(plain), ['active', null, null, false, null, null, null]);
    assert.deepEqual(view(ended), ['canceled', null, null, false, null, T + 10 * DAY, T + 40 * DAY]);
    assert.deepEqual(view(endedDefault), ['canceled', null, null, false, null, T + 30 * DAY, T + 30 * DAY]);
    assert.deepEqual(view(scheduled), ['active', null, null, false, T + 20 * DAY, null, null]);
    assert.deepEqual(view(atPeriodEnd), ['active', null, null, true, null, null, null], 'flexible billing mode: cancel_at stays null');
    const classicItem = listed.get(atPeriodEndClassic.id)!.items.data[0]!;
    assert.deepEqual([classicItem.current_period_start, classicItem.current_period_end], [T + 5 * DAY, Date.UTC(2025, 1, 6) / 1000]);
    assert.deepEqual(view(atPeriodEndClassic), ['active', null, null, true, Date.UTC(2025, 1, 6) / 1000, null, null], 'classic: cancel_at is the item period end');

    assert.throws(() => add({ status: 'trialing', trial: null }), /trialing subscription has a trial/);
    assert.throws(() => add({ status: 'trialing', trial: { end: T } }), /ends after it starts/);
    assert.throws(() => add({ ended_at: T + DAY }), /for status canceled/);
    assert.throws(() => add({ status: 'canceled', cancel_at: T + DAY, ended_at: T + 2 * DAY }), /equal cancel_at/);
    assert.throws(() => add({ status: 'canceled', ended_at: T + DAY, canceled_at: T + 2 * DAY }), /between created and ended_at/);
    assert.throws(() => add({ current_period_start: T - 1 }), /current_period_start/);
  });
});

describe('GET /v1/events (issue 22)', () => {
  const DAY = 86_400;
  const T = Date.UTC(2025, 5, 1) / 1000;
  const fakes: FakeStripe[] = [];
  async function fresh(opts: Parameters<typeof startFakeStripe>[0] = {}) {
    const f = await startFakeStripe(opts);
    fakes.push(f);
    return { f, s: f.store, api: client(f, { key: opts.apiKey }) };
  }
  afterAll(async () => {
    await Promise.all(fakes.map((f) => f.close()));
  });
  const listed = async (api: Stripe, params: Stripe.EventListParams = {}) => (await api.events.list({ limit: 100, ...params })).data;
  const typesOf = (events: Stripe.Event[]) => events.map((e) => e.type);

  it('newest first (ties: the later recorded first), cursor pagination with starting_after; ending_before not implemented; the event object', async () => {
    const { f, s, api } = await fresh({ now: T });
    const customers = Array.from({ length: 23 }, (_, i) => s.addCustomer({ email: `e${i}@example.com`, created: T - DAY + i * 60 }));
    const tieA = s.addCustomer({ email: 'tie-a@example.com', created: T - 60 });
    const tieB = s.addCustomer({ email: 'tie-b@example.com', created: T - 60 });
    f.resetStats();
    const all = await api.events.list({ limit: 10 }).autoPagingToArray({ limit: 100 });
    assert.equal(all.length, 25);
    const ids = (e: Stripe.Event) => (e.data.object as Stripe.Customer).id;
    assert.deepEqual(all.slice(0, 2).map(ids), [tieB.id, tieA.id]);
    assert.deepEqual(all.slice(2).map(ids), customers.map((c) => c.id).reverse());
    assert.deepEqual(f.requests.map((r) => r.query), ['limit=10', `limit=10&starting_after=${all[9]!.id}`, `limit=10&starting_after=${all[19]!.id}`]);
    const last = await api.events.list({ limit: 10, starting_after: all[19]!.id });
    assert.deepEqual([last.data.length, last.has_more, last.url], [5, false, '/v1/events']);
    const e = all[0]!;
    assert.match(e.id, /^evt_/);
    assert.deepEqual(
      [e.object, e.type, e.api_version, e.created, e.livemode, e.pending_webhooks, e.request, 'previous_attributes' in e.data],
      ['event', 'customer.created', API_VERSION, T - 60, false, 0, { id: null, idempotency_key: null }, false],
    );
    assert.equal(JSON.stringify(e.data.object), JSON.stringify(await api.customers.retrieve(tieB.id)), 'an unchanged object is its current self');
    const before = await rejection(api.events.list({ ending_before: all[5]!.id }));
    assert.deepEqual([before.statusCode, before.code], [400, 'fake_not_implemented']);
    for (const params of [{ delivery_success: true }, { expand: ['data.data.object.customer'] }] as Stripe.EventListParams[]) {
      assert.equal((await rejection(api.events.list(params))).code, 'fake_not_implemented');
    }
    const cursor = await rejection(api.events.list({ starting_after: 'evt_nope' }));
    assert.deepEqual([cursor.statusCode, cursor.code, cursor.param], [400, 'resource_missing', 'starting_after']);
    assert.equal((await rejection(api.events.list({ limit: 101 }))).param, 'limit');
  });

  it('created[gte] / [gt] / [lt] / [lte] and created=N', async () => {
    const { s, api } = await fresh({ now: T });
    const at = [T - 400, T - 300, T - 200, T - 100];
    for (const created of at) s.addCustomer({ created });
    const times = async (created: Stripe.RangeQueryParam | number) => (await listed(api, { created })).map((e) => e.created);
    assert.deepEqual(await times({ gte: T - 300 }), [T - 100, T - 200, T - 300]);
    assert.deepEqual(await times({ gt: T - 300 }), [T - 100, T - 200]);
    assert.deepEqual(await times({ lt: T - 200 }), [T - 300, T - 400]);
    assert.deepEqual(await times({ lte: T - 200 }), [T - 200, T - 300, T - 400]);
    assert.deepEqual(await times({ gt: T - 400, lt: T - 100 }), [T - 200, T - 300]);
    assert.deepEqual(await times(T - 300), [T - 300]);
    const paged = await api.events.list({ created: { lte: T - 100, gte: T - 400 }, limit: 2 });
    assert.deepEqual([paged.data.map((e) => e.created), paged.has_more], [[T - 100, T - 200], true]);
    const next = await api.events.list({ created: { lte: T - 100, gte: T - 400 }, limit: 2, starting_after: paged.data[1]!.id });
    assert.deepEqual([next.data.map((e) => e.created), next.has_more], [[T - 300, T - 400], false]);
  });

  it('type: one name, or a trailing * wildcard (customer.*, charge.*, *); a * elsewhere not implemented', async () => {
    const { s, api } = await fresh();
    const c = s.addCustomer({ email: 'types@example.com', discount: { percent_off: 10 } });
    const ch = s.addCharge({ customer: c.id, amount: 1000, currency: 'usd' });
    s.addDispute({ charge: ch.id, status: 'needs_response' });
    s.addSubscription({ customer: c.id, items: [{ unit_amount: 1000 }] });
    s.updateCustomer(c.id, { name: 'Typed' });
    assert.deepEqual(typesOf(await listed(api, { type: 'customer.updated' })), ['customer.updated']);
    assert.deepEqual(typesOf(await listed(api, { type: 'customer.*' })), ['customer.updated', 'customer.subscription.created', 'customer.discount.created', 'customer.created']);
    assert.deepEqual(typesOf(await listed(api, { type: 'charge.*' })), ['charge.dispute.funds_withdrawn', 'charge.dispute.created', 'charge.succeeded']);
    assert.equal((await listed(api, { type: '*' })).length, (await listed(api)).length);
    assert.deepEqual(typesOf(await listed(api, { type: 'invoice.paid' })), []);
    const inner = await rejection(api.events.list({ type: '*.created' }));
    assert.deepEqual([inner.statusCode, inner.code, inner.param], [400, 'fake_not_implemented', 'type']);
  });

  it('types[]: up to 20 names, never with type, no wildcards', async () => {
    const { s, api } = await fresh();
    const c = s.addCustomer({ email: 'many@example.com' });
    s.addCharge({ customer: c.id, amount: 1000, currency: 'usd' });
    s.addCharge({ customer: c.id, amount: 1000, currency: 'usd', status: 'failed' });
    assert.deepEqual(typesOf(await listed(api, { types: ['charge.failed', 'customer.created'] })), ['charge.failed', 'customer.created']);
    const twenty = [...RECORDED_EVENT_TYPES.filter((t) => t !== 'charge.failed').slice(0, 19), 'charge.failed'];
    assert.equal(new Set(twenty).size, 20);
    assert.deepEqual(typesOf(await listed(api, { types: twenty })), ['charge.failed', 'charge.succeeded', 'customer.created']);
    const tooMany = await rejection(api.events.list({ types: [...twenty, 'charge.refunded'] }));
    assert.deepEqual([tooMany.statusCode, tooMany.type, tooMany.param], [400, 'StripeInvalidRequestError', 'types']);
    const both = await rejection(api.events.list({ type: 'charge.failed', types: ['customer.created'] }));
    assert.deepEqual([both.statusCode, both.param, both.message], [400, 'types', 'You may pass either `type` or `types`, but not both.']);
    assert.equal((await rejection(api.events.list({ types: ['charge.*'] }))).param, 'types');
  });

  it('30-day retention from the store\'s present: older events are not listed; the present is settable, by default the newest event', async () => {
    const { s, api } = await fresh();
    const old = s.addCustomer({ email: 'old@example.com', created: T - 31 * DAY });
    const edge = s.addCustomer({ email: 'edge@example.com', created: T - 30 * DAY });
    const recent = s.addCustomer({ email: 'recent@example.com', created: T - DAY });
    const objectIds = async () => (await listed(api)).map((e) => (e.data.object as Stripe.Customer).id);
    assert.equal(s.now(), T - DAY, 'the default present: the newest event');
    assert.deepEqual(await objectIds(), [recent.id, edge.id, old.id], 'the oldest is exactly 30 days before the newest');
    s.setNow(T);
    assert.deepEqual(await objectIds(), [recent.id, edge.id], '31 days old: gone; exactly 30: still listed');
    s.setNow(T + 29 * DAY);
    assert.deepEqual(await objectIds(), [recent.id]);
    s.setNow(T + 29 * DAY + 1);
    assert.deepEqual(await objectIds(), []);
    s.setNow(T);
    assert.deepEqual((await listed(api, { created: { gte: T - 40 * DAY } })).length, 2, 'a created window does not reach past the 30 days');
    s.setNow(null);
    assert.equal(s.now(), T - DAY);
  });

  it('restricted keys need event_read: 403 naming rak_event_read without it', async () => {
    const KEY = 'rk_test_51EventsKeyAbc0123';
    const denied = await fresh({ apiKey: KEY, permissions: ['customer_read'] });
    denied.s.addCustomer({ email: 'rk@example.com' });
    const err = await rejection(denied.api.events.list());
    assert.ok(err instanceof Stripe.errors.StripePermissionError);
    assert.match(err.message, /Having the 'rak_event_read' permission would allow this request to continue\.$/);
    const granted = await fresh({ apiKey: KEY, permissions: ['event_read'] });
    granted.s.addCustomer({ email: 'rk@example.com' });
    assert.deepEqual(typesOf(await listed(granted.api)), ['customer.created']);
  });

  it('payloads are snapshots of the object at the event, not the current object, unexpanded; previous_attributes only on *.updated', async () => {
    const { s, api } = await fresh();
    const c = s.addCustomer({ email: 'snap@example.com', name: 'Before', metadata: { tier: 'a' } });
    const ch = s.addCharge({ customer: c.id, amount: 2000, currency: 'usd' });
    const sub = s.addSubscription({ customer: c.id, items: [{ unit_amount: 1000 }], discounts: [{ percent_off: 10 }] });
    s.updateCustomer(c.id, { name: 'After', metadata: { tier: 'b' } });
    s.refundCharge(ch.id, 500);
    s.updatePrice(sub.items.data[0]!.price.id, { nickname: 'Renamed' });
    const events = await listed(api);
    const one = (type: string) => events.find((e) => e.type === type)!;
    const created = one('customer.created').data.object as Stripe.Customer;
    const updated = one('customer.updated');
    assert.deepEqual([created.name, created.metadata], ['Before', { tier: 'a' }]);
    assert.deepEqual([(updated.data.object as Stripe.Customer).name, updated.data.previous_attributes], ['After', { name: 'Before', metadata: { tier: 'a' } }]);
    assert.equal(((await api.customers.retrieve(c.id)) as Stripe.Customer).name, 'After');
    const succeeded = one('charge.succeeded').data.object as Stripe.Charge;
    const refunded = one('charge.refunded');
    assert.deepEqual([succeeded.amount_refunded, (refunded.data.object as Stripe.Charge).amount_refunded, 'previous_attributes' in refunded.data], [0, 500, false]);
    assert.equal(typeof succeeded.balance_transaction, 'string', 'no expansions in payloads');
    const subCreated = one('customer.subscription.created').data.object as Stripe.Subscription;
    assert.deepEqual([subCreated.items.data[0]!.price.nickname, typeof subCreated.discounts[0]], [null, 'string']);
    const priceUpdated = one('price.updated');
    assert.deepEqual([(priceUpdated.data.object as Stripe.Price).nickname, priceUpdated.data.previous_attributes], ['Renamed', { nickname: null }]);
    assert.equal((await api.subscriptions.list({ customer: c.id })).data[0]!.items.data[0]!.price.nickname, 'Renamed');
  });

  it('events keep the API version they were recorded in, and render their payload in it (subscription periods before 2025-03-31.basil); the request\'s version does not matter', async () => {
    const { s, f } = await fresh();
    const c = s.addCustomer({ email: 'versions@example.com' });
    s.eventApiVersion = '2025-02-24.acacia';
    const old = s.addSubscription({ customer: c.id, created: T, items: [{ unit_amount: 1000 }] });
    s.eventApiVersion = API_VERSION;
    s.updateSubscription(old.id, { metadata: { k: 'v' } }, { at: T + 60 });
    s.updateSubscription(old.id, { metadata: { k: 'w' } }, { at: T + 120, apiVersion: '2024-06-20' });
    const olderClient = new Stripe(DEFAULT_API_KEY, { host: '127.0.0.1', port: f.port, protocol: 'http', telemetry: false, maxNetworkRetries: 0, apiVersion: '2024-06-20' as Stripe.LatestApiVersion });
    const [latest2024, current, acacia] = (await olderClient.events.list({ type: 'customer.subscription.*', limit: 100 })).data;
    const period = (e: Stripe.Event) => {
      const o = e.data.object as unknown as Record<string, unknown> & Stripe.Subscription;
      return [e.api_version, o.current_period_start, o.current_period_end, 'current_period_end' in o.items.data[0]!];
    };
    const FEB = Date.UTC(2025, 6, 1) / 1000;
    assert.deepEqual(period(acacia!), ['2025-02-24.acacia', T, FEB, false]);
    assert.deepEqual(period(current!), [API_VERSION, undefined, undefined, true]);
    assert.deepEqual(period(latest2024!), ['2024-06-20', T, FEB, false]);
    assert.equal(s.recordedEvents().find((e) => e.type === 'customer.created')!.api_version, API_VERSION);
    assert.throws(() => s.updateCustomer(c.id, { name: 'x' }, { apiVersion: 'yesterday' }), /not an API version/);
  });

  it('one event per change, with the documented type, for every mutation helper (and the seeding builders)', async () => {
    const { s, api } = await fresh();
    let seen = 0;
    /** The types recorded since the last call, oldest first; and the same through the API. */
    const since = async () => {
      const all = s.recordedEvents();
      const fresh = all.slice(seen);
      seen = all.length;
      const viaApi = (await listed(api)).slice(0, fresh.length).reverse();
      assert.deepEqual(viaApi.map((e) => e.id), fresh.map((e) => e.id));
      return typesOf(fresh);
    };
    const c = s.addCustomer({ email: 'all@example.com' });
    assert.deepEqual(await since(), ['customer.created']);
    s.updateCustomer(c.id, { delinquent: true });
    assert.deepEqual(await since(), ['customer.updated']);
    s.updateCustomer(c.id, { delinquent: true });
    assert.deepEqual(await since(), [], 'no change, no event');
    s.attachCustomerDiscount(c.id, { percent_off: 15 });
    assert.deepEqual(await since(), ['coupon.created', 'customer.discount.created', 'customer.updated']);
    s.attachCustomerDiscount(c.id, { percent_off: 20 });
    assert.deepEqual(await since(), ['coupon.created', 'customer.discount.updated', 'customer.updated']);
    s.removeCustomerDiscount(c.id);
    assert.deepEqual(await since(), ['customer.discount.deleted', 'customer.updated']);
    assert.equal(s.customer(c.id).discount, null);

    const paid = s.addCharge({ customer: c.id, amount: 3000, currency: 'usd' });
    s.addCharge({ customer: c.id, amount: 3000, currency: 'usd', status: 'pending' });
    s.addCharge({ customer: c.id, amount: 3000, currency: 'usd', status: 'failed', decline: 'expired_card' });
    const auth = s.addCharge({ customer: c.id, amount: 3000, currency: 'usd', captured: false, amount_captured: 0 });
    assert.deepEqual(await since(), ['charge.succeeded', 'charge.pending', 'charge.failed', 'charge.succeeded']);
    s.refundCharge(paid.id, 1000);
    s.captureCharge(auth.id, { amount: 2000 });
    s.updateCharge(paid.id, { description: 'Order 1' });
    assert.deepEqual(await since(), ['charge.refunded', 'charge.captured', 'charge.updated']);
    assert.deepEqual([auth.captured, auth.amount_captured, typeof auth.balance_transaction], [true, 2000, 'string']);

    const inquiry = s.addDispute({ charge: paid.id, status: 'warning_needs_response', amount: 500 });
    const formal = s.addDispute({ charge: auth.id, status: 'needs_response' });
    assert.deepEqual(await since(), ['charge.dispute.created', 'charge.dispute.created', 'charge.dispute.funds_withdrawn']);
    s.updateDispute(formal.id, 'under_review');
    s.updateDispute(inquiry.id, 'warning_under_review');
    assert.deepEqual(await since(), ['charge.dispute.updated', 'charge.dispute.updated']);
    s.closeDispute(formal.id, 'won');
    s.closeDispute(inquiry.id, 'warning_closed');
    assert.deepEqual(await since(), ['charge.dispute.closed', 'charge.dispute.funds_reinstated', 'charge.dispute.closed']);
    assert.deepEqual(formal.balance_transactions.map((t) => t.amount), [-2000, 2000]);
    assert.throws(() => s.updateDispute(formal.id, 'under_review'), /not modelled/);

    const sub = s.addSubscription({ customer: c.id, items: [{ unit_amount: 1000, product_name: 'Plan' }], discounts: [{ percent_off: 5 }] });
    assert.deepEqual(await since(), ['product.created', 'price.created', 'coupon.created', 'customer.subscription.created']);
    s.updateSubscription(sub.id, { cancel_at_period_end: true }, { at: sub.created + 100 });
    s.pauseSubscription(sub.id);
    s.resumeSubscription(sub.id);
    assert.deepEqual(await since(), ['customer.subscription.updated', 'customer.subscription.updated', 'customer.subscription.paused', 'customer.subscription.updated', 'customer.subscription.resumed']);
    const itemId = sub.items.data[0]!.id;
    s.changeQuantity(sub.id, itemId, 3);
    assert.deepEqual(await since(), ['customer.subscription.updated']);
    const upgrade = s.recordedEvents().at(-1)!;
    const itemsOf = (object: unknown) => (object as Stripe.Subscription).items.data.map((i) => [i.id, i.quantity]);
    assert.deepEqual([itemsOf(upgrade.data.object), itemsOf(upgrade.data.previous_attributes)], [[[itemId, 3]], [[itemId, 1]]], 'the event holds the new quantity, previous_attributes the old');
    assert.throws(() => s.changeQuantity(sub.id, 'si_nope', 2), /has no item/);
    s.cancelSubscription(sub.id);
    assert.deepEqual(await since(), ['customer.subscription.deleted']);
    assert.throws(() => s.changeQuantity(sub.id, itemId, 2), /has ended/);
    assert.deepEqual([sub.status, sub.canceled_at], ['canceled', sub.created + 100], 'canceled_at: when it was scheduled');
    const trial = s.addSubscription({ customer: c.id, status: 'trialing', items: [{ unit_amount: 1000 }] });
    const trialEnd = trial.trial_end!;
    s.trialWillEnd(trial.id);
    s.updateSubscription(trial.id, { trial_end: 'now' }, { at: trialEnd - DAY });
    assert.deepEqual(await since(), ['product.created', 'price.created', 'customer.subscription.created', 'customer.subscription.trial_will_end', 'customer.subscription.updated']);
    const trialEvents = s.recordedEvents().slice(-2);
    assert.deepEqual([trialEvents[0]!.created, trialEvents[0]!.request], [trialEnd - 3 * DAY, { id: null, idempotency_key: null }], 'three days before the trial ends');
    assert.deepEqual([trial.status, trial.trial_end, trialEvents[1]!.data.previous_attributes], ['active', trialEnd - DAY, { status: 'trialing', trial_end: trialEnd }]);

    const productId = String(sub.items.data[0]!.price.product);
    s.renameProduct(productId, 'Plan 2');
    s.updateProduct(productId, { active: false });
    s.updatePrice(sub.items.data[0]!.price.id, { lookup_key: 'plan' });
    s.updateCoupon(String((s.discounts.get(String(sub.discounts[0]))!).source.coupon), { name: 'Five' });
    assert.deepEqual(await since(), ['product.updated', 'product.updated', 'price.updated', 'coupon.updated']);
    const renamed = s.recordedEvents().find((e) => e.type === 'product.updated')!;
    assert.deepEqual(Object.keys(renamed.data.previous_attributes!), ['name', 'updated']);

    const other = s.addSubscription({ customer: c.id, created: trialEnd, items: [{ unit_amount: 1000 }] });
    await since();
    s.deleteCustomer(c.id, { request: { id: 'req_delete', idempotency_key: 'key-1' } });
    const deletion = s.recordedEvents().slice(-2);
    assert.deepEqual(deletion.map((e) => [e.type, (e.data.object as { id: string }).id, e.request]), [
      ['customer.subscription.deleted', other.id, { id: 'req_delete', idempotency_key: 'key-1' }],
      ['customer.deleted', c.id, { id: 'req_delete', idempotency_key: 'key-1' }],
    ]);
    for (const e of s.recordedEvents()) {
      assert.ok((RECORDED_EVENT_TYPES as readonly string[]).includes(e.type));
      // Only *.updated events carry previous_attributes (types Event.Data); customer.discount.updated's are not documented: left out.
      assert.equal('previous_attributes' in e.data, e.type.endsWith('.updated') && e.type !== 'customer.discount.updated', e.type);
    }
  });

  it('recordSeedEvents: false seeds silently (the mutation helpers still record); a live key records live-mode events', async () => {
    const { s, api } = await fresh({ recordSeedEvents: false, apiKey: 'sk_live_51EventsLive0123' });
    const c = s.addCustomer({ email: 'quiet@example.com' });
    const ch = s.addCharge({ customer: c.id, amount: 1000, currency: 'usd' });
    s.addSubscription({ customer: c.id, items: [{ unit_amount: 1000 }], discounts: [{ percent_off: 5 }] });
    assert.equal(s.recordedEventCount, 0);
    s.refundCharge(ch.id, 100, { request: null });
    const events = await listed(api);
    assert.equal(events[0]!.request, null);
    assert.deepEqual(events.map((e) => [e.type, e.livemode]), [['charge.refunded', true]]);
    s.recordSeedEvents = true;
    s.addCustomer({ email: 'loud@example.com' });
    assert.deepEqual(typesOf(await listed(api)), ['customer.created', 'charge.refunded']);
    assert.throws(() => s.refundCharge(ch.id, 100, { at: ch.created - 1 }), /predate/);
  });
});

// ------------------------------------------------------------------------------------------------
// The reads of the incremental mode (issue 22): a charge by id, a product's prices, a price's
// subscriptions. A fake of their own.
// ------------------------------------------------------------------------------------------------

describe('incremental reads (issue 22): GET /v1/charges/:id, /v1/prices?product=, /v1/subscriptions?price=', () => {
  let f!: FakeStripe;
  let api!: Stripe;
  let buyer!: Stripe.Customer;
  let other!: Stripe.Customer;
  let charge!: Stripe.Charge;
  let pendingCharge!: Stripe.Charge;
  let first!: Stripe.Subscription; // Pro monthly (shared below) + a plain item
  let yearly!: Stripe.Subscription; // a new yearly price on Pro
  let ended!: Stripe.Subscription; // canceled, on Pro monthly
  let wide!: Stripe.Subscription; // 25 items, Pro monthly the 20th (not embedded)
  let elsewhere!: Stripe.Subscription; // another customer, on Pro monthly
  let proMonthly!: string;
  let pro!: string;

  beforeAll(async () => {
    f = await startFakeStripe();
    api = client(f);
    const s = f.store;
    buyer = s.addCustomer({ email: 'inc@example.com' });
    other = s.addCustomer({ email: 'other@example.com' });
    charge = s.addCharge({ customer: buyer.id, amount: 4200, currency: 'eur', settlement: { currency: 'usd', amount: 4500 } });
    pendingCharge = s.addCharge({ customer: buyer.id, amount: 100, currency: 'usd', status: 'pending' });
    first = s.addSubscription({ customer: buyer.id, items: [{ unit_amount: 2000, product_name: 'Pro' }, { unit_amount: 500 }] });
    proMonthly = first.items.data[0]!.price.id;
    pro = String(first.items.data[0]!.price.product);
    yearly = s.addSubscription({ customer: buyer.id, items: [{ unit_amount: 20_000, interval: 'year', product_id: pro }] });
    ended = s.addSubscription({ customer: buyer.id, status: 'canceled', items: [{ unit_amount: null, price_id: proMonthly }] });
    wide = s.addSubscription({
      customer: buyer.id,
      items: Array.from({ length: 25 }, (_, i) => (i === 19 ? { unit_amount: null, price_id: proMonthly } : { unit_amount: 100 + i })),
    });
    elsewhere = s.addSubscription({ customer: other.id, items: [{ unit_amount: null, price_id: proMonthly }] });
  });

  afterAll(async () => {
    await f?.close();
  });

  it('GET /v1/charges/:id: the charge as the list has it; balance_transaction an id, expanded with expand[]=balance_transaction', async () => {
    const listed = (await api.charges.list({ customer: buyer.id })).data.find((c) => c.id === charge.id)!;
    const one = await api.charges.retrieve(charge.id);
    assert.deepEqual({ ...one }, { ...listed });
    assert.match(one.balance_transaction as string, /^txn_/);
    const expanded = await api.charges.retrieve(charge.id, { expand: ['balance_transaction'] });
    const bt = expanded.balance_transaction as Stripe.BalanceTransaction;
    assert.deepEqual([bt.object, bt.id, bt.amount, bt.currency], ['balance_transaction', one.balance_transaction, 4500, 'usd']);
    assert.equal((await api.charges.retrieve(pendingCharge.id, { expand: ['balance_transaction'] })).balance_transaction, null);
    assert.equal(f.store.find(charge.id)!.object, 'charge');
    assert.equal(typeof (f.store.find(charge.id) as Stripe.Charge).balance_transaction, 'string', 'the store is not changed by an expansion');
  });

  it('GET /v1/charges/:id: 404 resource_missing for an unknown id (or another object\'s); expansions refused as elsewhere', async () => {
    for (const id of ['ch_nope', first.id, buyer.id]) {
      const err = await rejection(api.charges.retrieve(id));
      assert.ok(err instanceof Stripe.errors.StripeInvalidRequestError);
      assert.deepEqual([err.statusCode, err.code, err.param, err.message], [404, 'resource_missing', 'id', `No such charge: '${id}'`]);
    }
    for (const path of ['customer', 'payment_intent', 'review']) {
      const err = await rejection(api.charges.retrieve(charge.id, { expand: [path] }));
      assert.deepEqual([err.statusCode, err.code, err.param], [400, 'fake_not_implemented', 'expand'], path);
    }
    const list = await rejection(api.charges.retrieve(charge.id, { expand: ['data.balance_transaction'] }));
    assert.deepEqual([list.statusCode, list.message], [400, 'This property cannot be expanded (data).']);
    const unknown = await rejection(api.charges.retrieve(charge.id, { limit: 1 } as Stripe.ChargeRetrieveParams));
    assert.deepEqual([unknown.code, unknown.param], ['parameter_unknown', 'limit']);
  });

  it('GET /v1/prices?product=: that product\'s prices, newest first, cursor pagination; limit alone lists them all; active not implemented', async () => {
    const yearlyPrice = yearly.items.data[0]!.price.id;
    const page = await api.prices.list({ product: pro, limit: 100 });
    assert.deepEqual([page.url, page.has_more, page.data.map((p) => p.id)], ['/v1/prices', false, [yearlyPrice, proMonthly]]);
    assert.ok(page.data.every((p) => p.product === pro));
    f.resetStats();
    const paged = await api.prices.list({ product: pro, limit: 1 }).autoPagingToArray({ limit: 100 });
    assert.deepEqual(paged.map((p) => p.id), [yearlyPrice, proMonthly]);
    // Two pages: the second knows nothing of the product follows (has_more false), though other prices do.
    assert.deepEqual(f.requests.map((r) => r.query), [`product=${pro}&limit=1`, `product=${pro}&limit=1&starting_after=${yearlyPrice}`]);
    assert.deepEqual((await api.prices.list({ product: pro, limit: 1 })).has_more, true);
    assert.deepEqual((await api.prices.list({ product: 'prod_nope', limit: 100 })).data, []);
    // limit alone: every price, newest first (wide's 24 own prices, yearly, first's two).
    const all = await api.prices.list({ limit: 100 });
    assert.equal(all.data.length, 27);
    assert.deepEqual(all.data.slice(-3).map((p) => p.id), [yearlyPrice, first.items.data[1]!.price.id, proMonthly]);
    const cursor = await rejection(api.prices.list({ product: pro, starting_after: 'price_nope' }));
    assert.deepEqual([cursor.statusCode, cursor.code, cursor.param], [400, 'resource_missing', 'starting_after']);
    const unserved: Array<[Stripe.PriceListParams, string]> = [
      [{ product: pro, active: true }, 'active'],
      [{ product: pro, ending_before: proMonthly }, 'ending_before'],
      [{ product: pro, expand: ['data.product'] }, 'expand'],
    ];
    for (const [params, param] of unserved) {
      const err = await rejection(api.prices.list(params));
      assert.deepEqual([err.statusCode, err.code, err.param], [400, 'fake_not_implemented', param]);
    }
  });

  it('GET /v1/subscriptions?price=: every item counts (beyond the embedded first page); not canceled by default, status=all adds them; with customer; paged', async () => {
    assert.equal(wide.items.has_more, true);
    assert.ok(!wide.items.data.some((i) => i.price.id === proMonthly), 'the price is not on the embedded first page');
    const ids = async (params: Stripe.SubscriptionListParams) => (await api.subscriptions.list({ limit: 100, ...params })).data.map((s) => s.id);
    assert.deepEqual(await ids({ price: proMonthly }), [elsewhere.id, wide.id, first.id]);
    assert.deepEqual(await ids({ price: proMonthly, status: 'all' }), [elsewhere.id, wide.id, ended.id, first.id]);
    assert.deepEqual(await ids({ price: proMonthly, status: 'canceled' }), [ended.id]);
    assert.deepEqual(await ids({ price: proMonthly, customer: buyer.id, status: 'all' }), [wide.id, ended.id, first.id]);
    assert.deepEqual(await ids({ price: yearly.items.data[0]!.price.id }), [yearly.id]);
    assert.deepEqual(await ids({ price: 'price_nope' }), []);
    const paged = await api.subscriptions.list({ price: proMonthly, status: 'all', limit: 1 }).autoPagingToArray({ limit: 100 });
    assert.deepEqual(paged.map((s) => s.id), [elsewhere.id, wide.id, ended.id, first.id]);
    const last = await api.subscriptions.list({ price: proMonthly, limit: 2, starting_after: wide.id });
    assert.deepEqual([last.has_more, last.data.map((s) => s.id)], [false, [first.id]]);
    // The answer is the whole subscription, its embedded items as always (first page of 10).
    const found = (await api.subscriptions.list({ price: proMonthly, customer: buyer.id, limit: 1 })).data[0]!;
    assert.deepEqual([found.id, found.items.data.length, found.items.has_more], [wide.id, 10, true]);
  });

  it('events are unaffected by these reads', async () => {
    const before = (await api.events.list({ limit: 100 })).data;
    await api.charges.retrieve(charge.id, { expand: ['balance_transaction'] });
    await api.prices.list({ product: pro });
    await api.subscriptions.list({ price: proMonthly, status: 'all' });
    const after = (await api.events.list({ limit: 100 })).data;
    assert.ok(before.length > 0);
    assert.deepEqual(after, before);
    const payload = after.find((e) => e.type === 'charge.succeeded' && (e.data.object as Stripe.Charge).id === charge.id)!;
    assert.equal(typeof (payload.data.object as Stripe.Charge).balance_transaction, 'string', 'payloads stay unexpanded');
  });
});
