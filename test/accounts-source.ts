// The template's worked example: a second source (a JSON file of accounts) on sync.ts's contract.
// README "Make your own sync from this template" shows the block between the two marker lines;
// test/copy.test.ts appends exactly that block to a copy of sync.ts cut at its marker line, and the
// core's tests (test/core.test.ts, test/template.test.ts) run it through main in-process.
import { readFile } from 'node:fs/promises';
import type { AttributeSpec, Source, Sync, Target } from '../sync.ts';

// ---- The new source, its target and SYNC: this is all a copier writes below sync.ts's marker line. ----
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
const SYNC: Sync<{ file: string }, Account[]> = { source: accountsSource, target: accountsToCompanies };
// ---- End of what a copier writes. ----

export { accountsSource, accountsToCompanies, SYNC as ACCOUNTS_SYNC, type Account };
