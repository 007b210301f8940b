// Never a company twice, whatever else writes at the same time: two runs at once, a writer that
// shifts Attio's offset pages, keys typed with stray spaces or in another case; and Attio's
// documented limits: the query-score 429, a Retry-After date the local clock already passed, and
// --setup that restores an archived option and carries on after a create whose answer was lost.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { queuedFaults, type RequestInfo } from './faults.ts';
import { isCreate, NO_LIMITS, WORKSPACES, writtenKey, type Bed } from './harness.ts';
import { bedsOfThisFile } from './beds.ts';

const open = bedsOfThisFile();

const T0 = 1_750_000_000;

/** Customers on free mail (no domain, so Attio's unique `domains` cannot stop a second company), each with a charge. */
function domainless(bed: Bed, count: number, prefix = 'cus_Free') {
  return Array.from({ length: count }, (_, i) => {
    const c = bed.stripe.store.addCustomer({ id: `${prefix}${String(i).padStart(3, '0')}`, name: `Free ${i}`, email: `owner${i}@gmail.com`, created: T0 + i });
    bed.stripe.store.addCharge({ customer: c.id, amount: 1_000 + i, currency: 'usd', created: T0 + i });
    return c.id;
  });
}

const keysInAttio = (bed: Bed) =>
  bed.attio
    .companies()
    .map((c) => c.values.stripe_customer_id)
    .filter((k): k is string => typeof k === 'string')
    .sort();

const count = (out: string, pattern: RegExp) => Number(pattern.exec(out)?.[1] ?? 0);
// The companies' lines: people have a line and notes of their own (`people: …`).
const created = (out: string) => count(out, /^(?:DRY RUN \(nothing written\): )?created=(\d+)/m);
const lostRace = (out: string) => count(out, /^note: (\d+) records were created by another run too, at the same time, and first: this run deleted/m);
const wonRace = (out: string) => count(out, /^note: (\d+) records were created by another run too, at the same time: this run's company was the first/m);
const foundBeforeCreate = (out: string) => count(out, /^note: (\d+) new records had a company by the time they were created/m);

describe('two runs at the same time', () => {
  it('on a fresh docs workspace, with customers without a domain, end with one company each, say so in both outputs, and a third run writes nothing', async () => {
    // Each run's create of a key waits (at most 400 ms) for the other run's create of the same key,
    // so both creates land together, after both look-ups found nothing: the race every time.
    const waiting = new Map<string, () => void>();
    const hold = (req: RequestInfo) => {
      const key = req.method === 'POST' && req.path.endsWith('/records') ? writtenKey(req) : undefined;
      if (!key) return undefined;
      const other = waiting.get(key);
      if (other) return void (waiting.delete(key), other());
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => (waiting.delete(key), resolve()), 400);
        waiting.set(key, () => (clearTimeout(timer), resolve()));
      });
    };
    const bed = await open({ attio: { hold, latencyMs: 2 } });
    const ids = domainless(bed, 24);
    // Two in-process runs started at once (a laptop run while the scheduled one writes); a generous
    // timeout so no held create is taken for a lost answer.
    const [a, b] = await Promise.all([bed.run([], { timeoutMs: 10_000 }), bed.run([], { timeoutMs: 10_000 })]);
    expect([a.code, b.code]).toEqual([0, 0]);
    expect(keysInAttio(bed)).toEqual([...ids].sort());

    // Each customer was created by exactly one run; in each run's output, every customer it did
    // not create is accounted for: its create met the other run's and came second (it deleted its
    // own), or its look-up just before the create found the other run's.
    expect(created(a.out) + created(b.out)).toBe(ids.length);
    for (const r of [a, b]) expect(created(r.out) + lostRace(r.out) + foundBeforeCreate(r.out), r.out).toBe(ids.length);
    expect(lostRace(a.out) + lostRace(b.out)).toBeGreaterThan(0); // the creates really met
    const deletes = bed.attio.requests.filter((r) => r.method === 'DELETE');
    expect(deletes.map((r) => r.status)).toEqual(deletes.map(() => 200));
    expect(deletes).toHaveLength(lostRace(a.out) + lostRace(b.out));
    expect(a.out + b.out).not.toContain('CONFLICT');
    console.log(`[two runs] A: created ${created(a.out)}, second ${lostRace(a.out)}, found ${foundBeforeCreate(a.out)}; B: created ${created(b.out)}, second ${lostRace(b.out)}, found ${foundBeforeCreate(b.out)}`);

    bed.attio.resetStats();
    const third = await bed.run();
    expect(third.code).toBe(0);
    expect(third.out).toContain(`created=0 linked=0 updated=0 unchanged=${ids.length} conflicts=0 failed=0`);
    expect(bed.attio.stats().writes).toBe(0);
  });

  it('started a moment apart, without any help in timing, also end with one company each', async () => {
    // The second run starts once the first run's first create has landed: it loads some companies,
    // finds others just before creating them, and races the first run for the rest.
    let firstCreate: () => void = () => {};
    const landed = new Promise<void>((resolve) => (firstCreate = resolve));
    const bed = await open({ attio: { latencyMs: 3, hold: (req) => void (isCreate(req) && firstCreate()) } });
    const ids = domainless(bed, 30);
    const a = bed.run([], { timeoutMs: 10_000 });
    await landed;
    const [first, second] = await Promise.all([a, bed.run([], { timeoutMs: 10_000 })]);
    expect([first.code, second.code]).toEqual([0, 0]);
    expect(keysInAttio(bed)).toEqual([...ids].sort());
    expect(created(first.out) + created(second.out)).toBe(ids.length);
    // Whatever the first run created before the second loaded, the second updates or leaves; the rest it found or raced.
    const companiesLine = (out: string) => out.split('\n').find((l) => l.startsWith('created=')) ?? '';
    const others = (out: string) => count(companiesLine(out), /updated=(\d+)/) + count(companiesLine(out), /unchanged=(\d+)/);
    for (const r of [first, second]) expect(created(r.out) + others(r.out), r.out).toBe(ids.length);
    expect(first.out + second.out).not.toContain('CONFLICT');
    console.log(`[a moment apart] second run: created ${created(second.out)}, second ${lostRace(second.out)}, found ${foundBeforeCreate(second.out)}`);
    bed.attio.resetStats();
    expect((await bed.run()).out).toContain(`unchanged=${ids.length} conflicts=0 failed=0`);
    expect(bed.attio.stats().writes).toBe(0);
  });

  it('a run whose create came second deletes only the record it created, and writes to the first', async () => {
    // Another run's company for the same customer lands just before this run's create (5 ms, so
    // that its created_at is the earlier one).
    let other: string | null = null;
    const bed = await open({
      attio: {
        hold: (req) => {
          const key = isCreate(req) ? writtenKey(req) : undefined;
          if (!key || other) return undefined;
          other = bed.attio.addCompany({ name: 'Other run', stripe_customer_id: key, stripe_lifetime_revenue: 1 });
          return new Promise((resolve) => setTimeout(resolve, 5));
        },
      },
    });
    const [id] = domainless(bed, 1);
    const result = await bed.run();
    expect(result.code).toBe(0);
    expect(bed.attio.companies().map((c) => c.record_id)).toEqual([other]);
    expect(bed.attio.companies()[0]!.values).toMatchObject({ name: 'Other run', stripe_customer_id: id, stripe_lifetime_revenue: 10 });
    const [deleted] = bed.attio.requests.filter((r) => r.method === 'DELETE');
    expect(deleted?.path).not.toContain(other!);
    expect(lostRace(result.out)).toBe(1);
    expect(result.out).toContain('created=0 linked=0 updated=1');
  });

  it('a run whose create came first keeps it and never deletes the other record', async () => {
    // Another run's company lands just after this run's create (5 ms later, before this run's
    // look-up after the create).
    let creates = 0;
    let other: string | null = null;
    const bed = await open({
      attio: {
        hold: (req) => {
          if (isCreate(req)) return void (creates += 1);
          const key = (req.body as { filter?: { stripe_customer_id?: { value?: { $contains?: string } } } } | undefined)?.filter?.stripe_customer_id?.value?.$contains;
          if (creates !== 1 || other || !key?.startsWith('cus_Free')) return undefined;
          return new Promise((resolve) => setTimeout(() => resolve(void (other = bed.attio.addCompany({ name: 'Other run', stripe_customer_id: key }))), 5));
        },
      },
    });
    domainless(bed, 1);
    const result = await bed.run();
    expect(result.code).toBe(0);
    expect(bed.attio.requests.some((r) => r.method === 'DELETE')).toBe(false);
    expect(bed.attio.companies()).toHaveLength(2); // the other run deletes its own; this one never does
    expect(bed.attio.companies().map((c) => c.record_id)).toContain(other);
    expect(wonRace(result.out)).toBe(1);
    expect(result.out).toContain('created=1');
  });
});

describe('a writer shifting the pages while the linked companies load', () => {
  it('neither reports a company as its own duplicate nor creates a company twice', async () => {
    // Pages of 4, sorted by stripe_customer_id. Attio takes no snapshot: before the second page a
    // person clears the id of the first record (every later record moves up one: cus_Page003 is
    // skipped); before the third a new record sorts first (every record moves down: cus_Page007 comes twice).
    const writes: Array<(offset: number) => void> = [];
    const bed = await open({ attio: { beforeQuery: ({ offset }) => writes.forEach((w) => w(offset)) } });
    const ids = domainless(bed, 12, 'cus_Page');
    const orphan = bed.attio.addCompany({ name: 'Old', stripe_customer_id: 'cus_Page' });
    const records = new Map(ids.map((id) => [id, bed.attio.addCompany({ name: id, stripe_customer_id: id })]));
    let loading = true;
    writes.push((offset) => void (loading && offset === 4 && bed.attio.setCompanyValues(orphan, { stripe_customer_id: null })));
    writes.push((offset) => void (loading && offset === 8 && bed.attio.addCompany({ name: 'New', stripe_customer_id: 'cus_Pag' })));
    writes.push((offset) => void (offset === 12 && (loading = false)));
    const result = await bed.run([], { limits: { ...NO_LIMITS, pageSize: 4 } });
    expect(result.code).toBe(0);
    expect(loading).toBe(false);
    const loads = bed.attio.requests.filter((r) => r.path.endsWith('/records/query') && (r.body as { sorts?: unknown }).sorts);
    expect(loads.map((r) => (r.body as { offset: number }).offset)).toEqual([0, 4, 8, 12]);
    expect(result.out).not.toContain('CONFLICT'); // cus_Page007, loaded twice, is one record
    expect(foundBeforeCreate(result.out)).toBe(1); // cus_Page003, missed, was found before a create
    expect(result.out).toContain('created=0 linked=0 updated=12');
    expect(keysInAttio(bed)).toEqual(['cus_Pag', ...ids].sort());
    for (const [id, record] of records) expect(bed.attio.companies().find((c) => c.values.stripe_customer_id === id)?.record_id).toBe(record);
  });
});

describe('keys typed by people', () => {
  it.each(WORKSPACES)('with spaces around them are taken as the customer\'s and corrected; in another case reported with the fix; never a second company (%s workspace)', async (workspace) => {
    const bed = await open({ workspace });
    const [trailing, leading, upper] = domainless(bed, 3, 'cus_Typed');
    const records = {
      trailing: bed.attio.addCompany({ name: 'Trailing', stripe_customer_id: `${trailing} ` }),
      leading: bed.attio.addCompany({ name: 'Leading', stripe_customer_id: ` ${leading}` }),
      upper: bed.attio.addCompany({ name: 'Upper', stripe_customer_id: upper!.toUpperCase() }),
    };
    const first = await bed.run();
    expect(first.code).toBe(0);
    expect(first.out).toContain('created=0 linked=0 updated=2 unchanged=0 conflicts=1 failed=0');
    expect(bed.attio.companies()).toHaveLength(3);
    const byRecord = (id: string) => bed.attio.companies().find((c) => c.record_id === id)!.values;
    expect(byRecord(records.trailing)).toMatchObject({ name: 'Trailing', stripe_customer_id: trailing, stripe_lifetime_revenue: 10 });
    expect(byRecord(records.leading)).toMatchObject({ name: 'Leading', stripe_customer_id: leading, stripe_lifetime_revenue: 10.01 });
    expect(byRecord(records.upper)).toMatchObject({ name: 'Upper', stripe_customer_id: upper!.toUpperCase(), stripe_lifetime_revenue: null });
    expect(first.out).toContain(`note: record ${records.trailing} holds "${trailing} ", ${trailing} with spaces around it: taken as ${trailing}'s company`);
    expect(first.out).toContain(`note: record ${records.leading} holds " ${leading}"`);
    expect(first.out).toContain(
      `CONFLICT ${upper}: record ${records.upper} holds "${upper!.toUpperCase()}", which differs from ${upper} only in case; ids are case-sensitive, so it is not taken as ${upper}'s ` +
        `and no second company is created beside it: if it is ${upper}'s company, set its stripe_customer_id to exactly ${upper} in Attio, otherwise clear it`,
    );

    bed.attio.resetStats();
    const second = await bed.run();
    expect(second.out).toContain('created=0 linked=0 updated=0 unchanged=2 conflicts=1 failed=0');
    expect(bed.attio.stats().writes).toBe(0);
  });

  it('a near-miss beside the exact key is a duplicate: reported, neither written', async () => {
    const bed = await open();
    const [id] = domainless(bed, 1, 'cus_Twice');
    const exact = bed.attio.addCompany({ name: 'Exact', stripe_customer_id: id });
    const spaced = bed.attio.addCompany({ name: 'Spaced', stripe_customer_id: `${id} ` });
    const result = await bed.run();
    expect(result.out).toContain(`CONFLICT ${id}: records ${exact}, ${spaced} ("${id} ") all hold ${id}: none is written until you merge them`);
    expect(bed.attio.stats().writes).toBe(0);
  });
});

describe("Attio's documented limits", () => {
  it('a 429 on the query of linked companies sends a simpler query, not the same one again', async () => {
    // The fake scores (1 + sorts + conditions) x records: 5 records, sorted 15, unsorted 10; limit 12.
    const bed = await open({ attio: { maxQueryScore: 12 } });
    const ids = domainless(bed, 5, 'cus_Score');
    for (const id of ids) bed.attio.addCompany({ name: id, stripe_customer_id: id });
    const result = await bed.run();
    expect(result.code).toBe(0);
    expect(result.out).toContain('updated=5');
    const loads = bed.attio.requests.filter((r) => r.path === '/v2/objects/companies/records/query');
    expect(loads.map((r) => [r.status, 'sorts' in (r.body as object)])).toEqual([
      [429, true],
      [200, false],
    ]);
    expect(result.sleeps).toHaveLength(1); // the Retry-After of that 429, then the simpler query
    expect(result.out).toContain(
      "note: the query for the linked records answered 429 1 times (Attio's rate limit or its per-query score limit: the answer does not say which), so it was sent without its sort",
    );
    expect(result.out).toMatch(/note: 1 requests were retried \(Attio 429: 1\)/);
  });

  it('a Retry-After date the local clock has already passed waits a second, not 0 ms', async () => {
    let refused = false;
    const past = new Date(Date.now() - 5_000).toUTCString(); // the server's clock is 5 s behind ours
    const bed = await open({
      attio: {
        intercept: (req) => {
          if (refused || !isCreate(req)) return undefined;
          refused = true;
          return { status: 429, body: { status_code: 429, type: 'rate_limit_error', code: 'rate_limit_exceeded', message: 'Rate limit exceeded, please try again later' }, headers: { 'retry-after': past } };
        },
      },
    });
    domainless(bed, 1);
    const result = await bed.run();
    expect(result.code).toBe(0);
    expect(result.sleeps).toEqual([1000]);
    expect(bed.attio.companies()).toHaveLength(1);
  });
});

describe('--setup, again and again', () => {
  it('restores an archived option instead of creating a twin, and the run says so', async () => {
    const bed = await open();
    bed.attio.archiveOption('stripe_subscription_status', 'Active');
    domainless(bed, 1);
    const blocked = await bed.run();
    expect(blocked.code).toBe(2);
    expect(blocked.err).toContain('"stripe_subscription_status" has the option(s) "Active" archived: run with --setup to restore them.');
    const setup = await bed.run(['--setup']);
    expect(setup.code).toBe(0);
    expect(setup.out).toContain('restored the archived option(s) "Active" of "stripe_subscription_status"');
    expect(bed.attio.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/options'))).toEqual([]);
    expect(bed.attio.attributes().find((a) => a.api_slug === 'stripe_subscription_status')!.options.filter((t) => t === 'Active')).toHaveLength(1);
    expect((await bed.run()).code).toBe(0);
  });

  it('carries on after an attribute create whose answer was lost: the retry\'s 409 means it landed', async () => {
    const bed = await open({ setup: false });
    const isCreateOf = (slug: string) => (r: RequestInfo) => r.method === 'POST' && r.path.endsWith('/attributes') && (r.body as { data: { api_slug: string } }).data.api_slug === slug;
    const isOptionCreate = (title: string) => (r: RequestInfo) => r.method === 'POST' && r.path.endsWith('/options') && (r.body as { data: { title: string } }).data.title === title;
    bed.attio.setFaults(
      queuedFaults([
        { fault: 'landed_502', match: isCreateOf('stripe_mrr') },
        { fault: 'landed_drop', match: isCreateOf('stripe_subscription_status') },
        { fault: 'truncated', match: isOptionCreate('Paused') },
      ]),
    );
    const setup = await bed.run(['--setup']);
    expect(setup.code, setup.err).toBe(0);
    expect(setup.out).toContain('created "stripe_mrr" (currency, USD): the first attempt\'s answer was lost, but it had landed (409 on the retry)');
    expect(setup.out).toContain('created "stripe_subscription_status" (select): the first attempt\'s answer was lost');
    expect(setup.out).toContain('added option(s) "Active", "Past due", "Trialing", "Paused", "Unpaid", "Canceled", "None" to "stripe_subscription_status" ("Paused": the first attempt\'s answer was lost');
    expect(setup.out).toContain('Attio is ready');
    const status = bed.attio.attributes().find((a) => a.api_slug === 'stripe_subscription_status')!;
    expect(status.options).toEqual(['Active', 'Past due', 'Trialing', 'Paused', 'Unpaid', 'Canceled', 'None']);
    bed.attio.resetStats();
    expect((await bed.run(['--setup'])).out).toContain('nothing to do');
    expect(bed.attio.stats().writes).toBe(0);
  });
});

describe('a host that cannot be reached', () => {
  it('is named with the variable that set it and the cause', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const bed = await open();
    const attio = await bed.run([], { env: { ...bed.env, ATTIO_API_URL: `http://127.0.0.1:${port}/v2` } });
    expect(attio.code).toBe(2);
    expect(attio.err).toContain(`Preflight failed: Attio: GET /objects/companies/attributes?limit=100&offset=0&show_archived=true: cannot reach 127.0.0.1:${port} (set by ATTIO_API_URL): connect ECONNREFUSED 127.0.0.1:${port}`);
    expect(attio.sleeps).toHaveLength(5); // no answer is transient: retried, then named
    const stripe = await bed.run([], { env: { ...bed.env, STRIPE_API_URL: `http://127.0.0.1:${port}` } });
    expect(stripe.code).toBe(1);
    expect(stripe.err).toContain(`Reading failed, nothing was written: Stripe: An error occurred with our connection to Stripe. (connect ECONNREFUSED 127.0.0.1:${port}; host from STRIPE_API_URL)`);
  });
});
