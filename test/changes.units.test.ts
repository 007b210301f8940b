// The pure parts of the incremental run (issue 22): the --changes-since window and what an event
// names. End to end, through the fakes' event log: test/changes.test.ts.
import type Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { changeNamedBy, MAX_CHANGES_SINCE_DAYS, parseChangesSince, stripeSource } from '../sync.ts';

describe('--changes-since', () => {
  it('takes minutes, hours and days up to 29 days', () => {
    const problems: string[] = [];
    expect(parseChangesSince('90m', problems)).toEqual({ seconds: 5_400, text: '90m' });
    expect(parseChangesSince('3h', problems)).toEqual({ seconds: 10_800, text: '3h' });
    expect(parseChangesSince(`${MAX_CHANGES_SINCE_DAYS}d`, problems)).toEqual({ seconds: 29 * 86_400, text: '29d' });
    expect(parseChangesSince(undefined, problems)).toBeNull();
    expect(problems).toEqual([]);
  });

  it('refuses more than 29 days with the reason, and what is not a duration', () => {
    const problems: string[] = [];
    expect(parseChangesSince('30d', problems)).toBeNull();
    expect(parseChangesSince(`${29 * 24 + 1}h`, problems)).toBeNull();
    for (const bad of ['3', 'h', '0h', '-2h', '1.5h', '2w', '']) expect(parseChangesSince(bad, problems)).toBeNull();
    expect(problems[0]).toBe(
      '--changes-since 30d is more than 29 days: Stripe keeps events for 30 days only, so older changes cannot be read from them. Run without --changes-since (a full run) instead.',
    );
    expect(problems[1]).toContain('--changes-since 697h is more than 29 days');
    expect(problems.slice(2)).toHaveLength(7);
    expect(problems[2]).toBe('--changes-since takes a duration such as 90m, 3h or 2d, got "3".');
  });

  it('makes the run partial, and cannot go with --only', () => {
    const env = { STRIPE_API_KEY: 'sk_test_abc' };
    expect(stripeSource.configure(env, null, { 'changes-since': '3h' })).toMatchObject({ problems: [], partial: true, settings: { changesSince: { seconds: 10_800 } } });
    expect(stripeSource.configure(env, null, {})).toMatchObject({ partial: false, settings: { changesSince: null } });
    expect(stripeSource.configure(env, 'cus_A', { 'changes-since': '3h' }).problems).toEqual(['--changes-since and --only cannot be combined: --only reads its customer whole already.']);
  });
});

describe('what an event names', () => {
  const event = (object: Record<string, unknown>) => ({ data: { object } }) as unknown as Pick<Stripe.Event, 'data'>;
  it('a customer, by its own id or by the customer of its object; a dispute its charge; a product or a price itself', () => {
    expect(changeNamedBy(event({ object: 'customer', id: 'cus_A', deleted: true }))).toEqual({ customer: 'cus_A' });
    expect(changeNamedBy(event({ object: 'charge', id: 'ch_1', customer: 'cus_B' }))).toEqual({ customer: 'cus_B' });
    expect(changeNamedBy(event({ object: 'subscription', id: 'sub_1', customer: 'cus_C' }))).toEqual({ customer: 'cus_C' });
    expect(changeNamedBy(event({ object: 'discount', id: 'di_1', customer: 'cus_D' }))).toEqual({ customer: 'cus_D' });
    expect(changeNamedBy(event({ object: 'tax_id', id: 'txi_1', customer: { id: 'cus_E', object: 'customer' } }))).toEqual({ customer: 'cus_E' });
    expect(changeNamedBy(event({ object: 'dispute', id: 'dp_1', charge: 'ch_9' }))).toEqual({ charge: 'ch_9' });
    expect(changeNamedBy(event({ object: 'product', id: 'prod_1' }))).toEqual({ product: 'prod_1' });
    expect(changeNamedBy(event({ object: 'price', id: 'price_1', product: 'prod_1' }))).toEqual({ price: 'price_1' });
    expect(changeNamedBy(event({ object: 'charge', id: 'ch_2', customer: null }))).toEqual({ customer: undefined });
  });
});
