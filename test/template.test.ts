// The template, proved: a second source (a JSON file of accounts, test/accounts-source.ts) on
// sync.ts's contract, run through the same main and Attio sink against the fake Attio. README "Make
// your own sync" walks through exactly this. Nothing here imports the fake Stripe: a copy keeps it.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { main, usageText, type RunOptions, type Source } from '../sync.ts';
import { accountsSource, accountsToCompanies, SYNC_WITH_OWNERS, type Account } from './accounts-source.ts';
import { ATTIO_KEY, NO_ATTIO_LIMITS as NO_LIMITS } from './attio-harness.ts';
import { startFakeAttio, type FakeAttio } from './fake-attio.ts';


let attio: FakeAttio | null = null;
afterEach(async () => {
  await attio?.close();
  attio = null;
});

/** The accounts sync with its owners as people (SYNC_WITH_OWNERS), over `accounts`, in-process: each run's code and output. */
function accountsRun(fake: FakeAttio, accounts: Account[]) {
  const file = join(mkdtempSync(join(tmpdir(), 'accounts-')), 'accounts.json');
  writeFileSync(file, JSON.stringify(accounts));
  return async (argv: string[]) => {
    let out = '';
    let err = '';
    const options: RunOptions = {
      env: { ATTIO_API_KEY: ATTIO_KEY, ATTIO_API_URL: fake.url, ACCOUNTS_FILE: file },
      output: { out: (line) => (out += `${line}\n`), err: (text) => (err += text) },
      isTTY: false,
      limits: NO_LIMITS,
    };
    const code = await main(argv, options, SYNC_WITH_OWNERS);
    return { code, out, err };
  };
}

describe('the template, with a second target', () => {
  it("writes each account's owner as a person at the account's company, after the companies, and nothing the second time", async () => {
    attio = await startFakeAttio({ apiKey: ATTIO_KEY });
    const run = accountsRun(attio, [
      { id: 'acct_1', name: 'Initech', domain: 'initech.example', plan: 'Pro', seats: 12, renews: '2027-01-31', owner: { email: 'bill@initech.example', name: 'Bill Lumbergh' } },
      { id: 'acct_2', name: 'Globex', domain: 'globex.example', plan: 'Free', seats: 1, renews: '2026-12-24' },
    ]);
    expect((await run(['--setup'])).code).toBe(0);
    const first = await run([]);
    expect(first.code, first.err).toBe(0);
    expect(first.out).toContain('people: created=1 linked=0 updated=0 unchanged=0 conflicts=0 failed=0');
    expect(first.out).toContain('created=2 linked=0 updated=0 unchanged=0 conflicts=0 failed=0');
    const initech = attio.companies().find((c) => c.values.account_id === 'acct_1')!;
    expect(attio.people()).toEqual([expect.objectContaining({ emails: ['bill@initech.example'], name: { first: 'Bill', last: 'Lumbergh', full: 'Bill Lumbergh' }, company: initech.record_id })]);
    attio.resetStats();
    expect((await run([])).out).toContain('people: created=0 linked=0 updated=0 unchanged=1');
    expect(attio.stats().writes).toBe(0);
  });
});

describe('the template, with another source', () => {
  it('sets up, creates, links by domain, and writes nothing the second time', async () => {
    attio = await startFakeAttio({ apiKey: ATTIO_KEY });
    const existing = attio.addCompany({ name: 'Globex (CRM)', domains: ['globex.example'] });
    const file = join(mkdtempSync(join(tmpdir(), 'accounts-')), 'accounts.json');
    const accounts: Account[] = [
      { id: 'acct_1', name: 'Initech', domain: 'initech.example', plan: 'Pro', seats: 12, renews: '2027-01-31' },
      { id: 'acct_2', name: 'Globex', domain: 'globex.example', plan: 'Free', seats: 1, renews: '2026-12-24' },
    ];
    writeFileSync(file, JSON.stringify(accounts));
    let out = '';
    let err = '';
    const options: RunOptions = {
      env: { ATTIO_API_KEY: ATTIO_KEY, ATTIO_API_URL: attio.url, ACCOUNTS_FILE: file },
      output: { out: (line) => (out += `${line}\n`), err: (text) => (err += text) },
      isTTY: false,
      limits: NO_LIMITS,
    };
    const sync = { source: accountsSource, target: accountsToCompanies };

    expect(await main(['--setup'], options, sync), err).toBe(0);
    expect(out).toContain('created "account_plan" (select)');
    expect(await main([], options, sync), err).toBe(0);
    expect(err).toContain('Read 2 accounts and 0 linked Attio records');
    expect(out).toContain('created=1 linked=1 updated=0 unchanged=0 conflicts=0 failed=0');
    const byId = (id: string) => attio!.companies().find((c) => c.values.account_id === id);
    expect(byId('acct_1')?.values).toMatchObject({ name: 'Initech', domains: ['initech.example'], account_plan: 'Pro', account_seats: 12, account_renews: '2027-01-31' });
    expect(byId('acct_2')?.record_id).toBe(existing);
    expect(byId('acct_2')?.values).toMatchObject({ name: 'Globex (CRM)', account_plan: 'Free' });

    attio.resetStats();
    out = '';
    expect(await main([], options, sync), err).toBe(0);
    expect(out).toContain('created=0 linked=0 updated=0 unchanged=2');
    expect(attio.stats().writes).toBe(0);
    expect(out + err).not.toMatch(/stripe/i);
  });

  it('--only writes that one account, whatever the source returns, and creates nothing else', async () => {
    attio = await startFakeAttio({ apiKey: ATTIO_KEY });
    const file = join(mkdtempSync(join(tmpdir(), 'accounts-')), 'accounts.json');
    const accounts: Account[] = ['acct_1', 'acct_2', 'acct_3'].map((id, i) => ({ id, name: `Co ${i}`, domain: `co${i}.example`, plan: 'Pro', seats: i, renews: '2027-01-31' }));
    writeFileSync(file, JSON.stringify(accounts));
    let out = '';
    const options: RunOptions = { env: { ATTIO_API_KEY: ATTIO_KEY, ATTIO_API_URL: attio.url, ACCOUNTS_FILE: file }, output: { out: (line) => (out += `${line}\n`), err: () => {} }, limits: NO_LIMITS };
    const sync = { source: accountsSource, target: accountsToCompanies };
    expect(await main(['--setup'], options, sync)).toBe(0);
    expect(await main(['--only', 'acct_2'], options, sync)).toBe(0);
    expect(out).toContain('created=1 linked=0 updated=0 unchanged=0 conflicts=0 failed=0');
    expect(attio.companies().map((c) => c.values.account_id)).toEqual(['acct_2']);
  });

  it('reports a plain Error from the source in one line, not a stack', async () => {
    attio = await startFakeAttio({ apiKey: ATTIO_KEY });
    const failing: Source<{ file: string }, Account[]> = {
      ...accountsSource,
      read: async () => {
        throw new Error('ACCOUNTS_FILE holds no JSON array');
      },
    };
    let err = '';
    const options: RunOptions = { env: { ATTIO_API_KEY: ATTIO_KEY, ATTIO_API_URL: attio.url, ACCOUNTS_FILE: 'x.json' }, output: { out: () => {}, err: (t) => (err += t) }, limits: NO_LIMITS };
    expect(await main(['--setup'], options, { source: accountsSource, target: accountsToCompanies })).toBe(0);
    expect(await main([], options, { source: failing, target: accountsToCompanies })).toBe(1);
    expect(err).toBe('Reading failed, nothing was written: ACCOUNTS_FILE holds no JSON array\n');
  });

  it('--help shows the source\'s flags and variables and the core\'s, and no --currency for a target without currency attributes', async () => {
    let out = '';
    expect(await main(['--help'], { env: {}, output: { out: (line) => (out += line), err: () => {} } }, { source: accountsSource, target: accountsToCompanies })).toBe(0);
    expect(out).toBe(usageText({ source: accountsSource, target: accountsToCompanies }));
    expect(out).toContain('ACCOUNTS_FILE      required: a JSON array of accounts');
    expect(out).toContain('--only KEY');
    expect(out).not.toMatch(/currency|stripe|allow-account-mismatch/i);
    const code = await main(['--setup', '--currency', 'EUR'], { env: {}, output: { out: () => {}, err: () => {} } }, { source: accountsSource, target: accountsToCompanies });
    expect(code).toBe(2); // an unknown flag here
  });

  it('parses a flag the source declares and hands it to configure', async () => {
    const seen: Array<string | boolean | undefined> = [];
    const flagged: Source<{ file: string }, Account[]> = {
      ...accountsSource,
      flags: { since: { type: 'string', value: 'DATE', help: 'read accounts changed since DATE\n(an ISO date)' } },
      configure: (env, only, flags) => {
        seen.push(flags.since);
        return accountsSource.configure(env, only, flags);
      },
    };
    let out = '';
    const sync = { source: flagged, target: accountsToCompanies };
    expect(await main(['--help'], { env: {}, output: { out: (line) => (out += line), err: () => {} } }, sync)).toBe(0);
    expect(out).toContain('[--audit-log PATH] [--since DATE] [--help]');
    expect(out).toContain('  --since DATE       read accounts changed since DATE\n                     (an ISO date)\n  --help             this text');
    await main(['--since', '2026-01-01', '--dry-run'], { env: {}, output: { out: () => {}, err: () => {} } }, sync);
    expect(seen).toEqual(['2026-01-01']);
  });

  it('names the source\'s missing variable, as it does Attio\'s', async () => {
    let err = '';
    const code = await main([], { env: {}, output: { out: () => {}, err: (t) => (err += t) } }, { source: accountsSource, target: accountsToCompanies });
    expect(code).toBe(2);
    expect(err).toContain('ACCOUNTS_FILE is not set');
    expect(err).toContain('ATTIO_API_KEY is not set');
  });
});
