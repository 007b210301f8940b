// The template's worked example: a second source (a JSON file of accounts) on sync.ts's contract.
// README "Make your own sync from this template" shows the block between the two marker lines;
// test/copy.test.ts appends exactly that block to a copy of sync.ts cut at its marker line, and the
// core's tests (test/core.test.ts, test/template.test.ts) run it through main in-process.
import { readFile } from 'node:fs/promises';
import type { AttributeSpec, Source, Sync, Target } from '../sync.ts';

// ---- The new source, its target and SYNC: this is all a copier writes below sync.ts's marker line. ----
interface Account { id: string; name: string; domain: string | null; plan: 'Free' | 'Pro'; seats: number; renews: string; owner?: { email: string; name: string } }

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

// ---- A second target: each account's owner as an Attio person, at the account's company while the person has none. ----
const PEOPLE_SPECS: AttributeSpec[] = [
  { slug: 'email_addresses', title: 'Email addresses', type: 'email-address', standard: true },
  { slug: 'name', title: 'Name', type: 'personal-name', standard: true },
  { slug: 'company', title: 'Company', type: 'record-reference', refersTo: 'companies', standard: true },
];
const ownersToPeople: Target = { object: 'people', specs: PEOPLE_SPECS, key: { slug: 'email_addresses' }, linkBy: null };
const withOwners: Source<{ file: string }, Account[]> = {
  ...accountsSource,
  map: async (settings, accounts, target, context) => ({
    ...(await accountsSource.map(settings, accounts, target, context)),
    laterRecords: {
      people: accounts.flatMap((a) =>
        a.owner
          ? [{ key: a.owner.email, values: {}, onCreate: { email_addresses: a.owner.email, name: a.owner.name }, ifEmpty: { company: { object: 'companies', key: a.id } }, linkValue: null, claimOrder: a.id }]
          : [],
      ),
    },
  }),
};
const SYNC_WITH_OWNERS: Sync<{ file: string }, Account[]> = { source: withOwners, target: accountsToCompanies, moreTargets: [ownersToPeople] };
// ---- End of the second target. ----

export { accountsSource, accountsToCompanies, SYNC as ACCOUNTS_SYNC, SYNC_WITH_OWNERS, type Account };
