// The Stripe test beds of one test file: opened by `open`, closed after each test, and at the end of
// the file a check that no 5-character run of either key appears in anything any run printed.
import { bedsOfThisFile as beds } from './attio-harness.ts';
import { ATTIO_KEY, startBed, STRIPE_KEY, type Bed } from './harness.ts';

export function bedsOfThisFile(): (opts?: Parameters<typeof startBed>[0]) => Promise<Bed> {
  return beds(startBed, [STRIPE_KEY, ATTIO_KEY]);
}
