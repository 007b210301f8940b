// Test harness: starts the fake Stripe and Attio servers and runs the sync against them, either
// in-process (fast, with injected sleep so retries do not wait) or as the real CLI subprocess.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { main, type RunOptions } from '../sync.ts';
import { startFakeAttio, type FakeAttio, type FakeAttioOptions } from './fake-attio.ts';
import { startFakeStripe, type FakeStripe, type FakeStripeOptions } from './fake-stripe.ts';

// Recognisable keys, so a test can prove that no byte of them reaches any output.
export const STRIPE_KEY = 'sk_test_SECRETstripeKEY0123456789';
export const ATTIO_KEY = 'attio_SECRETattioKEY9876543210';

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
  attioReadsPerSecond: Infinity,
  attioWritesPerSecond: Infinity,
  stripePerEndpointPerSecond: Infinity,
  stripeLivePerSecond: Infinity,
  stripeTestPerSecond: Infinity,
};

export async function startBed(opts: { stripe?: FakeStripeOptions; attio?: FakeAttioOptions; setup?: boolean } = {}): Promise<Bed> {
  const stripe = await startFakeStripe({ apiKey: STRIPE_KEY, slowMs: 2000, ...opts.stripe });
  const attio = await startFakeAttio({ apiKey: ATTIO_KEY, slowMs: 2000, ...opts.attio });
  const env = { STRIPE_API_KEY: STRIPE_KEY, ATTIO_API_KEY: ATTIO_KEY, STRIPE_API_URL: stripe.url, ATTIO_API_URL: attio.url };
  const run = async (argv: string[] = [], options: Partial<RunOptions> = {}): Promise<RunResult> => {
    let out = '';
    let err = '';
    const sleeps: number[] = [];
    const code = await main(argv, {
      env,
      output: { out: (line) => (out += `${line}\n`), err: (text) => (err += text) },
      isTTY: false,
      sleep: async (ms) => void sleeps.push(ms),
      random: () => 0.5,
      timeoutMs: 400,
      limits: NO_LIMITS,
      ...options,
    });
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

/** The real CLI, as a user runs it: `node --import tsx sync.ts ...`. */
export function runCli(args: string[], env: Record<string, string | undefined>, cwd?: string): Promise<{ code: number; out: string; err: string }> {
  const syncPath = fileURLToPath(new URL('../sync.ts', import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', syncPath, ...args], {
      env: { PATH: process.env.PATH, ...env } as NodeJS.ProcessEnv,
      cwd: cwd ?? fileURLToPath(new URL('.', import.meta.url)),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, out, err }));
  });
}

/** A company's plain values by Stripe customer id. */
export function companyOf(attio: FakeAttio, customerId: string): Record<string, unknown> | undefined {
  return attio.companies().find((c) => c.values.stripe_customer_id === customerId)?.values;
}

export function writesOf(attio: FakeAttio): Array<{ method: string; path: string; body: unknown }> {
  return attio.requests.filter((r) => r.method !== 'GET' && !r.path.endsWith('/records/query') && r.status >= 200 && r.status < 300);
}
