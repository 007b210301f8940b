// What the tests of any sync built on sync.ts's core need, with nothing of Stripe in it: the fake
// Attio, a recognisable Attio key, the output log for the secrets check, the CLI as the workflow
// starts it, and a bed that runs the accounts source (test/accounts-source.ts) through main. A copy
// of the template keeps this file, test/fake-attio.ts, test/faults.ts and the tests that use only
// them (test/core.test.ts, test/template.test.ts, test/copy.test.ts); test/harness.ts adds Stripe.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, expect } from 'vitest';
import { main, type RunOptions, type Sync } from '../sync.ts';
import { ACCOUNTS_SYNC, type Account } from './accounts-source.ts';
import { startFakeAttio, type FakeAttio, type FakeAttioOptions } from './fake-attio.ts';
import type { RequestInfo } from './faults.ts';

// A recognisable key, so a test can prove that no byte of it reaches any output.
export const ATTIO_KEY = 'attio_Hq3Jk8Zr2Vm6Xw9Pc4TyB5nD';

/** Everything any run printed or wrote to a step summary, for the secrets check. */
export const allOutput: string[] = [];

/** The key fragments that must never be printed: every 5-character run of each key's secret part. */
export function leakedFragments(text: string, keys: readonly string[] = [ATTIO_KEY]): string[] {
  const leaks: string[] = [];
  for (const key of keys) {
    const secret = key.replace(/^(sk|rk)_(test|live)_|^attio_/, '');
    for (let i = 0; i + 5 <= secret.length; i++) if (text.includes(secret.slice(i, i + 5))) leaks.push(secret.slice(i, i + 5));
  }
  return leaks;
}

export interface RunResult {
  code: number;
  out: string;
  err: string;
  /** Delays the retry helper asked for, in ms (not slept). */
  sleeps: number[];
}

/** No client-side pacing of Attio in tests: the fake decides when to answer 429. */
export const NO_ATTIO_LIMITS = { readsPerSecond: Infinity, writesPerSecond: Infinity };

/** The two kinds of workspace the sync meets: a new one as Attio documents it, and an older one whose key is unique. */
export type Workspace = 'docs' | 'legacy-unique';
export const WORKSPACES: readonly Workspace[] = ['docs', 'legacy-unique'];

/**
 * Runs `sync` in-process through main, as a test runs it: no terminal, retries that do not sleep
 * (their delays are returned), a short request timeout, a job summary in a temp file.
 */
export async function runMain(sync: Sync, argv: string[], env: Record<string, string>, options: Partial<RunOptions> = {}, limits: Record<string, number> = NO_ATTIO_LIMITS): Promise<RunResult> {
  let out = '';
  let err = '';
  const sleeps: number[] = [];
  const summaryFile = join(mkdtempSync(join(tmpdir(), 'sync-summary-')), 'summary.md');
  const code = await main(
    argv,
    {
      env: { ...env, GITHUB_STEP_SUMMARY: summaryFile },
      output: { out: (line) => (out += `${line}\n`), err: (text) => (err += text) },
      isTTY: false,
      sleep: async (ms) => void sleeps.push(ms),
      random: () => 0.5,
      timeoutMs: 1500, // generous: CI machines are shared and noisy; the fakes' `slow` fault takes longer still
      limits,
      ...options,
    },
    sync,
  );
  const envSummary = options.env?.GITHUB_STEP_SUMMARY ?? summaryFile;
  allOutput.push(out, err, existsSync(envSummary) && statSync(envSummary).isFile() ? readFileSync(envSummary, 'utf8') : '');
  return { code, out, err, sleeps };
}

/** The beds of one test file: closed after each test, and at the end of the file no 5-character run of `keys` in anything printed. */
export function bedsOfThisFile<O, B extends { close: () => Promise<void> }>(start: (opts?: O) => Promise<B>, keys?: readonly string[]): (opts?: O) => Promise<B> {
  const beds: B[] = [];
  afterEach(async () => {
    await Promise.all(beds.splice(0).map((b) => b.close()));
  });
  afterAll(() => {
    expect(allOutput.length).toBeGreaterThan(0);
    expect(leakedFragments(allOutput.join('\n'), keys)).toEqual([]);
  });
  return async (opts) => {
    const bed = await start(opts);
    beds.push(bed);
    return bed;
  };
}

/** The fake Attio and a JSON file of accounts, synced by the accounts source through main. */
export interface AccountsBed {
  attio: FakeAttio;
  env: Record<string, string>;
  /** Replaces what the source reads on its next run. */
  setAccounts: (accounts: readonly Account[]) => void;
  run: (argv?: string[], options?: Partial<RunOptions>) => Promise<RunResult>;
  close: () => Promise<void>;
}

export async function startAccountsBed(opts: { attio?: FakeAttioOptions; setup?: boolean; workspace?: Workspace; accounts?: readonly Account[] } = {}): Promise<AccountsBed> {
  const attio = await startFakeAttio({ apiKey: ATTIO_KEY, slowMs: 2500, ...opts.attio });
  // An older workspace whose key attribute is unique (a test helper: Attio's API refuses to create one today).
  if (opts.workspace === 'legacy-unique') attio.addAttribute({ api_slug: 'account_id', title: 'Account ID', type: 'text', is_unique: true });
  const file = join(mkdtempSync(join(tmpdir(), 'accounts-')), 'accounts.json');
  const setAccounts = (accounts: readonly Account[]) => writeFileSync(file, JSON.stringify(accounts));
  setAccounts(opts.accounts ?? []);
  const env = { ATTIO_API_KEY: ATTIO_KEY, ATTIO_API_URL: attio.url, ACCOUNTS_FILE: file };
  const run = (argv: string[] = [], options: Partial<RunOptions> = {}) => runMain(ACCOUNTS_SYNC, argv, env, options);
  const bed: AccountsBed = { attio, env, setAccounts, run, close: () => attio.close() };
  if (opts.setup !== false) {
    const result = await run(['--setup']);
    if (result.code !== 0) throw new Error(`setup failed: ${result.err}`);
    attio.resetStats();
  }
  return bed;
}

/** The Node options the workflow starts the sync with: none, Node's defaults. */
export const WORKFLOW_NODE_FLAGS: readonly string[] = [];

/**
 * Node's arguments before `sync.ts` to start it as the workflow does on this Node: its flags, and
 * where Node cannot strip types itself (before 22.18; the workflow runs 24) tsx's ESM loader
 * (sync.ts is ESM; `tsx/esm` skips tsx's CommonJS hooks and starts about 80 ms sooner than
 * `--import tsx`).
 */
export const SYNC_NODE_ARGS: readonly string[] = [
  ...WORKFLOW_NODE_FLAGS,
  ...((process.features as { typescript?: string | false }).typescript ? [] : ['--import', 'tsx/esm']),
];

/** The real CLI of `script` (sync.ts unless told otherwise), started as the workflow starts it (SYNC_NODE_ARGS), in a folder with no .env. */
export function startCli(
  args: string[],
  env: Record<string, string | undefined>,
  script = fileURLToPath(new URL('../sync.ts', import.meta.url)),
): { child: ChildProcess; done: Promise<{ code: number; out: string; err: string }> } {
  const child = spawn(process.execPath, [...SYNC_NODE_ARGS, script, ...args], {
    env: { PATH: process.env.PATH, ...env } as NodeJS.ProcessEnv,
    cwd: fileURLToPath(new URL('.', import.meta.url)),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const done = new Promise<{ code: number; out: string; err: string }>((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      allOutput.push(out, err);
      resolve({ code: code ?? (signal ? 128 + (signal === 'SIGTERM' ? 15 : 9) : -1), out, err });
    });
  });
  return { child, done };
}

export const runCli = (args: string[], env: Record<string, string | undefined>, script?: string) => startCli(args, env, script).done;

export function writesOf(attio: FakeAttio): Array<{ method: string; path: string; body: unknown }> {
  return attio.requests.filter((r) => r.method !== 'GET' && !r.path.endsWith('/records/query') && r.status >= 200 && r.status < 300);
}

/** A write of people (the Stripe sync's second target), which isRecordWrite and isCreate leave out. */
export function isPeopleWrite(r: { method: string; path: string }): boolean {
  return r.path.includes('/objects/people/') && r.method !== 'GET' && !r.path.endsWith('/records/query');
}

/** A record write of the first target (not people): a create (POST), an assert (PUT with matching_attribute) or an update by id (PATCH). */
export function isRecordWrite(r: { method: string; path: string }): boolean {
  if (r.path.includes('/objects/people/')) return false;
  return (r.method === 'POST' && r.path.endsWith('/records')) || (r.method === 'PUT' && r.path.endsWith('/records')) || (r.method === 'PATCH' && /\/records\/[^/]+$/.test(r.path));
}

/** A create of a new record of the first target (not people): POST where Attio matches nothing, the assert (PUT) where the key is unique. */
export function isCreate(r: { method: string; path: string }): boolean {
  return (r.method === 'POST' || r.method === 'PUT') && r.path.endsWith('/records') && !r.path.includes('/objects/people/');
}

/** The key a record write carries as its `slug` value, if any. */
export function keyWritten(req: Pick<RequestInfo, 'body'>, slug: string): string | undefined {
  const values = (req.body as { data?: { values?: Record<string, unknown[]> } } | undefined)?.data?.values;
  const key = values?.[slug]?.[0];
  return typeof key === 'string' ? key : undefined;
}

/** A fake Attio `intercept` that refuses every record write carrying the key `key()` names (as `slug`), with Attio's 400. */
export function refuseWritesOfKey(slug: string, key: () => string | null, message: string) {
  return (req: RequestInfo) => {
    if (!isRecordWrite(req)) return undefined; // setup's requests come before the test knows `key()`
    const failing = key();
    return failing && keyWritten(req, slug) === failing
      ? { status: 400, body: { status_code: 400, type: 'invalid_request_error', code: 'validation_type', message } }
      : undefined;
  };
}
