// The template, proved: a second source (a JSON file of accounts) built from sync.ts's exported
// pieces, run through the same main and Attio sink against the fake Attio. README "Make your own
// sync" walks through exactly this.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { main, type AttributeSpec, type RunOptions, type Source, type Target } from '../sync.ts';
import { startFakeAttio, type FakeAttio } from './fake-attio.ts';
import { ATTIO_KEY, NO_LIMITS } from './harness.ts';

// ---- The new source and target: this is all a copier writes (the README shows it). ----
interface Account { id: string; name: string; domain: string | null; plan: 'Free' | 'Pro'; seats: number; renews: string }

const accountsSource: Source<{ file: string }, Account[]> = {
  name: 'Accounts',
  usage: 'Accounts (the source):\n  ACCOUNTS_FILE      required: a JSON array of accounts',
  keyVariable: 'ACCOUNTS_FILE',
  configure: (env) => {
    const file = env.ACCOUNTS_FILE ?? '';
    return { settings: { file }, problems: file ? [] : ['ACCOUNTS_FILE is not set: the path of a JSON array of accounts.'], secrets: [] };
  },
  read: async ({ file }) => {
    const accounts = JSON.parse(await readFile(file, 'utf8')) as Account[];
    return { data: accounts, summary: `${accounts.length} accounts`, requests: 1 };
  },
  map: async (_settings, accounts) => ({
    records: accounts.map((a) => ({
      key: a.id,
      values: { account_id: a.id, account_plan: a.plan, account_seats: a.seats, account_renews: a.renews },
      onCreate: { name: a.name, domains: a.domain },
      linkValue: a.domain,
      claimOrder: a.id,
    })),
    notes: [],
    totals: null,
    stop: null,
  }),
};

const SPECS: AttributeSpec[] = [
  { slug: 'account_id', title: 'Account ID', type: 'text' },
  { slug: 'account_plan', title: 'Plan', type: 'select', options: ['Free', 'Pro'] },
  { slug: 'account_seats', title: 'Seats', type: 'number' },
  { slug: 'account_renews', title: 'Renews', type: 'date' },
  { slug: 'name', title: 'Name', type: 'text', standard: true },
  { slug: 'domains', title: 'Domains', type: 'domain', standard: true },
];
const accountsToCompanies: Target = { object: 'companies', specs: SPECS, key: { slug: 'account_id', prefix: 'acct_' }, linkBy: { slug: 'domains', property: 'domain' } };
// ---- End of what a copier writes. ----

let attio: FakeAttio | null = null;
afterEach(async () => {
  await attio?.close();
  attio = null;
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

  it('names the source\'s missing variable, as it does Attio\'s', async () => {
    let err = '';
    const code = await main([], { env: {}, output: { out: () => {}, err: (t) => (err += t) } }, { source: accountsSource, target: accountsToCompanies });
    expect(code).toBe(2);
    expect(err).toContain('ACCOUNTS_FILE is not set');
    expect(err).toContain('ATTIO_API_KEY is not set');
  });
});
