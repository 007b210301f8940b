// The test beds of one test file: opened by `open`, closed after each test, and at the end of the
// file a check that no 5-character run of either key appears in anything any run printed.
import { afterAll, afterEach, expect } from 'vitest';
import { allOutput, leakedFragments, startBed, type Bed } from './harness.ts';

export function bedsOfThisFile(): (opts?: Parameters<typeof startBed>[0]) => Promise<Bed> {
  const beds: Bed[] = [];
  afterEach(async () => {
    await Promise.all(beds.splice(0).map((b) => b.close()));
  });
  afterAll(() => {
    expect(allOutput.length).toBeGreaterThan(0);
    expect(leakedFragments(allOutput.join('\n'))).toEqual([]);
  });
  return async (opts) => {
    const bed = await startBed(opts);
    beds.push(bed);
    return bed;
  };
}
