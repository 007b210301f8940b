// Test harness: starts the fake Stripe and Attio servers and runs the sync against them, either
// in-process (fast, with injected sleep so retries do not wait) or as the real CLI subprocess.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main, type RunOptions } from '../sync.ts';
import { startFakeAttio, type FakeAttio, type FakeAttioOptions } from './fake-attio.ts';
import { startFakeStripe, type FakeStripe, type FakeStripeOptions } from './fake-stripe.ts';
import type { RequestInfo } from './faults.ts';

// Recognisable keys, so a test can prove that no byte of them reaches any output.
export const STRIPE_KEY = 'sk_test_Q7vX2mZk9WpL4rT8yN3bJ6hF';
export const ATTIO_KEY = 'attio_Hq3Jk8Zr2Vm6Xw9Pc4TyB5nD';

/** Everything any run printed or wrote to a step summary, for the secrets check. */
export const allOutput: string[] = [];

/** The key fragments that must never be printed: every 5-character run of each key's secret part. */
export function leakedFragments(text: string, keys: readonly string[] = [STRIPE_KEY, ATTIO_KEY]): string[] {
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

export interface Bed {
  stripe: FakeStripe;
  attio: FakeAttio;
  env: Record<string, string>;
  run: (argv?: string[], options?: Partial<RunOptions>) => Promise<RunResult>;
  close: () => Promise<void>;
}

/** No client-side pacing in tests: the fakes decide when to answer 429. */
export const NO_LIMITS = {
  readsPerSecond: Infinity, // Attio
  writesPerSecond: Infinity,
  perEndpointPerSecond: Infinity, // Stripe
  livePerSecond: Infinity,
  testPerSecond: Infinity,
};

/** The two kinds of workspace the sync meets: a new one as Attio documents it, and an older one whose key is unique. */
export type Workspace = 'docs' | 'legacy-unique';
export const WORKSPACES: readonly Workspace[] = ['docs', 'legacy-unique'];

export async function startBed(
  opts: { stripe?: FakeStripeOptions; attio?: FakeAttioOptions; setup?: boolean; workspace?: Workspace } = {},
): Promise<Bed> {
  const stripe = await startFakeStripe({ apiKey: STRIPE_KEY, slowMs: 2500, ...opts.stripe });
  const attio = await startFakeAttio({ apiKey: ATTIO_KEY, slowMs: 2500, ...opts.attio });
  // Older developer docs let a workspace make a custom attribute on companies unique; such a
  // workspace keeps it (a test helper: Attio's API refuses to create one today).
  if (opts.workspace === 'legacy-unique') attio.addAttribute({ api_slug: 'stripe_customer_id', title: 'Stripe customer ID', type: 'text', is_unique: true });
  const env = { STRIPE_API_KEY: STRIPE_KEY, ATTIO_API_KEY: ATTIO_KEY, STRIPE_API_URL: stripe.url, ATTIO_API_URL: attio.url };
  const run = async (argv: string[] = [], options: Partial<RunOptions> = {}): Promise<RunResult> => {
    let out = '';
    let err = '';
    const sleeps: number[] = [];
    const summaryFile = join(mkdtempSync(join(tmpdir(), 'sync-summary-')), 'summary.md');
    const code = await main(argv, {
      env: { ...env, GITHUB_STEP_SUMMARY: summaryFile },
      output: { out: (line) => (out += `${line}\n`), err: (text) => (err += text) },
      isTTY: false,
      sleep: async (ms) => void sleeps.push(ms),
      random: () => 0.5,
      timeoutMs: 1500, // generous: CI machines are shared and noisy; the fakes' `slow` fault takes longer still
      limits: NO_LIMITS,
      ...options,
    });
    const envSummary = options.env?.GITHUB_STEP_SUMMARY ?? summaryFile;
    allOutput.push(out, err, existsSync(envSummary) && statSync(envSummary).isFile() ? readFileSync(envSummary, 'utf8') : '');
    return { code, out, err, sleeps };
  };
  const bed: Bed = { stripe, attio, env, run, close: async () => void (await Promise.all([stripe.close(), attio.close()])) };
  if (opts.setup !== false) {
    const result = await run(['--setup']);
    if (result.code !== 0) throw new Error(`setup failed: ${result.err}`);
    attio.resetStats();
    stripe.resetStats();
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

/**
 * The real CLI, started as the workflow starts it (SYNC_NODE_ARGS), in a folder with no .env.
 */
export function startCli(args: string[], env: Record<string, string | undefined>): { child: ChildProcess; done: Promise<{ code: number; out: string; err: string }> } {
  const syncPath = fileURLToPath(new URL('../sync.ts', import.meta.url));
  const child = spawn(process.execPath, [...SYNC_NODE_ARGS, syncPath, ...args], {
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

export const runCli = (args: string[], env: Record<string, string | undefined>) => startCli(args, env).done;

/** A company's plain values by Stripe customer id. */
export function companyOf(attio: FakeAttio, customerId: string): Record<string, unknown> | undefined {
  return attio.companies().find((c) => c.values.stripe_customer_id === customerId)?.values;
}

export function writesOf(attio: FakeAttio): Array<{ method: string; path: string; body: unknown }> {
  return attio.requests.filter((r) => r.method !== 'GET' && !r.path.endsWith('/records/query') && r.status >= 200 && r.status < 300);
}

/** A record write: a create (POST), an assert (PUT with matching_attribute) or an update by id (PATCH). */
export function isRecordWrite(r: { method: string; path: string }): boolean {
  return (r.method === 'POST' && r.path.endsWith('/records')) || (r.method === 'PUT' && r.path.endsWith('/records')) || (r.method === 'PATCH' && /\/records\/[^/]+$/.test(r.path));
}

/** The customer id a record write carries (as its `stripe_customer_id` value), if any. */
export function writtenKey(req: Pick<RequestInfo, 'body'>): string | undefined {
  const values = (req.body as { data?: { values?: Record<string, unknown[]> } } | undefined)?.data?.values;
  const key = values?.stripe_customer_id?.[0];
  return typeof key === 'string' ? key : undefined;
}

/** A fake Attio `intercept` that refuses every record write of the customer `key()` names, with Attio's 400. */
export function refuseWritesOf(key: () => string | null, message: string) {
  return (req: RequestInfo) => {
    if (!isRecordWrite(req)) return undefined; // setup's requests come before the test knows `key()`
    const failing = key();
    return failing && writtenKey(req) === failing
      ? { status: 400, body: { status_code: 400, type: 'invalid_request_error', code: 'validation_type', message } }
      : undefined;
  };
}

/** A create of a new record: POST where Attio matches nothing, the assert (PUT) where the key is unique. */
export function isCreate(r: { method: string; path: string }): boolean {
  return (r.method === 'POST' || r.method === 'PUT') && r.path.endsWith('/records');
}
