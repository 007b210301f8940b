// The file as a copier meets it: sync.ts cut at its marker line, with the accounts source of
// test/accounts-source.ts appended below it (what README "Make your own sync from this template"
// says to write), typechecks and runs as the CLI: setup, a first run, --only, a second run with no
// writes, and a --help that names nothing of Stripe. And the core above the marker names no Stripe
// concept outside its comments. Nothing here imports the fake Stripe: a copy keeps this file too.
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ATTIO_KEY, bedsOfThisFile, runCli } from './attio-harness.ts';
import { startFakeAttio } from './fake-attio.ts';

const MARKER = '// ---- replace everything below this line ----';
const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const syncLines = readFileSync(here('../sync.ts'), 'utf8').split('\n');
const markerAt = syncLines.indexOf(MARKER);

/** The lines of the copier's block in test/accounts-source.ts, its two marker comments included. */
function accountsBlock(): string {
  const text = readFileSync(here('./accounts-source.ts'), 'utf8');
  const start = text.indexOf('// ---- The new source');
  const endMarker = '// ---- End of what a copier writes. ----';
  return text.slice(start, text.indexOf(endMarker) + endMarker.length);
}

// In test/, so that the copy's imports (dotenv) resolve as the original's do; removed after.
const copyPath = here(`./copy-of-sync-${process.pid}.tmp.ts`);
const tsconfigPath = here(`./copy-of-sync-${process.pid}.tsconfig.json`);
afterAll(() => {
  rmSync(copyPath, { force: true });
  rmSync(tsconfigPath, { force: true });
});

const openAttio = bedsOfThisFile(() => startFakeAttio({ apiKey: ATTIO_KEY }));

describe('sync.ts cut at the marker line', () => {
  it('has the marker line once, with the core above it, and below it the source, SYNC and the entry point, last', () => {
    expect(syncLines.filter((line) => line === MARKER)).toHaveLength(1);
    expect(syncLines.slice(0, markerAt).some((line) => line.startsWith('async function main(') || line.startsWith('export async function main('))).toBe(true);
    expect(syncLines.slice(markerAt).some((line) => /^(export )?const SYNC\b/.test(line))).toBe(true);
    expect(syncLines.at(-2)).toBe('if (invokedDirectly) runCommandLine(SYNC);');
  });

  it('names no Stripe concept above the marker outside comments: no Stripe, customer, charge or subscription', () => {
    const named = syncLines.slice(0, markerAt).flatMap((line, i) => {
      const trimmed = line.trim();
      if (/^(\/\/|\/\*|\*)/.test(trimmed)) return []; // a comment line (line, block or JSDoc)
      const code = line.replace(/\s\/\/\s.*$/, ''); // a comment at the end of a line
      return /stripe|customer|charge|subscription/i.test(code) ? [`${i + 1}: ${trimmed}`] : [];
    });
    expect(named).toEqual([]);
  });

  it('with the accounts source appended, typechecks and runs: setup, a first run, --only one account, a second run with no writes; --help names nothing of Stripe', { timeout: 60_000 }, async () => {
    const copy = [...syncLines.slice(0, markerAt + 1), '', "import { readFile } from 'node:fs/promises';", '', accountsBlock(), '', 'if (invokedDirectly) runCommandLine(SYNC);', ''].join('\n');
    writeFileSync(copyPath, copy);
    writeFileSync(tsconfigPath, JSON.stringify({ extends: '../tsconfig.json', include: [copyPath] }));
    execFileSync(process.execPath, [here('../node_modules/typescript/bin/tsc'), '--noEmit', '-p', tsconfigPath], { stdio: 'pipe' }); // throws with the errors

    const help = await runCli(['--help'], {}, copyPath);
    expect(help.code).toBe(0);
    expect(help.out).toContain('ACCOUNTS_FILE      required: a JSON array of accounts');
    expect(help.out).toContain('--only KEY');
    expect(help.out).not.toMatch(/stripe|cus_|allow-account-mismatch|--currency|MRR/i);

    const attio = await openAttio();
    const existing = attio.addCompany({ name: 'Globex (CRM)', domains: ['globex.example'] });
    const file = `${copyPath}.accounts.json`;
    const accounts = [
      { id: 'acct_1', name: 'Initech', domain: 'initech.example', plan: 'Pro', seats: 12, renews: '2027-01-31' },
      { id: 'acct_2', name: 'Globex', domain: 'globex.example', plan: 'Free', seats: 1, renews: '2026-12-24' },
    ];
    writeFileSync(file, JSON.stringify(accounts));
    const env = { ATTIO_API_KEY: ATTIO_KEY, ATTIO_API_URL: attio.url, ACCOUNTS_FILE: file };
    try {
      const setup = await runCli(['--setup'], env, copyPath);
      expect(setup.code, setup.err).toBe(0);
      expect(setup.out).toContain('created "account_plan" (select)');
      const first = await runCli([], env, copyPath);
      expect(first.code, first.err).toBe(0);
      expect(first.out).toContain('created=1 linked=1 updated=0 unchanged=0 conflicts=0 failed=0');
      expect(attio.companies().find((c) => c.values.account_id === 'acct_2')?.record_id).toBe(existing);

      // A new account and a change to another: --only writes the one it names, and creates nothing else.
      writeFileSync(file, JSON.stringify([{ ...accounts[0], seats: 15 }, accounts[1], { id: 'acct_3', name: 'Hooli', domain: 'hooli.example', plan: 'Pro', seats: 3, renews: '2027-06-30' }]));
      const only = await runCli(['--only', 'acct_1'], env, copyPath);
      expect(only.code, only.err).toBe(0);
      expect(only.out).toContain('created=0 linked=0 updated=1 unchanged=0 conflicts=0 failed=0');
      expect(attio.companies().map((c) => [c.values.account_id, c.values.account_seats]).sort()).toEqual([
        ['acct_1', 15],
        ['acct_2', 1],
      ]);
      const all = await runCli([], env, copyPath);
      expect(all.out).toContain('created=1 linked=0 updated=0 unchanged=2 conflicts=0 failed=0');

      attio.resetStats();
      const second = await runCli([], env, copyPath);
      expect(second.code, second.err).toBe(0);
      expect(second.out).toContain('created=0 linked=0 updated=0 unchanged=3');
      expect(attio.stats().writes).toBe(0);
      for (const run of [setup, first, only, all, second]) expect(run.out + run.err).not.toMatch(/stripe/i);
    } finally {
      rmSync(file, { force: true });
    }
  });
});

describe('the README', () => {
  it('shows exactly the block a copy has below its marker line, and the entry line after it', () => {
    const readme = readFileSync(here('../README.md'), 'utf8');
    expect(readme).toContain(`\`\`\`ts\nimport { readFile } from 'node:fs/promises';\n\n${accountsBlock()}\n\nif (invokedDirectly) runCommandLine(SYNC);\n\`\`\``);
  });

  it('shows exactly the second target of the worked example', () => {
    const readme = readFileSync(here('../README.md'), 'utf8');
    const text = readFileSync(here('./accounts-source.ts'), 'utf8');
    const endMarker = '// ---- End of the second target. ----';
    const block = text.slice(text.indexOf('// ---- A second target'), text.indexOf(endMarker) + endMarker.length);
    expect(block.length).toBeGreaterThan(500);
    expect(readme).toContain(`\`\`\`ts\n${block}\n\`\`\``);
  });
});

describe('the tests a copy keeps', () => {
  it('import nothing of the fake Stripe, not even through a harness', () => {
    const kept = ['core.test.ts', 'core-units.test.ts', 'template.test.ts', 'copy.test.ts'];
    const seen = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(here(`./${file}`), 'utf8');
      for (const [, imported] of text.matchAll(/from '\.\/([\w.-]+\.ts)'/g)) visit(imported!);
    };
    kept.forEach(visit);
    expect([...seen].sort()).toEqual(['accounts-source.ts', 'attio-harness.ts', 'copy.test.ts', 'core-units.test.ts', 'core.test.ts', 'fake-attio.ts', 'faults.ts', 'hostile.ts', 'template.test.ts']);
  });
});
