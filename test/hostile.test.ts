// Hostile input and broken paths, end to end: text from Stripe and Attio never steers the output,
// email domains Attio would refuse are never sent, names are cleaned, bad output paths stop the run
// before any request, and a run stopped (SIGTERM) or killed (SIGKILL) mid-write leaves an audit line
// for every write that may have landed.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cleanName } from '../sync.ts';
import { bedsOfThisFile } from './beds.ts';
import { generateDataset, type DatasetSize } from './dataset.ts';
import { companyOf, isCreate, isRecordWrite, refuseWritesOf, runCli, startCli, writesOf, writtenKey } from './harness.ts';
import { BAD_EMAIL_DOMAINS, HOSTILE_TEXTS, RAW_CONTROL, workflowCommandLines } from './hostile.ts';

const open = bedsOfThisFile();
const T0 = 1_750_000_000;

const tempFile = (name: string) => join(mkdtempSync(join(tmpdir(), 'hostile-')), name);
const auditLines = (path: string) =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);

/** Neither a raw control character nor a line GitHub's runner would take as a workflow command. */
function expectSafe(text: string, what: string): void {
  expect(text.match(RAW_CONTROL), `${what}: ${JSON.stringify(text.match(RAW_CONTROL)?.[0])}`).toBeNull();
  expect(workflowCommandLines(text), what).toEqual([]);
}

describe('text from outside never steers the output', () => {
  it('names, metadata, product names, Attio values and Attio messages with newlines, ::error::, ::add-mask::, ##[, ANSI and controls: stdout, stderr, summary and audit log stay clean, dry and real', { timeout: 60_000 }, async () => {
    let refused: string | null = null;
    const bed = await open({ attio: { intercept: refuseWritesOf(() => refused, `Invalid value: ${HOSTILE_TEXTS.errorCommand}`) } });
    const s = bed.stripe.store;
    const pay = (id: string) => s.addCharge({ customer: id, amount: 1_000, currency: 'usd', created: T0 });
    // One customer synced before: the account guard sees a linked customer that is here.
    const first = s.addCustomer({ name: 'First', email: 'a@first.example', created: T0 });
    pay(first.id);
    expect((await bed.run()).code).toBe(0);

    const badDomainHint = s.addCustomer({ name: HOSTILE_TEXTS.errorCommand, email: 'a@one.example', metadata: { attio_domain: `${HOSTILE_TEXTS.errorCommand} | two | more cells` }, created: T0 + 1 });
    const badRecordHint = s.addCustomer({ name: HOSTILE_TEXTS.addMask, metadata: { attio_record_id: HOSTILE_TEXTS.addMask }, created: T0 + 2 });
    const legacy = s.addCustomer({ name: HOSTILE_TEXTS.legacyCommand, email: 'b@three.example', created: T0 + 3 });
    const productName = Object.values(HOSTILE_TEXTS).join(' '); // C0, DEL, C1, bidi, separators, ##[
    s.addSubscription({ customer: legacy.id, items: [{ unit_amount: 500, product_name: productName }] });
    const ansi = s.addCustomer({ name: HOSTILE_TEXTS.ansi, description: HOSTILE_TEXTS.controls, email: 'x@acme.example\n::error::mail', created: T0 + 4 });
    const bidi = s.addCustomer({ name: HOSTILE_TEXTS.bidi, email: 'd@bidi.example', created: T0 + 5 });
    const taken = s.addCustomer({ name: HOSTILE_TEXTS.stopCommands, email: 'c@taken.example', created: T0 + 6 });
    const refusedOne = s.addCustomer({ name: 'Refused Co', email: 'e@refused.example', created: T0 + 7 });
    for (const c of [badDomainHint, badRecordHint, legacy, ansi, bidi, taken, refusedOne]) pay(c.id);
    // In Attio: a company with the taken domain, linked to a key a person typed with a newline in it.
    const evilKey = 'cus_evil\n::error::linked ##[add-mask]x';
    bed.attio.addCompany({ name: 'Taken', domains: ['taken.example'], stripe_customer_id: evilKey });
    refused = refusedOne.id;

    const log = tempFile('audit.jsonl');
    const summaryFile = tempFile('summary.md');
    const env = { ...bed.env, GITHUB_STEP_SUMMARY: summaryFile };
    const dry = await runCli(['--dry-run', '--audit-log', log], env);
    expect(dry.code, dry.err).toBe(0);
    const real = await runCli(['--audit-log', log], env);
    expect(real.code, real.err).toBe(1); // the refused customer
    const summary = readFileSync(summaryFile, 'utf8');
    const audit = readFileSync(log, 'utf8');
    for (const [what, text] of Object.entries({ 'dry stdout': dry.out, 'dry stderr': dry.err, 'real stdout': real.out, 'real stderr': real.err, summary, audit })) expectSafe(text, what);

    // It was all shown, escaped: on one line, visibly.
    expect(real.out).toContain(`CONFLICT ${badDomainHint.id}: Stripe metadata attio_domain "acme.com is wrong\\n::error title=Sync::Stripe key revoked`);
    expect(real.out).toContain(`CONFLICT ${badRecordHint.id}: Stripe metadata attio_record_id "zz\\n::add-mask::created=" is not an Attio record id`);
    expect(real.out).toContain(`CONFLICT ${taken.id}: domain taken.example is record `);
    expect(real.out).toContain('already linked to cus_evil\\n::error::linked ##\\[add-mask]x; to place');
    expect(real.out).toMatch(/hold a stripe_customer_id that Stripe no longer has \(cus_evil\\n::error::linked ##\\\[add-mask\]x\)/);
    expect(real.err).toContain(`FAILED ${refusedOne.id}: Attio 400 validation_type: Invalid value: acme.com is wrong\\n::error title=Sync::`);
    expect(real.out).toMatch(/created=3 linked=0 updated=0 unchanged=1 conflicts=3 failed=1$/m);
    expect(dry.out).toContain('Evil ##\\[add-mask]created= Co'); // a planned name, in the dry run's list
    // The summary's table keeps one row per problem (the dry and the real run each added one), escaped for Markdown.
    expect(summary).toContain(`| ${refusedOne.id} | failed | Attio 400 validation_type: Invalid value: acme.com is wrong\\\\n::error title=Sync::`);
    const rows = summary.split('\n').filter((line) => line.startsWith(`| ${badDomainHint.id} |`));
    expect(rows).toHaveLength(2);
    for (const row of rows) expect(row.split(/(?<!\\)\|/)).toHaveLength(5); // key, outcome, detail: no pipe from the data

    // The audit log reads back exactly what was written: the product name as cleaned for Attio
    // (controls and bidi characters out, like a company name), and nothing of it raw.
    const lines = auditLines(log);
    const plan = cleanName(productName);
    expect(plan).not.toMatch(RAW_CONTROL);
    expect(companyOf(bed.attio, legacy.id)?.stripe_plan).toBe(plan);
    expect(lines.find((l) => l.stripe_customer_id === legacy.id && l.action === 'created')?.values).toMatchObject({ stripe_plan: { before: null, after: plan } });
    // Names as Attio should hold them: no control, ANSI or bidi character (part of the same issue).
    expect(companyOf(bed.attio, legacy.id)?.name).toBe('Evil ##[add-mask]created= Co');
    expect(companyOf(bed.attio, ansi.id)?.name).toBe('Red Link Co');
    expect(companyOf(bed.attio, ansi.id)?.domains).toEqual([]); // an email with a newline after the @: no domain
    expect(companyOf(bed.attio, bidi.id)?.name).toBe('ocsiB Ltd ::notice::y');
  });
});

describe('messages that say what happened', () => {
  it('the line ending the writes counts what landed apart from conflicts and failures: never "Wrote 3" when none did', async () => {
    const refused = new Set<string>();
    const no = { status: 400, body: { status_code: 400, type: 'invalid_request_error', code: 'validation_type', message: 'No.' } };
    const bed = await open({ attio: { intercept: (req) => (isRecordWrite(req) && refused.has(String(writtenKey(req))) ? no : undefined) } });
    const s = bed.stripe.store;
    for (let i = 0; i < 3; i++) {
      const c = s.addCustomer({ name: `Co ${i}`, email: `a@co${i}.example`, created: T0 + i });
      s.addCharge({ customer: c.id, amount: 1_000, currency: 'usd', created: T0 + i });
      refused.add(c.id);
    }
    const none = await bed.run();
    expect(none.code).toBe(1);
    expect(none.err).toMatch(/Wrote 0 records in [\d.]+s \(of 3 to write: 3 failed\)\./);

    refused.clear();
    const twin = s.addCustomer({ name: 'Twin', email: 'b@co0.example', created: T0 + 10 }); // co0.example goes to the older customer
    s.addCharge({ customer: twin.id, amount: 1_000, currency: 'usd', created: T0 + 10 });
    const mixed = await bed.run();
    expect(mixed.code).toBe(0);
    expect(mixed.err).toMatch(/Wrote 3 records in [\d.]+s \(of 4 to write: 1 conflicts\)\./);
  });
});

describe('email domains Attio would refuse', () => {
  it(`${BAD_EMAIL_DOMAINS.length} bad shapes: no create is refused, the companies get no domain, dry and real runs agree, and a second run writes nothing`, { timeout: 60_000 }, async () => {
    const bed = await open();
    const s = bed.stripe.store;
    const ids = BAD_EMAIL_DOMAINS.map((domain, i) => {
      const c = s.addCustomer({ name: `Bad ${i}`, email: `x@${domain}`, created: T0 + i });
      s.addCharge({ customer: c.id, amount: 1_000, currency: 'usd', created: T0 + i });
      return c.id;
    });
    // x@www.good.example is the company good.example.
    const good = bed.attio.addCompany({ name: 'Good', domains: ['good.example'] });
    const www = s.addCustomer({ name: 'Www', email: 'x@www.good.example', created: T0 + 100 });
    s.addCharge({ customer: www.id, amount: 1_000, currency: 'usd', created: T0 + 100 });

    const dry = await bed.run(['--dry-run']);
    expect(dry.code).toBe(0);
    const real = await bed.run();
    expect(real.code, real.err).toBe(0);
    const counts = `created=${ids.length} linked=1 updated=0 unchanged=0 conflicts=0 failed=0`;
    expect(dry.out).toContain(`DRY RUN (nothing written): ${counts}`);
    expect(real.out).toContain(counts);
    // No create was refused, none sent a domain, and each customer has its company.
    expect(bed.attio.requests.filter((r) => isCreate(r) && r.status >= 400)).toEqual([]);
    for (const r of bed.attio.requests.filter(isCreate)) expect((r.body as { data: { values: Record<string, unknown> } }).data.values.domains).toBeUndefined();
    for (const id of ids) expect(companyOf(bed.attio, id)?.domains, id).toEqual([]);
    expect(bed.attio.companies().find((c) => c.record_id === good)?.values.stripe_customer_id).toBe(www.id);
    // Reported once, naming a few of them.
    const note = new RegExp(`note: ${ids.length} customers have an email address with no valid domain after the @ \\(cus_\\w+, cus_\\w+, cus_\\w+ and ${ids.length - 3} more\\)`);
    for (const run of [dry, real]) {
      expect(run.out).toMatch(note);
      expect(run.out.split('no valid domain after the @')).toHaveLength(2);
    }
    expectSafe(real.out + real.err, 'output');

    bed.attio.resetStats();
    const second = await bed.run();
    expect(second.code).toBe(0);
    expect(second.out).toContain(`created=0 linked=0 updated=0 unchanged=${ids.length + 1} conflicts=0 failed=0`);
    expect(writesOf(bed.attio)).toEqual([]);
    expect(second.out).not.toContain('no valid domain');
  });
});

describe('names', () => {
  it('a name of invisible characters falls back as an empty one; a long family-emoji name is cut whole', async () => {
    const bed = await open();
    const s = bed.stripe.store;
    const family = '👨‍👩‍👧‍👦';
    const invisible = s.addCustomer({ name: '\u200b\u202e\u0000 \u3164', description: 'Described Co', email: 'a@invisible.example', created: T0 });
    const long = s.addCustomer({ name: `Fam ${family.repeat(400)}`, email: 'a@family.example', created: T0 + 1 });
    for (const c of [invisible, long]) s.addCharge({ customer: c.id, amount: 1_000, currency: 'usd', created: T0 });
    expect((await bed.run()).code).toBe(0);
    expect(companyOf(bed.attio, invisible.id)?.name).toBe('Described Co');
    const name = String(companyOf(bed.attio, long.id)?.name);
    const graphemes = Array.from(new Intl.Segmenter('en', { granularity: 'grapheme' }).segment(name), (g) => g.segment);
    expect(graphemes).toHaveLength(250);
    expect(graphemes.at(-2)).toBe(family);
    expect(graphemes.at(-1)).toBe('…');
  });
});

describe('output paths are checked before anything is read', () => {
  const rootCannotBeDenied = process.getuid?.() === 0; // root writes into a read-only folder anyway

  it('a bad --audit-log or GITHUB_STEP_SUMMARY exits 2 naming the path and why, before any request, in a dry run too', async () => {
    const bed = await open();
    bed.stripe.store.addCustomer({ name: 'Co', email: 'a@co.example' });
    const dir = mkdtempSync(join(tmpdir(), 'paths-'));
    const aFile = join(dir, 'a-file');
    writeFileSync(aFile, '');
    const readOnly = join(dir, 'read-only');
    mkdirSync(readOnly);
    chmodSync(readOnly, 0o555);
    const cases: Array<[string[], Record<string, string>, string]> = [
      [['--audit-log', join(dir, 'missing', 'audit.jsonl')], {}, `--audit-log ${join(dir, 'missing', 'audit.jsonl')} cannot be written: its folder does not exist.`],
      [['--audit-log', dir], {}, `--audit-log ${dir} cannot be written: it is a folder, not a file.`],
      [['--audit-log', join(aFile, 'audit.jsonl')], {}, `--audit-log ${join(aFile, 'audit.jsonl')} cannot be written: a part of the path is a file, not a folder.`],
      [[], { GITHUB_STEP_SUMMARY: dir }, `GITHUB_STEP_SUMMARY ${dir} cannot be written: it is a folder, not a file.`],
      [[], { GITHUB_STEP_SUMMARY: join(dir, 'missing', 'summary.md') }, `GITHUB_STEP_SUMMARY ${join(dir, 'missing', 'summary.md')} cannot be written: its folder does not exist.`],
    ];
    if (!rootCannotBeDenied) cases.push([['--audit-log', join(readOnly, 'audit.jsonl')], {}, `--audit-log ${join(readOnly, 'audit.jsonl')} cannot be written: permission denied.`]);
    for (const [argv, env, message] of cases) {
      for (const dryRun of [[], ['--dry-run']]) {
        bed.stripe.resetStats();
        bed.attio.resetStats();
        const result = await bed.run([...argv, ...dryRun], { env: { ...bed.env, GITHUB_STEP_SUMMARY: tempFile('summary.md'), ...env } });
        expect(result.code, message).toBe(2);
        expect(result.err).toContain(message);
        expect(bed.stripe.stats().total + bed.attio.stats().total).toBe(0);
      }
    }
    // Checking leaves nothing behind: the audit log of a good path is not created until a line is written.
    const good = join(dir, 'audit.jsonl');
    expect((await bed.run(['--audit-log', good])).code).toBe(0);
    expect(() => readFileSync(good)).toThrow(/ENOENT/); // the only customer has nothing to sync
  });

  it('the CLI exits 2 before any request for an --audit-log in a missing folder', async () => {
    const bed = await open();
    const path = join(tmpdir(), 'no-such-folder-for-the-sync', 'audit.jsonl');
    const result = await runCli(['--audit-log', path], bed.env);
    expect(result.code).toBe(2);
    expect(result.err).toContain(`Configuration error:\n--audit-log ${path} cannot be written: its folder does not exist.`);
    expect(result.err).not.toContain('    at '); // no stack trace
    expect(bed.stripe.stats().total + bed.attio.stats().total).toBe(0);
  });
});

describe('an audit log that never misses a write', () => {
  const SIZE: DatasetSize = { customers: 120, charges: 900, subscriptions: 60, existingShare: 0.3, seed: 8 };

  /** Every record write the fake Attio received, by the customer id it carries. */
  const receivedKeys = (requests: ReadonlyArray<{ method: string; path: string; body: unknown }>) =>
    requests.filter(isRecordWrite).map((r) => writtenKey(r)!);

  // GitHub cancels a job with SIGINT, then SIGTERM 7.5 s later (actions/runner ProcessInvoker.cs): here at once.
  it.each([
    { signals: ['SIGTERM'] as const, code: 143 },
    { signals: ['SIGINT', 'SIGTERM'] as const, code: 130 },
  ])('$signals mid-write: no new write starts, those under way finish and are logged, the report follows, exit $code', { timeout: 60_000 }, async ({ signals, code }) => {
    const bed = await open({ attio: { latencyMs: 15 } });
    generateDataset(bed.stripe.store, bed.attio, SIZE);
    const log = tempFile('audit.jsonl');
    const cli = startCli(['--audit-log', log], bed.env);
    let signalled = false;
    // The second signal once the first is taken (GitHub sends SIGTERM 7.5 s after SIGINT): two signals
    // sent at once may be handled in either order, as each can land on another of Node's threads.
    const [first, ...rest] = signals;
    cli.child.stderr!.on('data', (d) => String(d).includes(`Stopped by ${first}`) && rest.splice(0).forEach((signal) => cli.child.kill(signal)));
    const watcher = setInterval(() => {
      if (!signalled && bed.attio.requests.filter(isRecordWrite).length >= 25) {
        signalled = true;
        cli.child.kill(first);
      }
    }, 5);
    const stopped = await cli.done;
    clearInterval(watcher);
    expect(signalled).toBe(true);
    expect(stopped.code).toBe(code);
    expect(stopped.err).toContain(`Stopped by ${signals[0]}: no new write starts`);
    expect(stopped.out).toMatch(new RegExp(`note: stopped by ${signals[0]}: \\d+ records were not started and are left for the next run`));
    expect(stopped.out).toMatch(/ left=\d+$/m);

    const writes = bed.attio.requests.filter(isRecordWrite);
    const lines = auditLines(log);
    const logged = (key: string, actions: string[]) => lines.some((l) => l.stripe_customer_id === key && actions.includes(String(l.action)));
    for (const write of writes) {
      const key = writtenKey(write)!;
      expect(logged(key, ['intent']), key).toBe(true);
      // Every write that was answered was also logged with its outcome: the drain let it finish.
      if (write.status >= 200 && write.status < 300) expect(logged(key, ['created', 'linked', 'updated']), key).toBe(true);
    }

    const resumed = await bed.run(['--audit-log', log]);
    expect(resumed.code).toBe(0);
    const ids = bed.attio.companies().map((c) => c.values.stripe_customer_id).filter(Boolean);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('SIGKILL mid-write, at three points: every write the fake received has an audit line (an intent at least)', { timeout: 60_000 }, async () => {
    const bed = await open({ attio: { latencyMs: 15 } });
    generateDataset(bed.stripe.store, bed.attio, SIZE);
    const log = tempFile('audit.jsonl');
    let seen = 0;
    for (const killAfter of [3, 12, 30]) {
      const cli = startCli(['--audit-log', log], bed.env);
      let killed = false;
      const watcher = setInterval(() => {
        if (!killed && bed.attio.requests.filter(isRecordWrite).length - seen >= killAfter) {
          killed = true;
          cli.child.kill('SIGKILL');
        }
      }, 2);
      const result = await cli.done;
      clearInterval(watcher);
      expect(killed).toBe(true);
      expect(result.code).toBe(137);
      const writes = bed.attio.requests.filter(isRecordWrite);
      const logged = new Set(auditLines(log).map((l) => l.stripe_customer_id));
      for (const key of receivedKeys(writes.slice(seen))) expect(logged.has(key), `${key} (killed after ${killAfter})`).toBe(true);
      seen = writes.length;
    }
    const last = await bed.run(['--audit-log', log]);
    expect(last.code).toBe(0);
    const ids = bed.attio.companies().map((c) => c.values.stripe_customer_id).filter(Boolean);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
