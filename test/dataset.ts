// Generated, reproducible data sets for the fakes: used by the fault-injection tests and the
// benchmark. The same seed always gives the same customers, charges and subscriptions.
import type { FakeAttio } from './fake-attio.ts';
import type { StripeStore } from './fake-stripe.ts';
import { seededRandom } from './faults.ts';

export interface DatasetSize {
  customers: number;
  charges: number;
  subscriptions: number;
  /** Share of customers whose company already exists in Attio (by domain, not yet linked). */
  existingShare: number;
  seed: number;
}

export const DEFAULT_SIZE: DatasetSize = { customers: 2000, charges: 20_000, subscriptions: 1500, existingShare: 0.3, seed: 42 };

const SPAN_SECONDS = 2 * 365 * 86_400;
/** Nov 2025 by default: every object is in the past whatever today is, and a seed gives the same dates. */
export const DEFAULT_END_UNIX = 1_700_000_000 + SPAN_SECONDS;

/**
 * Five currencies, as an account that bills in USD sees them: EUR and GBP charges settle in USD
 * (converted by Stripe), JPY (zero-decimal) settles in USD or stays in JPY, KWD (three decimals)
 * stays in KWD and cannot be counted in a USD total.
 */
const CURRENCIES = [
  { code: 'usd', share: 0.55, amount: () => 1000, rate: 1, settleInUsd: 1 },
  { code: 'eur', share: 0.15, amount: () => 1000, rate: 1.08, settleInUsd: 1 },
  { code: 'gbp', share: 0.1, amount: () => 1000, rate: 1.27, settleInUsd: 1 },
  { code: 'jpy', share: 0.12, amount: () => 1500, rate: 0.0067 * 100, settleInUsd: 0.5 },
  { code: 'kwd', share: 0.08, amount: () => 30_000, rate: 3.25 / 10, settleInUsd: 0 },
];

export interface GeneratedDataset {
  customerIds: string[];
  /** Customers whose company was put in Attio before the first run. */
  existingCompanies: number;
}

/**
 * Fills a fake Stripe store and a fake Attio workspace with a generated data set: two years of
 * history ending at `endUnix` (the benchmark passes "now", so that recent weeks hold data as in a
 * live account).
 */
export function generateDataset(stripe: StripeStore, attio: FakeAttio | null, size: DatasetSize = DEFAULT_SIZE, endUnix = DEFAULT_END_UNIX): GeneratedDataset {
  const BASE_UNIX = endUnix - SPAN_SECONDS;
  const random = seededRandom(size.seed);
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)]!;
  const customerIds: string[] = [];
  let existingCompanies = 0;

  for (let i = 0; i < size.customers; i++) {
    const created = BASE_UNIX + Math.floor((i / size.customers) * SPAN_SECONDS * 0.5);
    const domain = `company-${size.seed}-${i}.com`;
    const kind = random();
    const email = kind < 0.08 ? `founder${i}@gmail.com` : kind < 0.1 ? null : `billing@${domain}`;
    const customer = stripe.addCustomer({ email, name: kind < 0.9 ? `Company ${i}` : null, description: kind < 0.95 ? null : `Account ${i}`, created });
    customerIds.push(customer.id);
    if (attio && email?.endsWith(domain) && random() < size.existingShare) {
      attio.addCompany({ name: `Company ${i} (CRM)`, domains: [domain] });
      existingCompanies += 1;
    }
  }

  for (let i = 0; i < size.charges; i++) {
    const customer = customerIds[Math.floor(random() * customerIds.length)]!;
    let r = random();
    const currency = CURRENCIES.find((c) => (r -= c.share) < 0) ?? CURRENCIES[0]!;
    const amount = Math.round(currency.amount() * (0.5 + random() * 20));
    const status = random() < 0.93 ? 'succeeded' : 'failed';
    const settlesInUsd = currency.code === 'usd' || random() < currency.settleInUsd;
    stripe.addCharge({
      customer,
      amount,
      currency: currency.code,
      status,
      created: BASE_UNIX + Math.floor(random() * SPAN_SECONDS),
      amount_refunded: status === 'succeeded' && random() < 0.05 ? Math.round(amount * (random() < 0.5 ? 1 : 0.3)) : 0,
      settlement:
        currency.code === 'usd' || !settlesInUsd ? undefined : { currency: 'usd', amount: Math.round(amount * currency.rate), exchange_rate: currency.rate },
    });
  }

  const statuses = ['active', 'active', 'active', 'active', 'past_due', 'trialing', 'canceled', 'canceled', 'paused', 'unpaid'] as const;
  const intervals = ['month', 'month', 'month', 'year', 'week'] as const;
  for (let i = 0; i < size.subscriptions; i++) {
    const customer = customerIds[i % customerIds.length]!;
    const items = Array.from({ length: 1 + Math.floor(random() * 3) }, () => ({
      unit_amount: 500 * (1 + Math.floor(random() * 40)),
      quantity: 1 + Math.floor(random() * 5),
      interval: pick(intervals),
      usage_type: random() < 0.1 ? ('metered' as const) : ('licensed' as const),
    }));
    stripe.addSubscription({
      customer,
      status: pick(statuses),
      currency: random() < 0.9 ? 'usd' : 'eur',
      created: BASE_UNIX + Math.floor(random() * SPAN_SECONDS),
      items,
      discounts: random() < 0.1 ? [{ percent_off: 20, duration: 'forever' }] : [],
    });
  }
  return { customerIds, existingCompanies };
}

/**
 * The "delta" between two runs: a share of customers gets a new charge or a refund.
 * Returns the ids of the customers touched.
 */
export function applyDelta(stripe: StripeStore, customerIds: readonly string[], share: number, seed: number, endUnix = DEFAULT_END_UNIX): Set<string> {
  const random = seededRandom(seed);
  const touched = new Set<string>();
  const chargesByCustomer = new Map<string, string[]>();
  for (const charge of stripe.charges) {
    const id = typeof charge.customer === 'string' ? charge.customer : null;
    if (id && charge.status === 'succeeded' && charge.currency === 'usd' && charge.amount_refunded < charge.amount_captured)
      chargesByCustomer.set(id, [...(chargesByCustomer.get(id) ?? []), charge.id]);
  }
  const count = Math.round(customerIds.length * share);
  while (touched.size < count) {
    const customer = customerIds[Math.floor(random() * customerIds.length)]!;
    if (touched.has(customer)) continue;
    const refundable = chargesByCustomer.get(customer);
    if (refundable?.length && random() < 0.3) stripe.refundCharge(refundable[0]!, 100);
    else stripe.addCharge({ customer, amount: 2500 + Math.floor(random() * 10_000), currency: 'usd', created: endUnix + touched.size });
    touched.add(customer);
  }
  return touched;
}

/** What applyChanges did to one customer; each kind changes at least one value the sync writes. */
export type ChangeKind =
  | 'charge' // a new succeeded USD charge: lifetime revenue and last payment (charge.succeeded)
  | 'refund' // 1.00 USD of a USD charge refunded: lifetime revenue (charge.refunded)
  | 'cancel' // its only subscription, active, canceled now: status, MRR, churned on (customer.subscription.deleted)
  | 'cancel-at-period-end' // that subscription set to end with its period: cancels on, renews on (customer.subscription.updated)
  | 'delinquent' // the customer turns delinquent: stripe_delinquent (customer.updated)
  | 'email' // the customer's email changes to an address no other customer has: a new person, no company value (customer.updated)
  | 'new'; // a new customer with a succeeded charge: a company and a person created (customer.created, charge.succeeded)

export interface AppliedChanges {
  /** The changed customers (new ones included) and what changed. */
  kinds: Map<string, ChangeKind>;
  /** Writes a run that reads the changes makes: one per company changed or created, one per person created. */
  expected: { companies: number; people: number };
}

/**
 * issue 22's changes: `count` customers change through the fake Stripe's mutation helpers, each at a
 * time in the hour before `nowUnix` (so each records its events within the last hour): about 5% (at
 * least one) are new customers with a first charge, the rest are drawn from `candidates` (customers
 * whose company and person Attio already holds, as a run left them) and get one of the other kinds.
 * The store must record builder events (recordSeedEvents true) for the new charges and customers to
 * have theirs; `round` keeps the new emails and customers of two calls apart.
 */
export function applyChanges(stripe: StripeStore, candidates: readonly string[], count: number, seed: number, nowUnix: number, round = 0): AppliedChanges {
  const random = seededRandom(seed);
  const within = () => nowUnix - 60 - Math.floor(random() * 3300); // in the last hour, a minute before now at the latest
  const refundable = new Map<string, string>();
  for (const charge of stripe.charges) {
    const id = typeof charge.customer === 'string' ? charge.customer : null;
    if (id && !refundable.has(id) && charge.status === 'succeeded' && charge.currency === 'usd' && charge.amount_captured - charge.amount_refunded >= 100) refundable.set(id, charge.id);
  }
  // The customers with exactly one subscription, when it is active with a licensed, priced item: ending it changes MRR.
  const subs = new Map<string, Array<(typeof stripe.subscriptions)[number]>>();
  for (const sub of stripe.subscriptions) {
    const id = typeof sub.customer === 'string' ? sub.customer : sub.customer.id;
    subs.set(id, [...(subs.get(id) ?? []), sub]);
  }
  const endable = (customer: string) => {
    const list = subs.get(customer);
    const sub = list?.length === 1 ? list[0]! : null;
    const earns = sub?.items.data.some((i) => i.price.recurring?.usage_type === 'licensed' && (i.price.unit_amount ?? 0) > 0 && (i.quantity ?? 0) > 0);
    return sub && sub.status === 'active' && !sub.cancel_at_period_end && sub.cancel_at === null && sub.pause_collection === null && earns ? sub.id : null;
  };

  const kinds = new Map<string, ChangeKind>();
  const expected = { companies: 0, people: 0 };
  const newCount = Math.min(count, Math.max(1, Math.round(count * 0.05)));
  for (let i = 0; i < newCount; i++) {
    const at = within();
    const customer = stripe.addCustomer({ email: `billing@new-${seed}-${round}-${i}.com`, name: `New company ${round}-${i}`, created: at });
    stripe.addCharge({ customer: customer.id, amount: 5000 + Math.floor(random() * 20_000), currency: 'usd', created: at + 30 });
    kinds.set(customer.id, 'new');
    expected.companies += 1;
    expected.people += 1;
  }
  if (count - newCount > candidates.length) throw new Error(`applyChanges: ${count - newCount} customers to change, ${candidates.length} candidates`);
  while (kinds.size < count) {
    const customer = candidates[Math.floor(random() * candidates.length)]!;
    if (kinds.has(customer)) continue;
    const r = random();
    let kind: ChangeKind = r < 0.35 ? 'charge' : r < 0.55 ? 'refund' : r < 0.65 ? 'cancel' : r < 0.75 ? 'cancel-at-period-end' : r < 0.9 ? 'delinquent' : 'email';
    const sub = endable(customer);
    const current = stripe.customer(customer);
    if ((kind === 'refund' && !refundable.has(customer)) || (kind.startsWith('cancel') && !sub) || (kind === 'delinquent' && current.delinquent === true)) kind = 'charge';
    if (kind === 'email' && !current.email?.includes('@')) kind = 'charge';
    const at = within();
    if (kind === 'charge') stripe.addCharge({ customer, amount: 2500 + Math.floor(random() * 10_000), currency: 'usd', created: at });
    else if (kind === 'refund') stripe.refundCharge(refundable.get(customer)!, 100, { at });
    else if (kind === 'cancel') stripe.cancelSubscription(sub!, { at });
    else if (kind === 'cancel-at-period-end') stripe.updateSubscription(sub!, { cancel_at_period_end: true }, { at });
    else if (kind === 'delinquent') stripe.updateCustomer(customer, { delinquent: true }, { at });
    else stripe.updateCustomer(customer, { email: `ops-${round}-${kinds.size}@${current.email!.split('@')[1]}` }, { at });
    kinds.set(customer, kind);
    if (kind === 'email') expected.people += 1;
    else expected.companies += 1;
  }
  return { kinds, expected };
}
