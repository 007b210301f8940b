// A good citizen on shared APIs, end to end: the wrong Stripe account never floods Attio, a time
// budget ends a long run green and the next run finishes it, and every retry is visible.
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeStripe, type FakeStripe } from './fake-stripe.ts';
import { queuedFaults } from './faults.ts';
import { companyOf, isCreate, isRecordWrite, STRIPE_KEY, writesOf, refuseWritesOf } from './harness.ts';
import { bedsOfThisFile } from './beds.ts';

const open = bedsOfThisFile();
const others: FakeStripe[] = [];
afterEach(async () => {
  await Promise.all(others.splice(0).map((s) => s.close()));
});

const T0 = 1_750_000_000;

/** An account whose customers all paid, synced once: `count` companies linked in Attio. */
async function syncedAccount(count: number) {
  const bed = await open();
  const ids = Array.from({ length: count }, (_, i) => {
    const c = bed.stripe.store.addCustomer({ name: `Co ${i}`, email: `a@co${i}.example`, created: T0 + i });
    bed.stripe.store.addCharge({ customer: c.id, amount: 1_000, currency: 'usd', created: T0 + i });
    return c.id;
  });
  expect((await bed.run()).code).toBe(0);
  expect(bed.attio.companies()).toHaveLength(count);
  bed.attio.resetStats();
  return { bed, ids };
}

describe('a key for another Stripe account', () => {
  it('stops before any write, in a dry run too, names the likely cause, and goes on only when told to', async () => {
    const { bed } = await syncedAccount(38);
    // Another account (or test mode instead of live): other customers, other ids.
    const other = await startFakeStripe({ apiKey: STRIPE_KEY });
    others.push(other);
    for (let i = 0; i < 5; i++) {
      const c = other.store.addCustomer({ id: `cus_other${i}`, name: `Other ${i}`, email: `a@other${i}.example`, created: T0 });
      other.store.addCharge({ customer: c.id, amount: 2_000, currency: 'usd', created: T0 });
    }
    const env = { ...bed.env, STRIPE_API_URL: other.url };
    for (const argv of [[], ['--dry-run']]) {
      const result = await bed.run(argv, { env });
      expect(result.code, argv.join(' ')).toBe(2);
      expect(result.err).toContain('None of the 38 Attio companies linked to Stripe customers has its customer in the Stripe account that STRIPE_API_KEY reads (test mode)');
      expect(result.err).toContain('Likely cause: the key belongs to another Stripe account, or is a test-mode key while the companies came from live mode');
      expect(result.err).toContain('--allow-account-mismatch');
      // It names the ids it looked up, and how many of them it found.
      const looked = /Looked up 5 of the 38 missing ids \((cus_\w+(?:, cus_\w+){4})\): 0 found, not even as deleted customers/.exec(result.err);
      expect(looked, result.err).not.toBeNull();
      const probed = other.requests.filter((r) => r.path.startsWith('/v1/customers/')).map((r) => r.path.replace('/v1/customers/', ''));
      for (const id of looked![1]!.split(', ')) expect(probed).toContain(id);
      expect(bed.attio.stats().writes).toBe(0);
    }
    // It looked up a few of the missing customers (not all 38) to tell "deleted" from "not here".
    expect(other.requests.filter((r) => r.path.startsWith("/v1/customers/"))).toHaveLength(2 * 5); // 5 in each run

    const anyway = await bed.run(['--allow-account-mismatch'], { env });
    expect(anyway.code).toBe(0);
    expect(anyway.out).toContain('created=5');
    expect(bed.attio.companies()).toHaveLength(38 + 5);
  });

  it('does not stop an account whose linked customers were deleted, all of them or some', async () => {
    const { bed, ids } = await syncedAccount(12);
    for (const id of ids.slice(0, 4)) bed.stripe.store.deleteCustomer(id);
    const some = await bed.run();
    expect(some.code).toBe(0);
    // The note names a few of them (Attio's values, escaped), not all.
    const named = /4 Attio records hold a stripe_customer_id that Stripe no longer has \((cus_\w+), (cus_\w+), (cus_\w+) and 1 more\); left as they are/.exec(some.out);
    expect(named, some.out).not.toBeNull();
    for (const id of named!.slice(1)) expect(ids.slice(0, 4)).toContain(id);
    for (const id of ids.slice(4)) bed.stripe.store.deleteCustomer(id);
    const all = await bed.run();
    expect(all.code).toBe(0); // every linked customer missing, but the look-up finds them deleted here
    expect(all.out).toContain('12 Attio records hold a stripe_customer_id that Stripe no longer has');
    expect(bed.attio.stats().writes).toBe(0);
  });

  it('when the one linked company holds a mistyped id, says so: the id it looked up, none found, and the fix in Attio', async () => {
    const bed = await open();
    const typo = bed.attio.addCompany({ name: 'Typo Co', domains: ['typo.example'], stripe_customer_id: 'cus_TYPO0x' });
    for (let i = 0; i < 3; i++) {
      const c = bed.stripe.store.addCustomer({ name: `Real ${i}`, email: `a@real${i}.example`, created: T0 + i });
      bed.stripe.store.addCharge({ customer: c.id, amount: 1_000, currency: 'usd', created: T0 + i });
    }
    const result = await bed.run();
    expect(result.code).toBe(2);
    expect(result.err).toContain('None of the 1 Attio companies linked to Stripe customers has its customer');
    expect(result.err).toContain('Looked up 1 of the 1 missing ids (cus_TYPO0x): 0 found, not even as deleted customers');
    expect(result.err).toContain('an id was typed or pasted into stripe_customer_id by hand and is wrong');
    expect(result.err).toContain('correct or clear stripe_customer_id on the companies holding those ids in Attio');
    expect(bed.attio.stats().writes).toBe(0);
    bed.attio.setCompanyValues(typo, { stripe_customer_id: null });
    expect((await bed.run()).code).toBe(0); // cleared: the account syncs
  });
});

describe('a time budget', () => {
  it('stops starting writes when it is spent, ends green with the backlog reported, and the next run finishes', async () => {
    let minutes = 0;
    const bed = await open({
      attio: {
        // Each record write takes an hour on the sync's clock: the first spends the budget.
        intercept: (req) => {
          if (isRecordWrite(req)) minutes += 60;
          return undefined;
        },
      },
    });
    for (let i = 0; i < 30; i++) {
      const c = bed.stripe.store.addCustomer({ name: `Co ${i}`, email: `a@budget${i}.example`, created: T0 + i });
      bed.stripe.store.addCharge({ customer: c.id, amount: 1_000, currency: 'usd', created: T0 + i });
    }
    const clock = () => Date.now() + minutes * 60_000;
    const first = await bed.run(['--max-minutes', '5'], { now: clock });
    expect(first.code).toBe(0);
    // Twelve lanes start at once, inside the budget; every later write would start after it.
    expect(first.out).toContain('created=12 linked=0 updated=0 unchanged=0 conflicts=0 failed=0 left=18');
    expect(first.out).toContain('the time budget (--max-minutes 5) was reached: 18 records are left for the next run');
    expect(bed.attio.companies()).toHaveLength(12);

    const second = await bed.run([], { now: clock });
    expect(second.code).toBe(0);
    expect(second.out).toContain('created=18 linked=0 updated=0 unchanged=12 conflicts=0 failed=0');
    const ids = bed.attio.companies().map((c) => c.values.stripe_customer_id);
    expect(new Set(ids).size).toBe(30);
  });
});

describe('retries are never silent', () => {
  it('prints each retry as a plain line when not on a terminal, at most one every 10 s', async () => {
    const bed = await open();
    const c = bed.stripe.store.addCustomer({ name: 'R', email: 'a@retry.example', created: T0 });
    bed.stripe.store.addCharge({ customer: c.id, amount: 100, currency: 'usd', created: T0 });
    bed.attio.setFaults(queuedFaults([{ fault: 'rate_limit_seconds', times: 3, match: isCreate }]));
    const result = await bed.run();
    expect(result.code).toBe(0);
    const lines = result.err.split('\n').filter((l) => l.includes('retrying'));
    expect(lines).toEqual(['retrying Attio 429 rate_limit_exceeded (Rate limit exceeded, please try again later.): retry 1 of 5 in 1.0s']);
    expect(result.out).toContain('3 requests were retried');
    expect(companyOf(bed.attio, c.id)).toBeDefined();
  });

  it('shows the latest retry in the progress line on a terminal, and clears that line before an error', async () => {
    const bed = await open({
      attio: { intercept: refuseWritesOf(() => bad, 'Nope') },
    });
    const ids = Array.from({ length: 6 }, (_, i) => {
      const c = bed.stripe.store.addCustomer({ name: `C${i}`, email: `a@t${i}.example`, created: T0 + i });
      bed.stripe.store.addCharge({ customer: c.id, amount: 100, currency: 'usd', created: T0 + i });
      return c.id;
    });
    const bad = ids[4]!;
    bed.attio.setFaults(queuedFaults([{ fault: 'server_503', times: 1, match: isCreate }]));
    let t = Date.now();
    const result = await bed.run([], { isTTY: true, now: () => (t += 300) }); // every update may redraw
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/\r\x1b\[2KWriting to Attio: \d+\/6 \([^)]*\) · retrying Attio 503/);
    // Every FAILED line starts on a line of its own: after a newline, or after clearing a drawn progress line.
    expect(result.err.match(/FAILED /g)).toHaveLength(1);
    expect(result.err.slice(0, result.err.indexOf('FAILED '))).toMatch(/(^|\n|\r\x1b\[2K)$/);
    expect(writesOf(bed.attio).filter(isRecordWrite)).toHaveLength(5); // the companies: their people wait for the one that failed, or are written
  });
});
