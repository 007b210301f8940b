// The sync on the two kinds of Attio workspace it meets, end to end against the local fakes:
// - 'docs': a workspace as Attio documents it today. Companies cannot have a unique custom attribute
//   (docs.attio.com/docs/standard-objects/standard-objects-companies), so `stripe_customer_id` is
//   plain text and the sync matches companies itself: PATCH by record id, POST to create.
// - 'legacy-unique': an older workspace whose `stripe_customer_id` is unique, where the sync
//   upserts with Attio's assert (PUT ?matching_attribute=stripe_customer_id).
// Plus what the docs leave open: creates whose answer was lost, currency values read back as
// strings, and only documented filters in every query the sync sends.
import { describe, expect, it } from 'vitest';
import type { FakeAttio } from './fake-attio.ts';
import { LANDED_FAULTS, queuedFaults } from './faults.ts';
import { companyOf, isCreate, isRecordWrite, WORKSPACES, type Bed, type Workspace } from './harness.ts';
import { bedsOfThisFile } from './beds.ts';

const open = bedsOfThisFile();

const T0 = 1_750_000_000;
const DAY = 86_400;

/** The CRM state that matters, independent of record ids and order. */
function state(attio: FakeAttio): string[] {
  return attio
    .companies()
    .map((c) => JSON.stringify(Object.fromEntries(Object.entries(c.values).sort(([a], [b]) => a.localeCompare(b)))))
    .sort();
}

/**
 * A small account with every kind of write: a new company, one found by domain, one linked before
 * whose revenue changes, one a human renamed. The expected values are worked out by hand below.
 */
function arrange(bed: Bed) {
  const s = bed.stripe.store;
  const fresh = s.addCustomer({ name: 'Fresh Co', email: 'ap@fresh.example', created: T0 });
  const found = s.addCustomer({ name: 'Found Co', email: 'ap@found.example', created: T0 + 1 });
  const known = s.addCustomer({ name: 'Known Co', email: 'ap@known.example', created: T0 + 2 });
  const companyFound = bed.attio.addCompany({ name: 'Found (CRM)', domains: ['found.example'] });
  const companyKnown = bed.attio.addCompany({ name: 'Known (CRM)', domains: ['known.example'], stripe_customer_id: known.id, stripe_lifetime_revenue: 1 });
  s.addCharge({ customer: fresh.id, amount: 12_345, currency: 'usd', created: T0 + DAY }); // 123.45
  s.addCharge({ customer: found.id, amount: 5_000, currency: 'usd', created: T0 + DAY, amount_refunded: 1_000 }); // 50 - 10 = 40
  s.addCharge({ customer: known.id, amount: 2_000, currency: 'usd', created: T0 + DAY }); // 20
  s.addSubscription({ customer: known.id, created: T0 + DAY, items: [{ unit_amount: 1_200, interval: 'year' }] }); // 12/12 = 1 a month
  return { fresh, found, known, companyFound, companyKnown };
}

const finalStates = new Map<Workspace, string[]>();

describe.each(WORKSPACES)('on a %s workspace', (workspace) => {
  it('sets up, plans, writes, and writes nothing the second time', async () => {
    const bed = await open({ workspace, setup: false });
    const setup = await bed.run(['--setup']);
    expect(setup.code).toBe(0);
    expect(setup.err).toBe('');
    const key = bed.attio.attributes().find((a) => a.api_slug === 'stripe_customer_id')!;
    expect(key.is_unique).toBe(workspace === 'legacy-unique');

    const { fresh, found, known, companyFound, companyKnown } = arrange(bed);
    bed.attio.resetStats();
    const dry = await bed.run(['--dry-run']);
    expect(dry.code).toBe(0);
    expect(bed.attio.stats().writes).toBe(0);
    expect(dry.out).toContain('DRY RUN (nothing written): created=1 linked=1 updated=1 unchanged=0');

    bed.attio.requests.length = 0;
    const first = await bed.run();
    expect(first.code).toBe(0);
    expect(first.out).toContain('created=1 linked=1 updated=1 unchanged=0 conflicts=0 failed=0');
    // Which path the run took, said once, in plain words.
    const matching = first.out.split('\n').filter((line) => line.startsWith('Matching: '));
    expect(matching).toHaveLength(1);
    expect(matching[0]).toContain(workspace === 'docs' ? 'is not unique' : 'is unique in this workspace');
    // The docs workspace never asserts (it would fail: the key is not unique); the legacy one
    // creates and updates by assert, and links (a company found by domain) by id.
    const writes = bed.attio.requests.filter(isRecordWrite).map((r) => r.method);
    if (workspace === 'docs') expect(writes.sort()).toEqual(['PATCH', 'PATCH', 'POST']);
    else expect(writes.sort()).toEqual(['PATCH', 'PUT', 'PUT']);
    expect(bed.attio.requests.filter((r) => r.status >= 400)).toEqual([]);

    expect(companyOf(bed.attio, fresh.id)).toMatchObject({ name: 'Fresh Co', domains: ['fresh.example'], stripe_lifetime_revenue: 123.45, stripe_mrr: 0 });
    const foundValues = bed.attio.companies().find((c) => c.record_id === companyFound)!.values;
    expect(foundValues).toMatchObject({ name: 'Found (CRM)', stripe_customer_id: found.id, stripe_lifetime_revenue: 40 });
    const knownValues = bed.attio.companies().find((c) => c.record_id === companyKnown)!.values;
    expect(knownValues).toMatchObject({ name: 'Known (CRM)', stripe_customer_id: known.id, stripe_lifetime_revenue: 20, stripe_mrr: 1, stripe_subscription_status: 'Active' });
    expect(bed.attio.companies()).toHaveLength(3);

    bed.attio.resetStats();
    const second = await bed.run();
    expect(second.code).toBe(0);
    expect(second.out).toContain('created=0 linked=0 updated=0 unchanged=3');
    expect(bed.attio.stats().writes).toBe(0);
    finalStates.set(workspace, state(bed.attio));
  });
});

describe('both workspaces', () => {
  it('end in the same state', () => {
    expect(finalStates.size).toBe(2);
    expect(finalStates.get('docs')).toEqual(finalStates.get('legacy-unique'));
  });
});

describe('a create whose answer was lost', () => {
  it.each(LANDED_FAULTS)('after %s (the create landed) is found by its key and never sent again', async (fault) => {
    const bed = await open();
    const c = bed.stripe.store.addCustomer({ name: 'Lost Answer Co', email: 'a@lost.example', created: T0 });
    bed.stripe.store.addCharge({ customer: c.id, amount: 700, currency: 'usd', created: T0 });
    bed.attio.setFaults(queuedFaults([{ fault, match: isCreate }]));
    const result = await bed.run();
    expect(result.code).toBe(0);
    expect(bed.attio.companies().filter((x) => x.values.stripe_customer_id === c.id)).toHaveLength(1);
    expect(bed.attio.requests.filter(isCreate)).toHaveLength(1);
    expect(result.out).toContain('1 creates lost their answer: 1 had landed (found by stripe_customer_id, not sent again), 0 had not (sent again)');
    expect(result.out).toContain('created=1');
  });

  it('that had not landed is sent again, once', async () => {
    const bed = await open();
    const c = bed.stripe.store.addCustomer({ name: 'Dropped Co', email: 'a@dropped.example', created: T0 });
    bed.stripe.store.addCharge({ customer: c.id, amount: 700, currency: 'usd', created: T0 });
    bed.attio.setFaults(queuedFaults([{ fault: 'drop', match: isCreate }]));
    const result = await bed.run();
    expect(result.code).toBe(0);
    expect(bed.attio.requests.filter(isCreate).map((r) => r.status)).toEqual([0, 200]);
    expect(bed.attio.companies()).toHaveLength(1);
    expect(result.out).toContain('1 creates lost their answer: 0 had landed (found by stripe_customer_id, not sent again), 1 had not (sent again)');
  });
});

describe('values Attio reads back', () => {
  it('as numeric strings for currencies do not make every run rewrite the company', async () => {
    const bed = await open({ attio: { currencyValuesAsStrings: true } });
    const c = bed.stripe.store.addCustomer({ name: 'Strings Co', email: 'a@strings.example', created: T0 });
    bed.stripe.store.addCharge({ customer: c.id, amount: 49_900, currency: 'usd', created: T0 });
    bed.stripe.store.addSubscription({ customer: c.id, created: T0, items: [{ unit_amount: 1_000, interval: 'month' }] });
    expect((await bed.run()).out).toContain('created=1');
    const query = bed.attio.requests.find((r) => r.path.endsWith('/records/query'));
    expect(query).toBeDefined();
    bed.attio.resetStats();
    const second = await bed.run();
    expect(second.out).toContain('created=0 linked=0 updated=0 unchanged=1');
    expect(bed.attio.stats().writes).toBe(0);
  });
});

/**
 * The operators each attribute type documents, per property, from the docs pages:
 * text (docs.attio.com/docs/attribute-types/attribute-types-text): $eq $in $contains $starts_with $ends_with on `value`;
 * domain: `{"domains": {"domain": {"$eq": "acme.com"}}}` is the docs' own example (filtering-and-sorting guide);
 * the sync relies on nothing more.
 */
const DOCUMENTED_FILTERS: Record<string, Record<string, string[]>> = {
  stripe_customer_id: { value: ['$eq', '$in', '$contains', '$starts_with', '$ends_with'] },
  domains: { domain: ['$eq'] },
  // "$eq for an exact match" and "$contains, $starts_with and $ends_with" on email_address (docs: attribute-types-email-address).
  email_addresses: { email_address: ['$eq', '$contains', '$starts_with', '$ends_with'] },
};

/** Every `[slug, property, operator]` in a verbose filter; anything else (shorthand, $not_empty) is named as it is. */
function conditions(filter: unknown): string[][] {
  const found: string[][] = [];
  for (const [slug, condition] of Object.entries(filter as Record<string, unknown>)) {
    if (slug === '$and' || slug === '$or') for (const sub of condition as unknown[]) found.push(...conditions(sub));
    else if (typeof condition !== 'object' || condition === null) found.push([slug, '(shorthand)', '$eq']);
    else
      for (const [property, operators] of Object.entries(condition as Record<string, unknown>)) {
        if (typeof operators !== 'object' || operators === null) found.push([slug, property, '(shorthand)']);
        else for (const operator of Object.keys(operators as Record<string, unknown>)) found.push([slug, property, operator]);
      }
  }
  return found;
}

describe('what the sync sends Attio', () => {
  it('filters only with operators the docs list for each attribute type, and only documented query parameters', async () => {
    const bed = await open({ setup: false });
    expect((await bed.run(['--setup'])).code).toBe(0);
    const { fresh } = arrange(bed);
    const racy = bed.attio.addCompany({ name: 'Racy', domains: ['racy.example'] });
    const c = bed.stripe.store.addCustomer({ name: 'Racy Inc', email: 'a@racy.example', created: T0 });
    bed.stripe.store.addCharge({ customer: c.id, amount: 100, currency: 'usd', created: T0 });
    bed.attio.setFaults(queuedFaults([{ fault: 'landed_drop', match: isCreate }]));
    for (const argv of [['--dry-run'], [], ['--only', fresh.id], []]) expect((await bed.run(argv)).code).toBe(0);
    expect(bed.attio.companies().find((x) => x.record_id === racy)?.values.stripe_customer_id).toBe(c.id);

    const queries = bed.attio.requests.filter((r) => r.path.endsWith('/records/query'));
    const seen = new Set<string>();
    for (const query of queries) {
      const body = query.body as { filter?: unknown };
      expect(body.filter).toBeDefined();
      for (const [slug, property, operator] of conditions(body.filter)) {
        seen.add(`${slug}.${property}.${operator}`);
        expect(DOCUMENTED_FILTERS[slug!]?.[property!], `${slug}.${property}`).toContain(operator);
      }
    }
    // The loads of linked companies (all, and --only), the look-ups of a key around a create, the domain look-up, and the people's by email.
    expect([...seen].sort()).toEqual(['domains.domain.$eq', 'email_addresses.email_address.$contains', 'stripe_customer_id.value.$contains']);

    // Query-string parameters, per the spec's `parameters` of each path (attio-openapi.json).
    const documentedParams: Array<[RegExp, string[]]> = [
      [/\/attributes$/, ['limit', 'offset', 'show_archived']],
      [/\/attributes\/[^/]+\/options$/, ['show_archived']],
      [/\/records$/, ['matching_attribute']],
    ];
    for (const r of bed.attio.requests) {
      const params = [...new URLSearchParams(r.query).keys()];
      if (!params.length) continue;
      const allowed = documentedParams.find(([path]) => path.test(r.path))?.[1] ?? [];
      for (const p of params) expect(allowed, `${r.method} ${r.path}?${r.query}`).toContain(p);
    }
  });
});
