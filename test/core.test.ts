// The core's guarantees, through a source that is not Stripe: the accounts source of the template
// (test/accounts-source.ts) against the fake Attio. Nothing here imports the fake Stripe, so a copy of
// the template keeps these tests as they are: both write paths (a docs workspace and a legacy one
// with a unique key), creates whose answer was lost, faults on every request, a record that always
// fails, --only, and the time budget. Every run's output is checked for key bytes at the end.
import { describe, expect, it } from 'vitest';
import type { Account } from './accounts-source.ts';
import { bedsOfThisFile, isCreate, isRecordWrite, keyWritten, refuseWritesOfKey, startAccountsBed, WORKSPACES, type AccountsBed, type Workspace } from './attio-harness.ts';
import type { FakeAttio } from './fake-attio.ts';
import { LANDED_FAULTS, queuedFaults, randomFaults, seededRandom, type RequestInfo } from './faults.ts';

const open = bedsOfThisFile(startAccountsBed);

const account = (id: string, domain: string | null, seats = 1): Account => ({ id, name: `Co ${id}`, domain, plan: seats > 5 ? 'Pro' : 'Free', seats, renews: '2027-01-31' });

/** The CRM state that matters, independent of record ids and order. */
function state(attio: FakeAttio): string[] {
  return attio
    .companies()
    .map((c) => JSON.stringify(Object.fromEntries(Object.entries(c.values).sort(([a], [b]) => a.localeCompare(b)))))
    .sort();
}

const byKey = (attio: FakeAttio, id: string) => attio.companies().filter((c) => c.values.account_id === id);

describe.each(WORKSPACES)('on a %s workspace', (workspace: Workspace) => {
  it('sets up, plans, creates, links and updates, and writes nothing the second time', async () => {
    const bed = await open({ workspace });
    const found = bed.attio.addCompany({ name: 'Found (CRM)', domains: ['found.example'] });
    const known = bed.attio.addCompany({ name: 'Known (CRM)', domains: ['known.example'], account_id: 'acct_known', account_seats: 1 });
    bed.setAccounts([account('acct_fresh', 'fresh.example', 3), account('acct_found', 'found.example', 4), account('acct_known', 'known.example', 9)]);
    const dry = await bed.run(['--dry-run']);
    expect(dry.code).toBe(0);
    expect(bed.attio.stats().writes).toBe(0);
    expect(dry.out).toContain('DRY RUN (nothing written): created=1 linked=1 updated=1 unchanged=0');

    bed.attio.requests.length = 0;
    const first = await bed.run();
    expect(first.code).toBe(0);
    expect(first.out).toContain('created=1 linked=1 updated=1 unchanged=0 conflicts=0 failed=0');
    expect(first.out).toContain(workspace === 'docs' ? '"account_id" is not unique' : '"account_id" is unique in this workspace');
    // The docs workspace never asserts; the legacy one creates and updates by assert, and links by id.
    const writes = bed.attio.requests.filter(isRecordWrite).map((r) => r.method);
    expect(writes.sort()).toEqual(workspace === 'docs' ? ['PATCH', 'PATCH', 'POST'] : ['PATCH', 'PUT', 'PUT']);
    expect(bed.attio.requests.filter((r) => r.status >= 400)).toEqual([]);
    expect(byKey(bed.attio, 'acct_fresh')[0]?.values).toMatchObject({ name: 'Co acct_fresh', domains: ['fresh.example'], account_seats: 3, account_plan: 'Free' });
    expect(bed.attio.companies().find((c) => c.record_id === found)?.values).toMatchObject({ name: 'Found (CRM)', account_id: 'acct_found', account_seats: 4 });
    expect(bed.attio.companies().find((c) => c.record_id === known)?.values).toMatchObject({ name: 'Known (CRM)', account_id: 'acct_known', account_seats: 9, account_plan: 'Pro' });
    expect(bed.attio.companies()).toHaveLength(3);

    bed.attio.resetStats();
    const second = await bed.run();
    expect(second.code).toBe(0);
    expect(second.out).toContain('created=0 linked=0 updated=0 unchanged=3');
    expect(bed.attio.stats().writes).toBe(0);
  });
});

describe('a create whose answer was lost', () => {
  it.each(LANDED_FAULTS)('after %s (the create landed) is found by its key and never sent again', async (fault) => {
    const bed = await open();
    bed.setAccounts([account('acct_lost', 'lost.example')]);
    bed.attio.setFaults(queuedFaults([{ fault, match: isCreate }]));
    const result = await bed.run();
    expect(result.code).toBe(0);
    expect(byKey(bed.attio, 'acct_lost')).toHaveLength(1);
    expect(bed.attio.requests.filter(isCreate)).toHaveLength(1);
    expect(result.out).toContain('1 creates lost their answer: 1 had landed (found by account_id, not sent again), 0 had not (sent again)');
    expect(result.out).toContain('created=1');
  });

  it('that had not landed is sent again, once', async () => {
    const bed = await open();
    bed.setAccounts([account('acct_dropped', null)]);
    bed.attio.setFaults(queuedFaults([{ fault: 'drop', match: isCreate }]));
    const result = await bed.run();
    expect(result.code).toBe(0);
    expect(bed.attio.requests.filter(isCreate).map((r) => r.status)).toEqual([0, 200]);
    expect(bed.attio.companies()).toHaveLength(1);
    expect(result.out).toContain('1 creates lost their answer: 0 had landed (found by account_id, not sent again), 1 had not (sent again)');
  });
});

/**
 * 150 accounts, a fifth without a domain; of the rest, a sixth already in Attio unlinked (found by
 * domain) and a sixth linked with stale seats: creates, links and updates, from a seed.
 */
function arrange(bed: AccountsBed): Account[] {
  const random = seededRandom(21);
  const accounts = Array.from({ length: 150 }, (_, i) => {
    const id = `acct_${String(i).padStart(3, '0')}`;
    return account(id, random() < 0.2 ? null : `co${i}.example`, 1 + Math.floor(random() * 10));
  });
  for (const a of accounts) {
    if (!a.domain) continue;
    const draw = random();
    if (draw < 1 / 6) bed.attio.addCompany({ name: `${a.name} (CRM)`, domains: [a.domain] });
    else if (draw < 2 / 6) bed.attio.addCompany({ name: `${a.name} (CRM)`, domains: [a.domain], account_id: a.id, account_seats: 0 });
  }
  bed.setAccounts(accounts);
  return accounts;
}

let reference: string[] | null = null;
/** The fault-free result of `arrange`, computed once. */
async function referenceState(): Promise<string[]> {
  if (reference) return reference;
  const bed = await open();
  arrange(bed);
  expect((await bed.run()).code).toBe(0);
  reference = state(bed.attio);
  return reference;
}

describe('faults', () => {
  it.each(WORKSPACES)(
    'on a fifth of all requests and lost answers on a seventh of the creates converge to exactly the fault-free state (%s workspace)',
    { timeout: 60_000 },
    async (workspace) => {
      const expected = await referenceState();
      const bed = await open({ workspace });
      arrange(bed);
      // A create that lands but whose answer is lost is the one fault that could make a duplicate
      // where Attio enforces no unique key. It hits a record's first create only.
      const firstCreates = new Set<string>();
      const firstCreate = (req: RequestInfo) => {
        const key = String(keyWritten(req, 'account_id'));
        if (!isCreate(req) || firstCreates.has(key)) return false;
        firstCreates.add(key);
        return true;
      };
      const landed = randomFaults({ seed: 13, rate: 0.15, kinds: LANDED_FAULTS, match: firstCreate });
      const anything = randomFaults({ seed: 12, rate: 0.2 });
      bed.attio.setFaults((req) => landed(req) ?? anything(req));
      // Which request draws which fault depends on timing: 8 retries keep one record from running out by chance.
      const result = await bed.run([], { retries: 8 });
      expect(result.err).not.toContain('FAILED');
      expect(result.code).toBe(0);
      expect(bed.attio.stats().faults / bed.attio.stats().total).toBeGreaterThan(0.15); // the schedule really hit
      expect(result.out).toMatch(/\d+ requests were retried/);
      expect(state(bed.attio)).toEqual(expected);
      const ids = bed.attio.companies().map((c) => c.values.account_id);
      expect(new Set(ids).size).toBe(ids.length);
      if (workspace === 'docs') {
        // Each lost answer on a create was resolved by a look-up of the key: landed, or sent again.
        const lost = /(\d+) creates lost their answer: (\d+) had landed .*, (\d+) had not/.exec(result.out);
        expect(lost).not.toBeNull();
        expect(Number(lost![2])).toBeGreaterThan(5);
        expect(Number(lost![1])).toBe(Number(lost![2]) + Number(lost![3]));
      } else expect(result.out).not.toContain('lost their answer'); // an assert is safe to repeat
    },
  );

  it('a record whose writes always fail is named, the rest are written, exit 1; the next run converges', async () => {
    const expected = await referenceState();
    let failing: string | null = null;
    const bed = await open({ attio: { intercept: refuseWritesOfKey('account_id', () => failing, 'Injected permanent failure') } });
    const accounts = arrange(bed);
    failing = accounts.find((a) => a.domain === null)!.id; // a new company: not written, not there
    const first = await bed.run();
    expect(first.code).toBe(1);
    expect(first.err).toContain(`FAILED ${failing}: Attio 400 validation_type: Injected permanent failure`);
    expect(first.out).toMatch(/failed=1$/m);
    expect(state(bed.attio)).toHaveLength(expected.length - 1);
    failing = null;
    const second = await bed.run();
    expect(second.code).toBe(0);
    expect(second.out).toMatch(/created=1 linked=0 updated=0 unchanged=\d+ conflicts=0 failed=0/);
    expect(state(bed.attio)).toEqual(expected);
  });
});

describe('--only', () => {
  it('writes that one record, loads only its linked records, and creates or updates nothing else, whatever the source returns', async () => {
    const bed = await open();
    bed.attio.addCompany({ name: 'Linked (CRM)', domains: ['one.example'], account_id: 'acct_1', account_seats: 0 });
    bed.setAccounts([account('acct_1', 'one.example', 2), account('acct_2', 'two.example', 3), account('acct_3', null, 4)]);
    bed.attio.requests.length = 0;
    const result = await bed.run(['--only', 'acct_2']);
    expect(result.code).toBe(0);
    expect(result.out).toContain('created=1 linked=0 updated=0 unchanged=0 conflicts=0 failed=0');
    expect(bed.attio.companies().map((c) => [c.values.account_id, c.values.account_seats])).toEqual([
      ['acct_1', 0],
      ['acct_2', 3],
    ]);
    // Every query by key (the load of linked records, the look-ups around the create) asks for acct_2 alone.
    const byKeyQueries = bed.attio.requests.filter((r) => r.path.endsWith('/records/query') && JSON.stringify(r.body).includes('"account_id"'));
    expect(byKeyQueries.length).toBeGreaterThan(0);
    expect(byKeyQueries.map((r) => (r.body as { filter: unknown }).filter)).toEqual(byKeyQueries.map(() => ({ account_id: { value: { $contains: 'acct_2' } } })));
  });
});

describe('a time budget', () => {
  it('stops starting writes when it is spent, ends green with the backlog reported, and the next run finishes', async () => {
    let minutes = 0;
    // Each record write takes an hour on the sync's clock: the first spends the budget.
    const bed = await open({ attio: { intercept: (req) => void (isRecordWrite(req) && (minutes += 60)) } });
    bed.setAccounts(Array.from({ length: 30 }, (_, i) => account(`acct_${i}`, `budget${i}.example`)));
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
    expect(new Set(bed.attio.companies().map((c) => c.values.account_id)).size).toBe(30);
  });
});
