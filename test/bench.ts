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
//   cold     first run: creates and links every company
//   warm     again at once, nothing changed: must make zero Attio writes
//   delta    applyDelta gives 5% of the customers a new charge or a refund, then a run: one write each
//   dry-run  `--dry-run`: reads everything and resolves the plan (domain look-ups), writes nothing
//   seed     no sync run: the bench writes what a cold run would leave straight into the fake Attio
//            (with sync.ts's own readStripe and customerValues), so that warm can be measured at a
//            size where a cold run would take hours
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
// non-zero or a warm (or dry) run writes.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Stripe from 'stripe';
import { ATTIO_LIMITS, companyDomain, companyName, customerValues, readStripe, RETRY, shouldSync, STRIPE_LIMITS, stripePacers } from '../sync.ts';
import { applyDelta, DEFAULT_SIZE, generateDataset, type DatasetSize } from './dataset.ts';
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

const SCENARIOS = ['cold', 'warm', 'delta', 'dry-run', 'seed'] as const;
/** --burst: another integration spends the write quota for this long, this long after the first write. */
const BURST_MS = 3000;
const BURST_AFTER_MS = 5000;
type Scenario = (typeof SCENARIOS)[number];

// ------------------------------------------------------------------------------------------------
// Options
// ------------------------------------------------------------------------------------------------

const USAGE = `Usage: npm run bench -- [--scale | --burst] [--customers N] [--charges N] [--subscriptions N]
                       [--existing-share X] [--seed N] [--delta-share X] [--scenarios a,b,...] [--logs DIR]
                       [--node-flags="..."]

  scenarios:    ${SCENARIOS.join(', ')} (default cold,warm,delta; with --scale seed,warm)
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
  const scenarios = (values.scenarios ?? (scale ? 'seed,warm' : 'cold,warm,delta')).split(',').map((s) => s.trim());
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

async function startFakes(realistic: boolean, arrivals: Arrival[]): Promise<{ stripe: FakeStripe; attio: FakeAttio }> {
  // The latency callbacks see every request first: they double as the arrival log.
  const stripeLatency = (req: RequestInfo) => {
    arrivals.push({ t: performance.now(), service: 'stripe', method: req.method, path: req.path, write: false });
    if (!realistic) return 0;
    const limit = Number(req.query.get('limit') ?? 10);
    return STRIPE_BASE_MS + (STRIPE_MS_PER_OBJECT[req.path] ?? 0.5) * limit;
  };
  const attioLatency = (req: RequestInfo) => {
    const write = !(req.method === 'GET' || (req.method === 'POST' && req.path.endsWith('/records/query')));
    arrivals.push({ t: performance.now(), service: 'attio', method: req.method, path: req.path, write });
    return realistic ? ATTIO_LATENCY_MS : 0;
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

function stripeFloorSeconds(store: StripeStore): number {
  const pages = [store.customers.length, store.charges.length, store.subscriptions.length].map((n) => Math.max(1, Math.ceil(n / 100)));
  return Math.max(Math.max(...pages) / API_LIMITS.stripePerEndpoint, pages.reduce((a, b) => a + b, 0) / API_LIMITS.stripeOverall);
}

/**
 * `seed`: puts the fake Attio in the state a cold run leaves, without the CLI: reads the fake Stripe
 * with sync.ts's own readStripe, maps with customerValues, then links existing companies by domain
 * (oldest customer first, as the sync's plan does) and adds the rest, through the fake's helpers.
 */
async function seedSyncedState(stripeFake: FakeStripe, attio: FakeAttio, paced: boolean): Promise<{ linked: number; created: number; seconds: number }> {
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
  let linked = 0;
  let created = 0;
  const oldestFirst = [...facts.values()].filter((f) => shouldSync(f, false)).sort((a, b) => a.createdUnix - b.createdUnix || a.id.localeCompare(b.id));
  for (const f of oldestFirst) {
    const values = customerValues(f, 'USD');
    const domain = companyDomain(f.email);
    if (domain && claimed.has(domain)) continue; // a conflict in the sync: not written
    if (domain) claimed.add(domain);
    const existing = domain ? companyByDomain.get(domain) : undefined;
    if (existing) {
      attio.setCompanyValues(existing, values);
      linked += 1;
    } else {
      attio.addCompany({ ...values, name: companyName(f), domains: domain ? [domain] : [] });
      created += 1;
    }
  }
  return { linked, created, seconds: (performance.now() - started) / 1000 };
}

// ------------------------------------------------------------------------------------------------
// One measured run
// ------------------------------------------------------------------------------------------------

interface Row {
  scenario: Scenario;
  label: string;
  run: ChildRun;
  stripeRequests: number;
  attioReads: number;
  attioWrites: number;
  attioWritesOk: number;
  rateLimited: number;
  totalRequests: number;
  expectedWrites: number;
  floorS: number;
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
}

async function measure(bench: Bench, scenario: Exclude<Scenario, 'seed'>): Promise<Row> {
  const { stripe, attio, options } = bench;
  const store = stripe.store;
  const findings: string[] = [];
  const details: string[] = [];

  // What this run should write, from the data alone.
  let expectedWrites = 0;
  let expectedLookups = 0;
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
    if (scenario === 'cold') expectedWrites = unlinked.length; // one create or one link each (data set domains are unique)
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
  const attioWritesOk = attio.requests.filter((r) => r.method !== 'GET' && !r.path.endsWith('/records/query') && r.status >= 200 && r.status < 300).length;
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
  if ((scenario === 'warm' || scenario === 'dry-run') && a.writes > 0) findings.push(`FAIL: ${a.writes} Attio writes in a ${scenario} run (expected 0)`);
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
    if (r.path.endsWith('/records/query')) bump(filter.includes('"domains"') ? 'domain look-up' : 'linked-records page');
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
    fmt(r.run.wallS / r.floorS, 2),
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
  const { stripe, attio } = await startFakes(options.realistic, arrivals);
  try {
    const generatedAt = performance.now();
    // Two years of history up to an hour ago, as in a live account (recent weeks hold data too).
    const dataEndUnix = Math.floor(Date.now() / 1000) - 3600;
    const dataset = generateDataset(stripe.store, attio, size, dataEndUnix);
    console.log(`generated the data set in ${((performance.now() - generatedAt) / 1000).toFixed(1)}s: ${dataset.existingCompanies} companies already in Attio`);
    const env: NodeJS.ProcessEnv = { ...process.env, STRIPE_API_KEY: STRIPE_KEY, ATTIO_API_KEY: ATTIO_KEY, STRIPE_API_URL: stripe.url, ATTIO_API_URL: attio.url, DRY_RUN: '0' };
    delete env.GITHUB_STEP_SUMMARY;
    const bench: Bench = { options, stripe, attio, arrivals, customerIds: dataset.customerIds, dataEndUnix, env, synced: null };

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
        const seeded = await seedSyncedState(stripe, attio, options.realistic);
        notes.push(`seed (no sync run, not in the table): ${seeded.linked} existing companies linked and ${seeded.created} created in Attio by the bench in ${seeded.seconds.toFixed(1)}s`);
        bench.synced = 'seed';
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
    console.log(`\n${failed ? 'FAILED' : 'OK'} (logs and request logs: ${options.logs})`);
    return failed ? 1 : 0;
  } finally {
    await Promise.all([stripe.close(), attio.close()]);
  }
}

process.exitCode = await main();
