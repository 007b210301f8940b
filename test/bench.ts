// `npm run bench [-- flags]`: how fast is the real sync against the APIs' documented limits?
//
// Starts the fake Stripe and Attio servers in this process, with per-request latency (Stripe 50 ms
// plus a cost per listed object: 250 ms for a page of 100 expanded charges, less for customers and
// subscriptions; Attio 80 ms), the documented rate limits enforced with 429s (Stripe: 25/s per
// endpoint and 100/s overall, behind a live-mode key so the sync uses its live pacing; Attio: 100
// reads/s and 25 writes/s) and a data set from generateDataset. It runs the REAL CLI as a child
// process, started as the workflow starts it (SYNC_NODE_ARGS: `node sync.ts` on Node 24, with
// tsx's loader on older Node): `--setup` once (not measured), then each
// scenario:
//
//   cold     first run: creates and links every company, then creates a person per billing email
//            (unless SYNC_PEOPLE=off, which the bench passes on to the sync and its own checks)
//   warm     again at once, nothing changed: must make zero Attio writes (companies and people)
//   delta    applyDelta gives 5% of the customers a new charge or a refund, then a run: one write each
//   dry-run  `--dry-run`: reads everything and resolves the plan (domain look-ups), writes nothing
//   seed     no sync run: the bench writes what a cold run would leave straight into the fake Attio
//            (with sync.ts's own readStripe, customerValues and personRecords), companies and people,
//            so that warm can be measured at a size where a cold run would take hours
//   changes  issue 22 (after seed or cold): --changed N customers change in Stripe within the last
//            hour (applyChanges: new charges, refunds, subscriptions canceled or set to end, customers
//            turned delinquent or given a new email, a few new customers), then `sync.ts
//            --changes-since 3h` (with the realistic latency, even under --scale), then a full run that
//            must write nothing. A sync.ts without the flag (exit 2, "Unknown option") is reported as
//            NOT RUN, and the full run must then write exactly what the changes need. The data set then
//            records no events of its own (see measureChanges). Two table rows: the incremental run, the
//            full run after it.
//
// Floor = the slowest Stripe listing at 25 pages/s (or every page at 100/s, if that is slower) plus
// the Attio writes the scenario needs at 25/s (or its domain look-ups at 100 reads/s, if slower):
// the best any client could do within the documented limits.
//
// --scale: 100,000 customers, 500,000 charges, 50,000 subscriptions, no latency, no rate limits,
// scenarios seed,warm. Cold and dry-run are not run there by default: the sync paces itself (LIMITS
// in sync.ts: 24 writes/s and 90 reads/s) whatever the server allows, so 100k creates take over an hour and the ~90k
// domain look-ups of a dry run about 17 minutes (pass --scenarios to run them anyway).
//
// Prints one table, per-run details (the sync's summary, a request timeline, request mix) and
// findings; logs and the fakes' request logs go to a temp folder. Exit code 1 when a sync run exits
// non-zero, a warm (or dry) run writes, or a changes check fails; 2 when a changes run could not be
// made (the sync has no --changes-since) and nothing failed.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Stripe from 'stripe';
import {
  ATTIO_LIMITS,
  companyDomain,
  companyName,
  customerValues,
  personalName,
  personName,
  personRecords,
  readStripe,
  RETRY,
  shouldSync,
  STRIPE_LIMITS,
  stripePacers,
  usableEmail,
  type DesiredRecord,
} from '../sync.ts';
import { applyChanges, applyDelta, DEFAULT_SIZE, generateDataset, type DatasetSize } from './dataset.ts';
import { startFakeAttio, type FakeAttio } from './fake-attio.ts';
import { startFakeStripe, type FakeStripe, type StripeStore } from './fake-stripe.ts';
import type { RequestInfo } from './faults.ts';
import { SYNC_NODE_ARGS } from './harness.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SYNC = join(ROOT, 'sync.ts');
const STRIPE_KEY = 'sk_live_bench_0000000000000000'; // live-mode shape: the sync paces at its live limits
const ATTIO_KEY = 'attio_bench_key_0000000000';

/** The documented limits the fakes enforce, and the ones the floor is computed from. */
const API_LIMITS = { stripePerEndpoint: 25, stripeOverall: 100, attioReads: 100, attioWrites: 25 };
const ATTIO_LATENCY_MS = 80;
/** Stripe latency: a fixed cost plus a cost per object the page may hold (limit), by endpoint. */
const STRIPE_BASE_MS = 50;
const STRIPE_MS_PER_OBJECT: Record<string, number> = { '/v1/charges': 2, '/v1/subscriptions': 1.5, '/v1/customers': 1 };

const SCENARIOS = ['cold', 'warm', 'delta', 'dry-run', 'seed', 'changes'] as const;
/** The changes scenario's window: `--changes-since` takes it, every change falls within its last hour. */
const CHANGES_SINCE = '3h';
const CHANGES_SINCE_S = 3 * 3600;
/** --burst: another integration spends the write quota for this long, this long after the first write. */
const BURST_MS = 3000;
const BURST_AFTER_MS = 5000;
type Scenario = (typeof SCENARIOS)[number];

// ------------------------------------------------------------------------------------------------
// Options
// ------------------------------------------------------------------------------------------------

const USAGE = `Usage: npm run bench -- [--scale | --burst] [--customers N] [--charges N] [--subscriptions N]
                       [--existing-share X] [--seed N] [--delta-share X] [--changed N] [--scenarios a,b,...]
                       [--logs DIR] [--node-flags="..."]

  scenarios:    ${SCENARIOS.join(', ')} (default cold,warm,delta; with --scale seed,warm;
                with --changed seed,changes)
  --changed N   the changes scenario: N customers change in Stripe within the last hour (default 10), then
                \`sync.ts --changes-since ${CHANGES_SINCE}\`, then a full run that must write nothing
  --scale       100k customers, 500k charges, 50k subscriptions, no latency, no rate limits
  --burst       a cold run of 400 customers twice, on fresh fakes, the second with ${BURST_MS / 1000} s of 429s on
                every Attio write (${BURST_AFTER_MS / 1000} s after the first write): what the burst costs
  --node-flags  Node options for the sync's process, e.g. --node-flags="--trace-gc"`;

interface BenchOptions {
  size: DatasetSize;
  deltaShare: number;
  scenarios: Scenario[];
  realistic: boolean; // latency and rate limits on
  logs: string;
  nodeFlags: string[];
  burst: boolean;
  /** changes: how many customers change before the incremental run. */
  changed: number;
}

function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      scale: { type: 'boolean' },
      burst: { type: 'boolean' },
      customers: { type: 'string' },
      charges: { type: 'string' },
      subscriptions: { type: 'string' },
      'existing-share': { type: 'string' },
      seed: { type: 'string' },
      'delta-share': { type: 'string' },
      changed: { type: 'string' },
      scenarios: { type: 'string' },
      logs: { type: 'string' },
      'node-flags': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const scale = values.scale ?? false;
  const base: DatasetSize = scale
    ? { customers: 100_000, charges: 500_000, subscriptions: 50_000, existingShare: 0.3, seed: 42 }
    : values.burst
      ? { customers: 400, charges: 4_000, subscriptions: 300, existingShare: 0.3, seed: 42 }
      : DEFAULT_SIZE;
  const number = (name: string, raw: string | undefined, fallback: number, ok: (n: number) => boolean) => {
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || !ok(n)) throw new Error(`--${name}: invalid value "${raw}"\n\n${USAGE}`);
    return n;
  };
  const count = (n: number) => Number.isInteger(n) && n >= 0;
  const share = (n: number) => n >= 0 && n <= 1;
  const scenarios = (values.scenarios ?? (values.changed !== undefined ? 'seed,changes' : scale ? 'seed,warm' : 'cold,warm,delta')).split(',').map((s) => s.trim());
  for (const s of scenarios) if (!(SCENARIOS as readonly string[]).includes(s)) throw new Error(`--scenarios: unknown scenario "${s}"\n\n${USAGE}`);
  return {
    size: {
      customers: number('customers', values.customers, base.customers, (n) => count(n) && n > 0),
      charges: number('charges', values.charges, base.charges, count),
      subscriptions: number('subscriptions', values.subscriptions, base.subscriptions, count),
      existingShare: number('existing-share', values['existing-share'], base.existingShare, share),
      seed: number('seed', values.seed, base.seed, Number.isInteger),
    },
    deltaShare: number('delta-share', values['delta-share'], 0.05, share),
    changed: number('changed', values.changed, 10, (n) => count(n) && n > 0),
    scenarios: scenarios as Scenario[],
    realistic: !scale,
    logs: values.logs ? (mkdirSync(values.logs, { recursive: true }), values.logs) : mkdtempSync(join(tmpdir(), 'sync-bench-')),
    nodeFlags: values['node-flags']?.split(' ').filter(Boolean) ?? [],
    burst: values.burst ?? false,
  };
}

// ------------------------------------------------------------------------------------------------
// The fakes, and when each request arrived (for the timeline)
// ------------------------------------------------------------------------------------------------

interface Arrival {
  t: number; // performance.now()
  service: 'stripe' | 'attio';
  method: string;
  path: string;
  write: boolean;
}

/**
 * The fakes, with the documented rate limits when `realistic`. Latency follows `latency.on` (at
 * first `realistic`), read at every request: the changes scenario turns it on for its incremental
 * run even under --scale, since that run's wall time is round trips, not the pacers.
 */
async function startFakes(realistic: boolean, arrivals: Arrival[], latency = { on: realistic }): Promise<{ stripe: FakeStripe; attio: FakeAttio }> {
  // The latency callbacks see every request first: they double as the arrival log.
  const stripeLatency = (req: RequestInfo) => {
    arrivals.push({ t: performance.now(), service: 'stripe', method: req.method, path: req.path, write: false });
    if (!latency.on) return 0;
    const limit = Number(req.query.get('limit') ?? 10);
    return STRIPE_BASE_MS + (STRIPE_MS_PER_OBJECT[req.path] ?? 0.5) * limit;
  };
  const attioLatency = (req: RequestInfo) => {
    const write = !(req.method === 'GET' || (req.method === 'POST' && req.path.endsWith('/records/query')));
    arrivals.push({ t: performance.now(), service: 'attio', method: req.method, path: req.path, write });
    return latency.on ? ATTIO_LATENCY_MS : 0;
  };
  const stripe = await startFakeStripe({
    apiKey: STRIPE_KEY,
    latencyMs: stripeLatency,
    rateLimit: realistic ? { perEndpoint: API_LIMITS.stripePerEndpoint, overall: API_LIMITS.stripeOverall } : undefined,
  });
  const attio = await startFakeAttio({
    apiKey: ATTIO_KEY,
    latencyMs: attioLatency,
    rateLimit: realistic ? { reads: API_LIMITS.attioReads, writes: API_LIMITS.attioWrites } : undefined,
  });
  return { stripe, attio };
}

// ------------------------------------------------------------------------------------------------
// Running the CLI: wall time, CPU time and peak RSS of the child
// ------------------------------------------------------------------------------------------------

interface ChildRun {
  code: number;
  startedAt: number; // performance.now() at spawn
  wallS: number;
  cpuS: number | null;
  peakRssMb: number | null;
  output: string;
}

const GNU_TIME = '/usr/bin/time';

/**
 * The sync starts as the tests start it, which is as the workflow does (SYNC_NODE_ARGS), then
 * --node-flags: last, because of two values for one V8 flag the last one wins.
 */
const syncNodeArgs = (nodeFlags: readonly string[]) => [...SYNC_NODE_ARGS, ...nodeFlags];
const syncCommandLabel = (nodeFlags: readonly string[]) => `node ${[...syncNodeArgs(nodeFlags), 'sync.ts'].join(' ')} (Node ${process.versions.node})`;

/**
 * Runs the sync with the bench's --node-flags and `args`. With GNU time available, CPU (user+sys)
 * and peak RSS come from the kernel's rusage of the child; otherwise /proc/<pid> is polled every
 * 50 ms (VmHWM is already the peak; CPU misses at most the last 50 ms).
 */
async function runSync(args: string[], nodeFlags: readonly string[], env: NodeJS.ProcessEnv, logFile: string): Promise<ChildRun> {
  const command = [process.execPath, ...syncNodeArgs(nodeFlags), SYNC, ...args];
  const timeFile = `${logFile}.time`;
  const useTime = existsSync(GNU_TIME);
  const [file, ...argv] = useTime ? [GNU_TIME, '-f', '%U %S %M', '-o', timeFile, ...command] : command;
  const startedAt = performance.now();
  const child = spawn(file!, argv, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const polled = { cpuTicks: 0, hwmKb: 0 };
  const poll = useTime ? null : setInterval(() => pollProc(child.pid!, polled), 50);
  const code = await new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status, signal) => resolve(status ?? (signal ? 128 : 1)));
  });
  const wallS = (performance.now() - startedAt) / 1000;
  if (poll) clearInterval(poll);
  writeFileSync(logFile, output);

  let cpuS: number | null = null;
  let peakRssMb: number | null = null;
  if (useTime) {
    // Non-zero exits add a "Command exited with non-zero status N" line first: the numbers are last.
    const last = readFileSync(timeFile, 'utf8').trim().split('\n').at(-1) ?? '';
    const [user, sys, rssKb] = last.split(' ').map(Number);
    if (user !== undefined && sys !== undefined && rssKb !== undefined && [user, sys, rssKb].every(Number.isFinite)) {
      cpuS = user + sys;
      peakRssMb = rssKb / 1024;
    }
  } else if (polled.hwmKb > 0) {
    cpuS = polled.cpuTicks / 100; // USER_HZ is 100 on Linux
    peakRssMb = polled.hwmKb / 1024;
  }
  return { code, startedAt, wallS, cpuS, peakRssMb, output };
}

function pollProc(pid: number, into: { cpuTicks: number; hwmKb: number }): void {
  try {
    const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    if (hwm) into.hwmKb = Math.max(into.hwmKb, Number(hwm[1]));
    // Fields after the ")" that ends the command name: utime and stime are the 12th and 13th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    into.cpuTicks = Number(fields[11]) + Number(fields[12]);
  } catch {
    // the process is gone: keep the last reading
  }
}

// ------------------------------------------------------------------------------------------------
// What a run should do: expected writes, floor, Attio snapshots, seeding
// ------------------------------------------------------------------------------------------------

/** Customers the sync writes: any succeeded charge or any subscription (sync.ts shouldSync). */
function syncableCustomers(store: StripeStore): Map<string, Stripe.Customer> {
  const wanted = new Set<string>();
  for (const charge of store.charges) if (charge.status === 'succeeded' && typeof charge.customer === 'string') wanted.add(charge.customer);
  for (const sub of store.subscriptions) wanted.add(typeof sub.customer === 'string' ? sub.customer : sub.customer.id);
  return new Map(store.customers.filter((c) => wanted.has(c.id)).map((c) => [c.id, c]));
}

/** Each Attio company's sync-owned values (stripe_*), by stripe_customer_id (or record id when unlinked). */
function snapshot(attio: FakeAttio): Map<string, string> {
  const out = new Map<string, string>();
  for (const company of attio.companies()) {
    const owned = Object.entries(company.values).filter(([slug]) => slug.startsWith('stripe_'));
    const key = company.values.stripe_customer_id;
    out.set(typeof key === 'string' ? key : company.record_id, JSON.stringify(owned));
  }
  return out;
}

/** Whether the sync writes people: SYNC_PEOPLE as sync.ts's switchedOn reads it (on unless off/false/no/0). */
function peopleOn(env: NodeJS.ProcessEnv): boolean {
  return !['off', 'false', 'no', '0'].includes((env.SYNC_PEOPLE ?? '').trim().toLowerCase());
}

function stripeFloorSeconds(store: StripeStore): number {
  const pages = [store.customers.length, store.charges.length, store.subscriptions.length].map((n) => Math.max(1, Math.ceil(n / 100)));
  return Math.max(Math.max(...pages) / API_LIMITS.stripePerEndpoint, pages.reduce((a, b) => a + b, 0) / API_LIMITS.stripeOverall);
}

/**
 * `seed`: puts the fake Attio in the state a cold run leaves, without the CLI: reads the fake Stripe
 * with sync.ts's own readStripe, maps with customerValues, then links existing companies by domain
 * (oldest customer first, as the sync's plan does) and adds the rest, through the fake's helpers.
 * Then the people, as the cold run's people step leaves them: sync.ts's own personRecords over the
 * same companies (a person per usable billing email, the oldest customer's where several share one),
 * each with its email, its name (personName, in the personal-name object form, as the sync writes
 * it on create) and `company` = the record its customer's company was written to. A person whose
 * company was not written (a domain conflict) is left out, as the sync leaves it waiting.
 * `people: false` (SYNC_PEOPLE=off) leaves the people out.
 */
async function seedSyncedState(
  stripeFake: FakeStripe,
  attio: FakeAttio,
  paced: boolean,
  people: boolean,
): Promise<{ linked: number; created: number; people: number; seconds: number }> {
  const started = performance.now();
  const stripe = new Stripe(STRIPE_KEY, { host: '127.0.0.1', port: stripeFake.port, protocol: 'http', maxNetworkRetries: 0, telemetry: false });
  const { facts } = await readStripe({
    stripe,
    only: null,
    policy: { retries: RETRY.retries, baseDelayMs: RETRY.baseDelayMs, sleep: (ms) => new Promise((r) => setTimeout(r, ms)), random: Math.random },
    pacers: paced ? stripePacers(STRIPE_LIMITS, false) : stripePacers({ ...STRIPE_LIMITS, perEndpointPerSecond: Infinity, livePerSecond: Infinity, testPerSecond: Infinity }, true),
    concurrency: 8,
    nowUnix: Math.floor(Date.now() / 1000),
  });
  const companyByDomain = new Map<string, string>();
  for (const company of attio.companies()) for (const domain of (company.values.domains as string[] | undefined) ?? []) companyByDomain.set(domain, company.record_id);
  const claimed = new Set<string>();
  /** Where each customer's company was written (its record id). */
  const written = new Map<string, string>();
  /** The companies as the sync's map hands them to personRecords: every customer it writes, with its claim order. */
  const companies: DesiredRecord[] = [];
  let linked = 0;
  let created = 0;
  const oldestFirst = [...facts.values()].filter((f) => shouldSync(f, false)).sort((a, b) => a.createdUnix - b.createdUnix || a.id.localeCompare(b.id));
  for (const f of oldestFirst) {
    const values = customerValues(f, 'USD');
    const domain = companyDomain(f.email);
    // sync.ts companyRecords' claimOrder: creation time, then id.
    companies.push({ key: f.id, values, onCreate: {}, linkValue: domain, claimOrder: `${String(f.createdUnix).padStart(12, '0')} ${f.id}` });
    if (domain && claimed.has(domain)) continue; // a conflict in the sync: not written
    if (domain) claimed.add(domain);
    const existing = domain ? companyByDomain.get(domain) : undefined;
    if (existing) {
      attio.setCompanyValues(existing, values);
      written.set(f.id, existing);
      linked += 1;
    } else {
      written.set(f.id, attio.addCompany({ ...values, name: companyName(f), domains: domain ? [domain] : [] }));
      created += 1;
    }
  }
  let peopleAdded = 0;
  if (people) {
    // The data sets put no people in Attio before the first run: every person here is one the cold run creates.
    if (attio.people().length) throw new Error('seed: Attio already holds people; the seed only knows what a first run creates');
    for (const person of personRecords(facts, companies).records) {
      const customer = person.ifEmpty?.company?.key;
      const companyId = customer === undefined ? undefined : written.get(customer);
      if (companyId === undefined) continue; // its company was not written: the sync leaves it waiting
      const name = personName(facts.get(customer!)!);
      attio.addPerson({ email_addresses: person.key, name: name === null ? null : personalName(name), company: companyId });
      peopleAdded += 1;
    }
  }
  return { linked, created, people: peopleAdded, seconds: (performance.now() - started) / 1000 };
}

// ------------------------------------------------------------------------------------------------
// One measured run
// ------------------------------------------------------------------------------------------------

/** A run's numbers, as a table row and a measured run both hold them. */
interface RunNumbers {
  run: ChildRun;
  stripeRequests: number;
  attioReads: number;
  attioWrites: number;
  attioWritesOk: number;
  rateLimited: number;
  totalRequests: number;
}

interface Row extends RunNumbers {
  scenario: Scenario;
  label: string;
  expectedWrites: number;
  /** Null where no floor is worked out (the changes scenario's incremental run). */
  floorS: number | null;
  details: string[];
  findings: string[];
}

interface Bench {
  options: BenchOptions;
  stripe: FakeStripe;
  attio: FakeAttio;
  arrivals: Arrival[];
  customerIds: string[];
  dataEndUnix: number;
  env: NodeJS.ProcessEnv;
  /** The step that last wrote every company (a cold run or the seed), if any. */
  synced: 'cold' | 'seed' | null;
  /** The fakes' latency switch (startFakes). */
  latency: { on: boolean };
}

async function measure(bench: Bench, scenario: Exclude<Scenario, 'seed' | 'changes'>): Promise<Row> {
  const { stripe, attio, options } = bench;
  const store = stripe.store;
  const findings: string[] = [];
  const details: string[] = [];

  // What this run should write, from the data alone.
  let expectedWrites = 0;
  let expectedLookups = 0;
  let expectedPeople = 0;
  let touched = new Set<string>();
  const chargesBefore = store.charges.length;
  if (scenario === 'delta') touched = applyDelta(store, bench.customerIds, options.deltaShare, options.size.seed + 1, bench.dataEndUnix);
  const before = snapshot(attio);
  const syncable = syncableCustomers(store);
  if (scenario === 'delta') {
    const newCharges = store.charges.length - chargesBefore;
    details.push(`delta: ${touched.size} customers touched (${newCharges} new charges, ${touched.size - newCharges} refunds of 1.00 USD)`);
    expectedWrites = touched.size; // a touched customer's revenue always changes: one update (or create) each
  } else if (scenario === 'cold' || scenario === 'dry-run') {
    const unlinked = [...syncable.values()].filter((c) => !before.has(c.id));
    expectedLookups = unlinked.filter((c) => companyDomain(c.email) !== null).length;
    if (scenario === 'cold') {
      expectedWrites = unlinked.length; // one create or one link each (data set domains are unique)
      expectedPeople = peopleOn(bench.env) ? newPeople(syncable, attio) : 0;
      expectedWrites += expectedPeople; // one assert each, after the companies
    }
  }
  const floorS =
    stripeFloorSeconds(store) + Math.max(expectedWrites / API_LIMITS.attioWrites, (scenario === 'dry-run' || scenario === 'cold' ? expectedLookups : 0) / API_LIMITS.attioReads);

  stripe.resetStats();
  attio.resetStats();
  bench.arrivals.length = 0;
  const logFile = join(options.logs, `${scenario}.log`);
  console.log(`running ${scenario} ...`);
  const run = await runSync(scenario === 'dry-run' ? ['--dry-run'] : [], bench.options.nodeFlags, bench.env, logFile);
  const s = stripe.stats();
  const a = attio.stats();
  const attioWritesOk = writesOk(attio);
  const byObject = attioByObject(attio).writes;
  writeRequestLogs(bench, scenario, run.startedAt);

  const summary = run.output.trim().split('\n').filter((l) => /created=\d+ linked=\d+/.test(l)).at(-1) ?? '(no summary line)';
  details.push(`sync: ${summary}`);
  for (const line of run.output.split('\n')) if (/^(Read |Wrote |Planned |note: .*retried)/.test(line)) details.push(`sync: ${line.trim()}`);
  const problems = run.output.split('\n').filter((line) => /^(CONFLICT|FAILED) /.test(line));
  for (const line of problems.slice(0, 5)) details.push(`sync: ${line.trim()}`);
  if (problems.length > 5) details.push(`sync: ... and ${problems.length - 5} more CONFLICT/FAILED lines in ${logFile}`);
  details.push(timeline(bench.arrivals, run));
  details.push(requestMix(stripe, attio));
  details.push(listingWindows(stripe, findings));

  // Checks.
  const after = snapshot(attio);
  const linkedIds = [...after.keys()].filter((k) => k.startsWith('cus_'));
  if (run.code !== 0) findings.push(`FAIL: exit code ${run.code} (log: ${logFile})`);
  details.push(`Attio writes by object: companies ${byObject.companies}, people ${byObject.people}${byObject.other ? `, other ${byObject.other}` : ''}`);
  if ((scenario === 'warm' || scenario === 'dry-run') && (a.writes > 0 || byObject.companies + byObject.people > 0))
    findings.push(`FAIL: ${a.writes} Attio writes in a ${scenario} run (expected 0: companies ${byObject.companies}, people ${byObject.people})`);
  if (peopleOn(bench.env) && scenario !== 'dry-run') {
    const people = attio.people().length;
    details.push(`Attio: ${people} people after the run${scenario === 'cold' ? ` (${byObject.people} people writes, ${expectedPeople} expected)` : ''}`);
  }
  if (scenario !== 'dry-run') {
    const missing = [...syncable.keys()].filter((id) => !after.has(id)).length;
    details.push(`Attio: ${linkedIds.length} companies linked to a Stripe customer after the run; ${missing} of ${syncable.size} syncable customers not linked`);
  }
  if (scenario === 'delta') {
    const changed = [...after].filter(([key, value]) => before.get(key) !== value).map(([key]) => key);
    const missed = [...touched].filter((id) => before.get(id) === after.get(id));
    details.push(`delta: expected writes ${expectedWrites}, actual ${a.writes} (${attioWritesOk} accepted); companies whose synced values changed: ${changed.length}; touched but unchanged: ${missed.length}`);
    if (a.writes !== expectedWrites) findings.push(`delta wrote ${a.writes} times, expected ${expectedWrites}`);
    if (missed.length) findings.push(`delta: ${missed.length} touched customers unchanged in Attio (e.g. ${missed.slice(0, 3).join(', ')})`);
  } else if (scenario === 'cold' && a.writes !== expectedWrites) {
    findings.push(`cold wrote ${a.writes} times (${attioWritesOk} accepted), expected ${expectedWrites}`);
  }
  const ratio = run.wallS / floorS;
  if (options.realistic && scenario === 'cold' && ratio > 1.15) findings.push(`cold wall/floor ${ratio.toFixed(2)} > 1.15`);
  if (options.realistic && scenario === 'warm' && ratio > 1.25) {
    // Process start is in the wall time but in no floor: say how much of the run it was.
    const startS = bench.arrivals.length ? (bench.arrivals[0]!.t - run.startedAt) / 1000 : null;
    findings.push(`warm wall/floor ${ratio.toFixed(2)} > 1.25${startS === null ? '' : ` (${startS.toFixed(2)} s of it before the first request: process start)`}`);
  }
  const rateLimited = s.rateLimited + a.rateLimited;
  const totalRequests = s.total + a.total;
  if (totalRequests > 0 && rateLimited / totalRequests >= 0.01) findings.push(`429s: ${rateLimited} of ${totalRequests} requests (${((100 * rateLimited) / totalRequests).toFixed(1)}%)`);
  if (scenario === 'warm' && !bench.synced) findings.push('warm ran without a cold run or seed before it: it was a first run');
  if (scenario === 'cold' && run.code === 0) bench.synced = 'cold';

  return {
    scenario,
    label: scenario === 'warm' && bench.synced === 'seed' ? 'warm (seeded)' : scenario,
    run,
    stripeRequests: s.total,
    attioReads: a.reads,
    attioWrites: a.writes,
    attioWritesOk,
    rateLimited,
    totalRequests,
    expectedWrites,
    floorS,
    details,
    findings,
  };
}

/**
 * `changes` (issue 22): after a seed (or a cold run), `--changed` customers change in Stripe through the
 * fake's mutation helpers (applyChanges), each recording its events in the hour before the real now (the
 * store's present is set to it, so Stripe's 30-day events window is the real one); then the real CLI with
 * `--changes-since 3h`, with the realistic latency (Stripe 50 ms plus its per-object cost, Attio 80 ms)
 * whatever the scenario's setting, since an incremental run's time is round trips; then a full run (no
 * flag), which must write nothing: the incremental run left the state a full run leaves. A sync.ts
 * without the flag answers exit 2 "Unknown option": the scenario says so (NOT RUN) and the full run then
 * writes the changes itself, which is checked against what they should write.
 */
async function measureChanges(bench: Bench): Promise<Row[]> {
  const { stripe, attio, options } = bench;
  const store = stripe.store;
  const n = options.changed;
  const findings: string[] = [];
  const details: string[] = [];
  if (!bench.synced) findings.push('FAIL: changes ran without a cold run or seed before it: nothing to change from');

  const nowUnix = Math.floor(Date.now() / 1000);
  store.setNow(nowUnix);
  store.recordSeedEvents = true; // the new charges and customers come from the seeding builders: their events count
  const linked = snapshot(attio);
  const candidates = [...syncableCustomers(store).keys()].filter((id) => linked.has(id));
  const eventsBefore = store.recordedEventCount;
  const peopleBefore = peopleOn(bench.env) ? attio.people().length : 0;
  const applied = applyChanges(store, candidates, n, options.size.seed + 2, nowUnix);
  const byKind = new Map<string, number>();
  for (const kind of applied.kinds.values()) byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
  const expected = { companies: applied.expected.companies, people: peopleOn(bench.env) ? applied.expected.people : 0 };
  const expectedWrites = expected.companies + expected.people;
  details.push(
    `changes: ${n} customers at ${new Date(nowUnix * 1000).toISOString()} (${[...byKind].map(([k, c]) => `${k} ${c}`).join(', ')}), ` +
      `${store.recordedEventCount - eventsBefore} events recorded in the last hour; ${eventsInWindow(store, nowUnix)} events in the ${CHANGES_SINCE} window`,
  );
  details.push(`changes: expected writes ${expectedWrites} (companies ${expected.companies}, people ${expected.people})`);
  const before = snapshot(attio);

  // The incremental run.
  const latencyWas = bench.latency.on;
  bench.latency.on = true;
  const incremental = await runMeasured(bench, `changes-${n}-incremental`, ['--changes-since', CHANGES_SINCE]);
  bench.latency.on = latencyWas;
  const unknownOption = incremental.run.code === 2 && /unknown option '--changes-since'/i.test(incremental.run.output);
  const incFindings: string[] = [];
  const incDetails: string[] = [...incremental.details];
  const afterIncremental = snapshot(attio);
  if (unknownOption) {
    incFindings.push(
      `NOT RUN: this sync.ts has no --changes-since yet (exit 2, "${/unknown option '--changes-since'/i.exec(incremental.run.output)![0]}"): ` +
        'the incremental run was not measured; the full run below writes the changes instead',
    );
  } else {
    if (incremental.run.code !== 0) incFindings.push(`FAIL: exit code ${incremental.run.code} (log: ${incremental.logFile})`);
    const w = incremental.byObject.writes;
    incDetails.push(`changes: incremental writes companies ${w.companies}, people ${w.people} (expected ${expected.companies} and ${expected.people})`);
    if (w.companies !== expected.companies || w.people !== expected.people)
      incFindings.push(`FAIL: the incremental run wrote companies ${w.companies}, people ${w.people}; the changes need ${expected.companies} and ${expected.people}`);
    const missed = [...applied.kinds].filter(([id, kind]) => kind !== 'email' && before.get(id) === afterIncremental.get(id)).map(([id]) => id);
    if (missed.length) incFindings.push(`FAIL: ${missed.length} changed customers' companies unchanged after the incremental run (e.g. ${missed.slice(0, 3).join(', ')})`);
    const perChanged = incremental.stripeRequests / n;
    incDetails.push(`changes: ${incremental.stripeRequests} Stripe requests for ${n} changed customers (${perChanged.toFixed(2)} a customer)`);
    // issue 22's targets: with 10 changed of 100,000, at most 60 Stripe requests and done within 10 s.
    if (n <= 10 && options.size.customers >= 100_000) {
      if (incremental.stripeRequests > 60) incFindings.push(`FAIL: ${incremental.stripeRequests} Stripe requests for ${n} changed of ${options.size.customers} (issue 22: at most 60)`);
      if (incremental.run.wallS > 10) incFindings.push(`FAIL: ${incremental.run.wallS.toFixed(1)} s for ${n} changed of ${options.size.customers} (issue 22: within 10 s)`);
    }
  }

  // The full run: nothing left to write after an incremental run; the changes themselves after none.
  const full = await runMeasured(bench, `changes-${n}-full`, []);
  const fullFindings: string[] = [];
  const fullDetails: string[] = [...full.details];
  const w = full.byObject.writes;
  const fullExpected = unknownOption ? expectedWrites : 0;
  if (full.run.code !== 0) fullFindings.push(`FAIL: exit code ${full.run.code} (log: ${full.logFile})`);
  if (w.companies + w.people + w.other !== fullExpected)
    fullFindings.push(
      unknownOption
        ? `FAIL: the full run (no incremental run before it) wrote companies ${w.companies}, people ${w.people}; the changes need ${expected.companies} and ${expected.people}`
        : `FAIL: the full run after the incremental one wrote companies ${w.companies}, people ${w.people} (expected 0: the incremental run left something unwritten)`,
    );
  else fullDetails.push(`changes: the full run wrote ${fullExpected}${unknownOption ? ' (the changes: no incremental run before it)' : ' (the incremental run left what a full run leaves)'}`);
  const after = snapshot(attio);
  const unchanged = [...applied.kinds].filter(([id, kind]) => kind !== 'email' && before.get(id) === after.get(id)).map(([id]) => id);
  if (unchanged.length) fullFindings.push(`FAIL: ${unchanged.length} changed customers' companies never changed in Attio (e.g. ${unchanged.slice(0, 3).join(', ')})`);
  if (peopleOn(bench.env)) {
    const people = attio.people().length;
    fullDetails.push(`changes: people ${peopleBefore} before the changes, ${people} after both runs (${expected.people} new expected)`);
    if (people - peopleBefore !== expected.people) fullFindings.push(`FAIL: ${people - peopleBefore} people created, the changes need ${expected.people}`);
  }
  const floorS = stripeFloorSeconds(store) + fullExpected / API_LIMITS.attioWrites;
  const row = (part: 'incremental' | 'full', m: MeasuredRun, rowFindings: string[], rowDetails: string[], rowExpected: number, floor: number | null): Row => ({
    scenario: 'changes',
    label: part === 'incremental' ? `changes ${n}: --changes-since ${CHANGES_SINCE}` : `changes ${n}: full run after`,
    run: m.run,
    stripeRequests: m.stripeRequests,
    attioReads: m.attioReads,
    attioWrites: m.attioWrites,
    attioWritesOk: m.attioWritesOk,
    rateLimited: m.rateLimited,
    totalRequests: m.totalRequests,
    expectedWrites: rowExpected,
    floorS: floor,
    details: rowDetails,
    findings: rowFindings,
  });
  return [
    row('incremental', incremental, [...findings, ...incFindings], [...details, ...incDetails], unknownOption ? 0 : expectedWrites, null),
    row('full', full, fullFindings, fullDetails, fullExpected, floorS),
  ];
}

interface MeasuredRun extends RunNumbers {
  logFile: string;
  byObject: ReturnType<typeof attioByObject>;
  details: string[];
}

/** One CLI run on fresh counters: its numbers, the request mix by endpoint and object, its log and request logs. */
async function runMeasured(bench: Bench, name: string, args: string[]): Promise<MeasuredRun> {
  const { stripe, attio } = bench;
  stripe.resetStats();
  attio.resetStats();
  bench.arrivals.length = 0;
  const logFile = join(bench.options.logs, `${name}.log`);
  console.log(`running ${name} (${['sync.ts', ...args].join(' ')}) ...`);
  const run = await runSync(args, bench.options.nodeFlags, bench.env, logFile);
  const s = stripe.stats();
  const a = attio.stats();
  writeRequestLogs(bench, name, run.startedAt);
  const byObject = attioByObject(attio);
  const summary = run.output.trim().split('\n').filter((l) => /created=\d+ linked=\d+/.test(l)).at(-1) ?? '(no summary line)';
  const details = [
    run.code === 2 ? `sync: exit 2: ${run.output.trim().split('\n').slice(0, 2).join(' / ')}` : `sync: ${summary}`,
    timeline(bench.arrivals, run),
    requestMix(stripe, attio),
    `Stripe by endpoint: ${Object.entries(s.byEndpoint).map(([endpoint, count]) => `${endpoint} ${count}`).join(', ') || 'none'}`,
    `Attio by object: reads companies ${byObject.reads.companies}, people ${byObject.reads.people}; writes companies ${byObject.writes.companies}, people ${byObject.writes.people}`,
  ];
  return {
    run,
    logFile,
    stripeRequests: s.total,
    attioReads: a.reads,
    attioWrites: a.writes,
    attioWritesOk: writesOk(attio),
    rateLimited: s.rateLimited + a.rateLimited,
    totalRequests: s.total + a.total,
    byObject,
    details,
  };
}

/** Events GET /v1/events would list for `--changes-since 3h` at `nowUnix`. */
function eventsInWindow(store: StripeStore, nowUnix: number): number {
  const { created } = store.eventView(); // indexed by the event's seq, 1 to recordedEventCount
  let count = 0;
  for (let seq = 1; seq <= store.recordedEventCount; seq++) if (created[seq]! >= nowUnix - CHANGES_SINCE_S) count += 1;
  return count;
}

/** What the data set's dates are against the real now: its objects in the 30-day events window and in the changes window. */
function seededInWindow(store: StripeStore, nowUnix: number): string {
  let [total, month, window, newest] = [0, 0, 0, 0];
  for (const list of [store.customers, store.charges, store.subscriptions])
    for (const { created } of list) {
      total += 1;
      if (created >= nowUnix - 30 * 86_400) month += 1;
      if (created >= nowUnix - CHANGES_SINCE_S) window += 1;
      if (created > newest) newest = created;
    }
  return `${month} of its ${total} customers, charges and subscriptions were created in the last 30 days, ${window} in the last ${CHANGES_SINCE}; the newest ${((nowUnix - newest) / 3600).toFixed(1)} h ago`;
}

/** When things happened, relative to the spawn: where the wall time went. */
function timeline(arrivals: Arrival[], run: ChildRun): string {
  const at = (t: number) => `${((t - run.startedAt) / 1000).toFixed(1)}s`;
  const span = (list: Arrival[], label: string) => {
    if (!list.length) return `${label}: none`;
    const first = list[0]!.t;
    const last = list.at(-1)!.t;
    const rate = last > first ? ((list.length - 1) * 1000) / (last - first) : 0;
    return `${label} ${list.length} ${at(first)}..${at(last)} (${rate.toFixed(1)}/s)`;
  };
  const stripe = arrivals.filter((x) => x.service === 'stripe');
  const charges = stripe.filter((x) => x.path === '/v1/charges');
  const writes = arrivals.filter((x) => x.service === 'attio' && x.write);
  const first = arrivals[0];
  return [
    `timeline: first request ${first ? at(first.t) : '-'}`,
    span(stripe, 'Stripe'),
    span(charges, 'charges'),
    span(writes, 'Attio writes'),
    `exit ${run.wallS.toFixed(1)}s`,
  ].join('; ');
}

/** Request mix and answers, from the fakes' own request logs. */
function requestMix(stripe: FakeStripe, attio: FakeAttio): string {
  const kinds = new Map<string, number>();
  const bump = (key: string) => kinds.set(key, (kinds.get(key) ?? 0) + 1);
  for (const r of attio.requests) {
    const filter = JSON.stringify((r.body as { filter?: unknown } | undefined)?.filter ?? '');
    const people = r.path.startsWith('/v2/objects/people/');
    if (people) {
      if (r.path.endsWith('/records/query')) bump('people look-up');
      else if (r.method === 'PUT') bump('people PUT assert');
      else bump(`people ${r.method} other`);
    } else if (r.path.endsWith('/records/query')) bump(filter.includes('"domains"') ? 'domain look-up' : 'linked-records page');
    else if (r.method === 'PUT') bump('PUT assert');
    else if (r.method === 'POST' && r.path.endsWith('/records')) bump('POST create');
    else if (r.method === 'PATCH') bump('PATCH link');
    else bump(`${r.method} other`);
  }
  const statuses = (list: Array<{ status: number }>) => {
    const counts = new Map<number, number>();
    for (const r of list) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
    return [...counts].sort(([x], [y]) => x - y).map(([status, n]) => `${status}x${n}`).join(' ');
  };
  const stripeMix = Object.entries(stripe.stats().byEndpoint).map(([endpoint, n]) => `${endpoint} ${n}`).join(', ');
  return `requests: Stripe ${stripeMix || 'none'} [${statuses(stripe.requests)}]; Attio ${[...kinds].map(([k, n]) => `${k} ${n}`).join(', ') || 'none'} [${statuses(attio.requests)}]`;
}

/**
 * How the sync split each Stripe listing into `created` windows (a window keeps its `created[lt]`
 * while it pages on). One window serving most pages means the listing ran as a single sequential
 * cursor: one request in flight, whatever the concurrency.
 */
function listingWindows(stripe: FakeStripe, findings: string[]): string {
  const parts: string[] = [];
  for (const endpoint of ['/v1/customers', '/v1/charges', '/v1/subscriptions']) {
    const windows = new Map<string, { gte: string; count: number }>();
    const pages = { full: 0, short: 0, empty: 0 };
    for (const r of stripe.requests) {
      if (r.path !== endpoint) continue;
      if (r.objects !== undefined) pages[r.objects === 0 ? 'empty' : r.objects < 100 ? 'short' : 'full'] += 1;
      const query = new URLSearchParams(r.query);
      const lt = query.get('created[lt]') ?? '';
      const window = windows.get(lt) ?? { gte: query.get('created[gte]') ?? '', count: 0 };
      window.count += 1;
      windows.set(lt, window);
    }
    if (!windows.size) continue;
    const total = [...windows.values()].reduce((sum, w) => sum + w.count, 0);
    const [lt, largest] = [...windows].sort(([, a], [, b]) => b.count - a.count)[0]!;
    parts.push(`${endpoint.slice(4)} ${windows.size} (largest ${largest.count} requests; pages: ${pages.full} full, ${pages.short} short, ${pages.empty} empty)`);
    if (total >= 50 && largest.count > total / 4)
      findings.push(`${endpoint} ran as one sequential cursor: window created [${largest.gte}, ${lt}) served ${largest.count} of ${total} requests`);
  }
  return `windows: ${parts.join(', ')}`;
}

/** The fakes' request logs (method, path, query, status; Attio bodies too) and arrival times, for diagnosis. */
function writeRequestLogs(bench: Bench, scenario: string, startedAt: number): void {
  const jsonl = (items: unknown[]) => items.map((x) => JSON.stringify(x)).join('\n') + '\n';
  writeFileSync(join(bench.options.logs, `${scenario}.stripe-requests.jsonl`), jsonl(bench.stripe.requests));
  writeFileSync(join(bench.options.logs, `${scenario}.attio-requests.jsonl`), jsonl(bench.attio.requests));
  const tsv = bench.arrivals.map((x) => `${(x.t - startedAt).toFixed(1)}\t${x.service}\t${x.method}\t${x.path}`).join('\n');
  writeFileSync(join(bench.options.logs, `${scenario}.arrivals.tsv`), `ms_since_spawn\tservice\tmethod\tpath\n${tsv}\n`);
}

// ------------------------------------------------------------------------------------------------
// Report
// ------------------------------------------------------------------------------------------------

function table(rows: Row[]): string {
  const fmt = (n: number | null, digits: number) => (n === null ? '-' : n.toFixed(digits));
  const header = ['scenario', 'exit', 'wall s', 'floor s', 'wall/floor', 'Stripe req', 'Attio reads', 'Attio writes', 'expected writes', '429s', 'CPU s', 'peak RSS MB'];
  const cells = rows.map((r) => [
    r.label,
    String(r.run.code),
    fmt(r.run.wallS, 1),
    fmt(r.floorS, 1),
    fmt(r.floorS === null ? null : r.run.wallS / r.floorS, 2),
    String(r.stripeRequests),
    String(r.attioReads),
    String(r.attioWrites),
    String(r.expectedWrites),
    `${r.rateLimited}${r.totalRequests ? ` (${((100 * r.rateLimited) / r.totalRequests).toFixed(1)}%)` : ''}`,
    fmt(r.run.cpuS, 1),
    fmt(r.run.peakRssMb, 0),
  ]);
  const all = [header, ...cells];
  const widths = header.map((_, i) => Math.max(...all.map((row) => row[i]!.length)));
  const line = (row: string[]) => `| ${row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join(' | ')} |`;
  return [line(header), `|${widths.map((w, i) => (i === 0 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`, ...cells.map(line)].join('\n');
}

// ------------------------------------------------------------------------------------------------
// Main
// ------------------------------------------------------------------------------------------------

/**
 * --burst: the same cold run twice, each on fresh fakes with Stripe's and Attio's real limits; in the
 * second, every Attio write is refused with 429 (Retry-After: 1) for BURST_MS, as when another
 * integration spends the workspace's write quota. What the burst costs: the second run's wall time
 * less the first's. Bound: the window plus 3 s (the pacer's recovery).
 */
async function runBurst(options: BenchOptions): Promise<number> {
  const runs: Array<{ burst: boolean; run: ChildRun; refused: number; writes: number }> = [];
  for (const burst of [false, true]) {
    const { stripe, attio } = await startFakes(true, []);
    try {
      generateDataset(stripe.store, attio, options.size, Math.floor(Date.now() / 1000) - 3600);
      const env: NodeJS.ProcessEnv = { ...process.env, STRIPE_API_KEY: STRIPE_KEY, ATTIO_API_KEY: ATTIO_KEY, STRIPE_API_URL: stripe.url, ATTIO_API_URL: attio.url, DRY_RUN: '0' };
      delete env.GITHUB_STEP_SUMMARY;
      const setup = await runSync(['--setup'], options.nodeFlags, env, join(options.logs, `burst-setup-${burst}.log`));
      if (setup.code !== 0) throw new Error(setup.output);
      attio.resetStats();
      let firstWriteAt: number | null = null;
      if (burst)
        attio.setFaults((req) => {
          if (req.method === 'GET' || req.path.endsWith('/records/query')) return null;
          firstWriteAt ??= performance.now();
          const since = performance.now() - firstWriteAt;
          return since >= BURST_AFTER_MS && since < BURST_AFTER_MS + BURST_MS ? 'rate_limit_seconds' : null;
        });
      console.log(`running cold${burst ? ` with ${BURST_MS / 1000} s of 429s` : ''} ...`);
      const run = await runSync([], options.nodeFlags, env, join(options.logs, `burst-${burst}.log`));
      runs.push({ burst, run, refused: attio.stats().faults, writes: writesOk(attio) });
    } finally {
      await Promise.all([stripe.close(), attio.close()]);
    }
  }
  const [plain, burst] = runs as [(typeof runs)[0], (typeof runs)[0]];
  const lostS = burst.run.wallS - plain.run.wallS;
  const boundS = BURST_MS / 1000 + 3;
  console.log('\n| run | wall s | writes accepted | writes refused (429) | exit |\n| --- | ---: | ---: | ---: | ---: |');
  for (const r of runs) console.log(`| cold${r.burst ? ` + ${BURST_MS / 1000} s burst` : ''} | ${r.run.wallS.toFixed(1)} | ${r.writes} | ${r.refused} | ${r.run.code} |`);
  const ok = lostS <= boundS && runs.every((r) => r.run.code === 0) && burst.writes === plain.writes;
  console.log(`\nthe burst cost ${lostS.toFixed(1)} s (bound: the ${BURST_MS / 1000} s window + 3 s = ${boundS} s): ${ok ? 'OK' : 'FAILED'}`);
  return ok ? 0 : 1;
}

/**
 * Attio reads and writes per object, from the fake's request log (a write: every request that is not
 * a GET or a records query, answered or not): the people step's apart from the companies'.
 */
function attioByObject(attio: FakeAttio): Record<'reads' | 'writes', { companies: number; people: number; other: number }> {
  const out = { reads: { companies: 0, people: 0, other: 0 }, writes: { companies: 0, people: 0, other: 0 } };
  for (const r of attio.requests) {
    const side = r.method === 'GET' || r.path.endsWith('/records/query') ? out.reads : out.writes;
    const object = /^\/v2\/objects\/([^/]+)/.exec(r.path)?.[1];
    if (object === 'companies' || object === 'people') side[object] += 1;
    else side.other += 1;
  }
  return out;
}

/**
 * The people a first run creates: one per usable billing email (sync.ts usableEmail) among the
 * customers it writes, less those already in Attio. The data sets give every customer its own email
 * and domain, so each of these customers' companies is written and each person created.
 */
function newPeople(syncable: Map<string, Stripe.Customer>, attio: FakeAttio): number {
  const held = new Set(attio.people().flatMap((p) => p.emails.map((e) => e.toLowerCase())));
  const emails = new Set<string>();
  for (const c of syncable.values()) {
    const email = usableEmail(c.email ?? null);
    if (email && !held.has(email)) emails.add(email);
  }
  return emails.size;
}

function writesOk(attio: FakeAttio): number {
  return attio.requests.filter((r) => r.method !== 'GET' && !r.path.endsWith('/records/query') && r.status >= 200 && r.status < 300).length;
}

async function main(): Promise<number> {
  let options: BenchOptions;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    console.error((error as Error).message);
    return 2;
  }
  if (options.burst) return runBurst(options);
  const { size } = options;
  console.log(`# Stripe -> Attio sync benchmark`);
  console.log(`command: tsx test/bench.ts ${process.argv.slice(2).join(' ')}`.trimEnd());
  console.log(`sync:    ${syncCommandLabel(options.nodeFlags)} (child process, env points at the fakes; STRIPE_API_KEY is a live-mode-shaped key)`);
  console.log(
    `data:    ${size.customers} customers, ${size.charges} charges (5 currencies), ${size.subscriptions} subscriptions, ` +
      `${Math.round(size.existingShare * 100)}% of company-domain customers already in Attio, seed ${size.seed}`,
  );
  console.log(
    options.realistic
      ? `fakes:   Stripe ${STRIPE_BASE_MS} ms + per object (charges 2, subscriptions 1.5, customers 1 ms) = 250 ms per page of 100 charges, ` +
          `${API_LIMITS.stripePerEndpoint}/s per endpoint, ${API_LIMITS.stripeOverall}/s overall; Attio ${ATTIO_LATENCY_MS} ms, ${API_LIMITS.attioReads} reads/s, ${API_LIMITS.attioWrites} writes/s`
      : `fakes:   no latency, no rate limits (the sync still paces itself: ${STRIPE_LIMITS.perEndpointPerSecond} req/s per Stripe endpoint, ${ATTIO_LIMITS.readsPerSecond} Attio reads/s, ${ATTIO_LIMITS.writesPerSecond} writes/s)`,
  );
  console.log(`scenarios: setup (not measured), ${options.scenarios.join(', ')}`);
  console.log(`logs:    ${options.logs}\n`);

  const arrivals: Arrival[] = [];
  const latency = { on: options.realistic };
  const { stripe, attio } = await startFakes(options.realistic, arrivals, latency);
  try {
    const generatedAt = performance.now();
    // Two years of history up to an hour ago, as in a live account (recent weeks hold data too).
    const dataEndUnix = Math.floor(Date.now() / 1000) - 3600;
    // With the changes scenario the data set records no events: it is what the seed (or cold run) already
    // synced, and its newest objects (up to an hour ago) would otherwise put events in --changes-since's
    // window beside the scenario's own changes.
    const changes = options.scenarios.includes('changes');
    if (changes) stripe.store.recordSeedEvents = false;
    const dataset = generateDataset(stripe.store, attio, size, dataEndUnix);
    console.log(`generated the data set in ${((performance.now() - generatedAt) / 1000).toFixed(1)}s: ${dataset.existingCompanies} companies already in Attio`);
    if (changes) console.log(`data set events: not recorded (${seededInWindow(stripe.store, Math.floor(Date.now() / 1000))})`);
    const env: NodeJS.ProcessEnv = { ...process.env, STRIPE_API_KEY: STRIPE_KEY, ATTIO_API_KEY: ATTIO_KEY, STRIPE_API_URL: stripe.url, ATTIO_API_URL: attio.url, DRY_RUN: '0' };
    delete env.GITHUB_STEP_SUMMARY;
    const bench: Bench = { options, stripe, attio, arrivals, customerIds: dataset.customerIds, dataEndUnix, env, synced: null, latency };

    const setup = await runSync(['--setup'], options.nodeFlags, env, join(options.logs, 'setup.log'));
    console.log(`setup: exit ${setup.code} in ${setup.wallS.toFixed(1)}s`);
    if (setup.code !== 0) {
      console.error(setup.output);
      return 1;
    }

    const rows: Row[] = [];
    const notes: string[] = [];
    for (const scenario of options.scenarios) {
      if (scenario === 'seed') {
        console.log('seeding Attio with the state a cold run leaves ...');
        const seeded = await seedSyncedState(stripe, attio, options.realistic, peopleOn(env));
        notes.push(
          `seed (no sync run, not in the table): ${seeded.linked} existing companies linked, ${seeded.created} created and ${seeded.people} people created in Attio by the bench in ${seeded.seconds.toFixed(1)}s`,
        );
        bench.synced = 'seed';
        continue;
      }
      if (scenario === 'changes') {
        rows.push(...(await measureChanges(bench)));
        continue;
      }
      rows.push(await measure(bench, scenario));
    }

    console.log(`\n${table(rows)}\n`);
    for (const note of notes) console.log(note);
    for (const row of rows) {
      console.log(`\n${row.label}:`);
      for (const line of row.details) console.log(`  ${line}`);
    }
    const findings = rows.flatMap((r) => r.findings.map((f) => `${r.label}: ${f}`));
    console.log(`\nfindings: ${findings.length ? '' : 'none'}`);
    for (const f of findings) console.log(`  - ${f}`);
    const failed = findings.some((f) => f.includes('FAIL:'));
    const notRun = findings.some((f) => f.includes('NOT RUN:'));
    console.log(`\n${failed ? 'FAILED' : notRun ? 'NOT ALL RUN' : 'OK'} (logs and request logs: ${options.logs})`);
    return failed ? 1 : notRun ? 2 : 0;
  } finally {
    await Promise.all([stripe.close(), attio.close()]);
  }
}

process.exitCode = await main();
