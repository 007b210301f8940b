// Test harness of the Stripe sync: starts the fake Stripe and Attio servers and runs the sync
// against them, either in-process (fast, with injected sleep so retries do not wait) or as the real
// CLI subprocess. What is not Stripe's lives in test/attio-harness.ts (re-exported here).
import { SYNC, type RunOptions } from '../sync.ts';
import { ATTIO_KEY, keyWritten, leakedFragments as leaked, NO_ATTIO_LIMITS, refuseWritesOfKey, runMain, type RunResult } from './attio-harness.ts';
import { startFakeAttio, type FakeAttio, type FakeAttioOptions } from './fake-attio.ts';
import { startFakeStripe, type FakeStripe, type FakeStripeOptions } from './fake-stripe.ts';
import type { RequestInfo } from './faults.ts';

export {
  allOutput,
  ATTIO_KEY,
  isCreate,
  isPeopleWrite,
  isRecordWrite,
  runCli,
  startCli,
  SYNC_NODE_ARGS,
  WORKFLOW_NODE_FLAGS,
  WORKSPACES,
  writesOf,
  type RunResult,
  type Workspace,
} from './attio-harness.ts';

// A recognisable key, so a test can prove that no byte of it reaches any output.
export const STRIPE_KEY = 'sk_test_Q7vX2mZk9WpL4rT8yN3bJ6hF';

/** The key fragments that must never be printed: every 5-character run of each key's secret part. */
export function leakedFragments(text: string, keys: readonly string[] = [STRIPE_KEY, ATTIO_KEY]): string[] {
  return leaked(text, keys);
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
  ...NO_ATTIO_LIMITS,
  perEndpointPerSecond: Infinity, // Stripe
  livePerSecond: Infinity,
  testPerSecond: Infinity,
};

export async function startBed(
  opts: { stripe?: FakeStripeOptions; attio?: FakeAttioOptions; setup?: boolean; workspace?: 'docs' | 'legacy-unique' } = {},
): Promise<Bed> {
  const stripe = await startFakeStripe({ apiKey: STRIPE_KEY, slowMs: 2500, ...opts.stripe });
  const attio = await startFakeAttio({ apiKey: ATTIO_KEY, slowMs: 2500, ...opts.attio });
  // Older developer docs let a workspace make a custom attribute on companies unique; such a
  // workspace keeps it (a test helper: Attio's API refuses to create one today).
  if (opts.workspace === 'legacy-unique') attio.addAttribute({ api_slug: 'stripe_customer_id', title: 'Stripe customer ID', type: 'text', is_unique: true });
  const env = { STRIPE_API_KEY: STRIPE_KEY, ATTIO_API_KEY: ATTIO_KEY, STRIPE_API_URL: stripe.url, ATTIO_API_URL: attio.url };
  const run = (argv: string[] = [], options: Partial<RunOptions> = {}) => runMain(SYNC, argv, env, options, NO_LIMITS);
  const bed: Bed = { stripe, attio, env, run, close: async () => void (await Promise.all([stripe.close(), attio.close()])) };
  if (opts.setup !== false) {
    const result = await run(['--setup']);
    if (result.code !== 0) throw new Error(`setup failed: ${result.err}`);
    attio.resetStats();
    stripe.resetStats();
  }
  return bed;
}

/** A company's plain values by Stripe customer id. */
export function companyOf(attio: FakeAttio, customerId: string): Record<string, unknown> | undefined {
  return attio.companies().find((c) => c.values.stripe_customer_id === customerId)?.values;
}

/** The customer id a record write carries (as its `stripe_customer_id` value), if any. */
export function writtenKey(req: Pick<RequestInfo, 'body'>): string | undefined {
  return keyWritten(req, 'stripe_customer_id');
}

/** A fake Attio `intercept` that refuses every record write of the customer `key()` names, with Attio's 400. */
export function refuseWritesOf(key: () => string | null, message: string) {
  return refuseWritesOfKey('stripe_customer_id', key, message);
}
