// The pure parts of what customer success acts on (issue 21): payment failures and recovery, trial,
// renewal and churn dates, the billing contact as a person, references filled only while empty, and
// the needs-attention lists. End to end, through the fakes: test/customer-success.test.ts.
import type Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import {
  addLifecycle,
  addPaymentOutcome,
  attentionLists,
  churnedOnUnix,
  customerValues,
  emptyFacts,
  paymentFailureText,
  personalName,
  personName,
  personRecords,
  planRecords,
  referenceChanges,
  unrecoveredFailure,
  usableEmail,
  type DesiredRecord,
} from '../sync.ts';

const T0 = 1_780_000_000;
const DAY = 86_400;
const facts = (id = 'cus_A', more: Partial<Parameters<typeof emptyFacts>[0]> = {}) => emptyFacts({ id, email: `billing@${id.toLowerCase()}.example`, name: null, description: null, created: T0, ...more });
const declined = {
  failure_code: 'card_declined',
  failure_message: 'Your card has insufficient funds.',
  outcome: { network_status: 'declined_by_network', reason: 'insufficient_funds', risk_level: 'normal', seller_message: 'The bank returned the decline code `insufficient_funds`.', type: 'issuer_declined' },
} as unknown as Pick<Stripe.Charge, 'failure_code' | 'failure_message' | 'outcome'>;
const ok = { failure_code: null, failure_message: null, outcome: null };

describe('payment failures', () => {
  it("say the code, the decline code and Stripe's message; a Radar block its outcome", () => {
    expect(paymentFailureText(declined)).toBe('card_declined (insufficient_funds): Your card has insufficient funds.');
    expect(paymentFailureText({ failure_code: 'expired_card', failure_message: 'Your card has expired.', outcome: { reason: 'expired_card', type: 'issuer_declined' } } as never)).toBe(
      'expired_card: Your card has expired.',
    );
    expect(paymentFailureText({ failure_code: null, failure_message: null, outcome: { reason: 'highest_risk_level', seller_message: 'Stripe blocked this charge as too risky.', type: 'blocked' } } as never)).toBe(
      'blocked (highest_risk_level): Stripe blocked this charge as too risky.',
    );
    expect(paymentFailureText({ failure_code: null, failure_message: null, outcome: null })).toBe('failed');
  });

  it('the latest failure stands until a payment goes through after it; an uncaptured authorisation recovers nothing', () => {
    const f = facts();
    addPaymentOutcome(f, { status: 'succeeded', captured: true, created: T0, ...ok });
    addPaymentOutcome(f, { status: 'failed', captured: false, created: T0 + DAY, ...declined });
    addPaymentOutcome(f, { status: 'failed', captured: false, created: T0 + 3 * DAY, failure_code: 'expired_card', failure_message: 'Your card has expired.', outcome: null });
    addPaymentOutcome(f, { status: 'failed', captured: false, created: T0 + 2 * DAY, ...declined }); // older than the latest: listing order does not matter
    expect(unrecoveredFailure(f)).toEqual({ unix: T0 + 3 * DAY, text: 'expired_card: Your card has expired.' });
    addPaymentOutcome(f, { status: 'succeeded', captured: false, created: T0 + 4 * DAY, ...ok });
    addPaymentOutcome(f, { status: 'pending', captured: true, created: T0 + 4 * DAY, ...ok });
    expect(unrecoveredFailure(f)?.unix).toBe(T0 + 3 * DAY);
    addPaymentOutcome(f, { status: 'succeeded', captured: true, created: T0 + 3 * DAY, ...ok }); // the same second counts as after
    expect(unrecoveredFailure(f)).toBeNull();
    const values = customerValues(f, 'usd');
    expect(values.stripe_payment_failed_on).toBeNull();
    expect(values.stripe_payment_failure).toBeNull();
  });

  it('an unrecovered failure is written as its date and text, and delinquent as a checkbox', () => {
    const f = facts('cus_A', { delinquent: true } as never);
    addPaymentOutcome(f, { status: 'failed', captured: false, created: T0 + DAY, ...declined });
    const values = customerValues(f, 'usd');
    expect(values.stripe_payment_failed_on).toBe(new Date((T0 + DAY) * 1000).toISOString().slice(0, 10));
    expect(values.stripe_payment_failure).toBe('card_declined (insufficient_funds): Your card has insufficient funds.');
    expect(values.stripe_delinquent).toBe(true);
    expect(customerValues(facts('cus_B', { delinquent: null } as never), 'usd').stripe_delinquent).toBe(false);
    expect(customerValues(facts('cus_C'), 'usd').stripe_delinquent).toBe(false);
  });
});

describe('lifecycle dates', () => {
  const sub = (over: Record<string, unknown>) => ({ status: 'active', trial_end: null, ended_at: null, canceled_at: null, cancel_at: null, cancel_at_period_end: false, ...over }) as never;

  it('a trial ends at the earliest trial_end of the trialing subscriptions, with what they will bill', () => {
    const f = facts();
    addLifecycle(f, sub({ status: 'trialing', trial_end: T0 + 9 * DAY }), [{ current_period_end: T0 + 9 * DAY }], { currency: 'usd', mrrMinor: 5_000 });
    addLifecycle(f, sub({ status: 'trialing', trial_end: T0 + 5 * DAY }), [{ current_period_end: T0 + 5 * DAY }], { currency: 'usd', mrrMinor: 2_000 });
    addLifecycle(f, sub({ status: 'active', trial_end: T0 - DAY }), [{ current_period_end: T0 + 20 * DAY }], null); // a trial that ended: not trialing
    expect(f.trialEndsUnix).toBe(T0 + 5 * DAY);
    expect(f.trialMrrMinor).toEqual({ usd: 7_000 });
  });

  it('renews on the earliest period end of the subscriptions that count and are not set to end', () => {
    const f = facts();
    addLifecycle(f, sub({ status: 'active' }), [{ current_period_end: T0 + 30 * DAY }, { current_period_end: T0 + 12 * DAY }], null);
    addLifecycle(f, sub({ status: 'active', cancel_at_period_end: true }), [{ current_period_end: T0 + 3 * DAY }], null);
    addLifecycle(f, sub({ status: 'past_due', cancel_at: T0 + 2 * DAY }), [{ current_period_end: T0 + 4 * DAY }], null);
    addLifecycle(f, sub({ status: 'trialing', trial_end: T0 + DAY }), [{ current_period_end: T0 + DAY }], null);
    addLifecycle(f, sub({ status: 'unpaid' }), [{ current_period_end: T0 + DAY }], null);
    expect(f.renewsUnix).toBe(T0 + 12 * DAY);
  });

  it('churned on the last ended_at, only while no subscription is active, past due, unpaid or trialing', () => {
    const f = facts();
    addLifecycle(f, sub({ status: 'canceled', ended_at: T0 + 10 * DAY, canceled_at: T0 + 9 * DAY }), [], null);
    addLifecycle(f, sub({ status: 'canceled', ended_at: null, canceled_at: T0 + 20 * DAY }), [], null);
    f.subscriptionStatuses.push('canceled', 'canceled', 'incomplete_expired');
    expect(churnedOnUnix(f)).toBe(T0 + 20 * DAY);
    for (const status of ['active', 'past_due', 'unpaid', 'trialing'] as const) expect(churnedOnUnix({ ...f, subscriptionStatuses: [...f.subscriptionStatuses, status] })).toBeNull();
    expect(churnedOnUnix({ ...f, subscriptionStatuses: [...f.subscriptionStatuses, 'paused'] })).toBe(T0 + 20 * DAY);
    expect(churnedOnUnix(facts())).toBeNull();
  });
});

describe('the billing contact as a person', () => {
  it('takes an email Attio will take, in lower case, and refuses the rest', () => {
    expect(usableEmail('  Jane.Doe+billing@Acme.COM ')).toBe('jane.doe+billing@acme.com');
    expect(usableEmail('jane@www.acme.com')).toBe('jane@www.acme.com'); // kept as it is, unlike a company domain
    expect(usableEmail('jane@gmail.com')).toBe('jane@gmail.com'); // free mail is a person's address all the same
    for (const bad of [null, '', 'jane', '@acme.com', 'jane@', 'jane doe@acme.com', '"jane"@acme.com', 'jane..doe@acme.com', '.jane@acme.com', 'jane@acme', 'jane@müller.de', `${'a'.repeat(65)}@acme.com`, 'jane@acme..com'])
      expect(usableEmail(bad), String(bad)).toBeNull();
  });

  it("is named by individual_name, else by name unless that is the business's", () => {
    expect(personName({ individualName: 'Jane Doe', name: 'Acme Inc', businessName: 'Acme Inc' })).toBe('Jane Doe');
    expect(personName({ individualName: null, name: 'Jane Doe', businessName: null })).toBe('Jane Doe');
    expect(personName({ individualName: null, name: 'Acme Inc', businessName: 'Acme Inc' })).toBeNull();
    expect(personName({ individualName: null, name: ' \u200b ', businessName: null })).toBeNull();
    expect(personalName('  Jane   van  Doe ')).toEqual({ first_name: 'Jane', last_name: 'van Doe', full_name: 'Jane van Doe' });
    expect(personalName('Cher')).toEqual({ first_name: 'Cher', last_name: '', full_name: 'Cher' });
  });

  it("is one person per email, at the oldest customer's company, created with its name and email", () => {
    const customers = new Map(
      [
        facts('cus_new', { email: 'Shared@acme.example', created: T0 + DAY, name: 'Newer' }),
        facts('cus_old', { email: 'shared@acme.example', created: T0, name: 'Older' }),
        facts('cus_bad', { email: 'not an email' }),
        facts('cus_none', { email: null }),
      ].map((f) => [f.id, f]),
    );
    const companies = [...customers.values()].map((f) => ({ key: f.id, claimOrder: `${f.createdUnix} ${f.id}` }) as DesiredRecord);
    const { records, shared, unusable } = personRecords(customers, companies);
    expect(records).toEqual([
      {
        key: 'shared@acme.example',
        values: {},
        onCreate: { email_addresses: 'shared@acme.example', name: 'Older' },
        ifEmpty: { company: { object: 'companies', key: 'cus_old' } },
        linkValue: null,
        claimOrder: `${T0} cus_old`,
      },
    ]);
    expect(shared).toEqual(['shared@acme.example']);
    expect(unusable).toEqual(['cus_bad']);
  });
});

describe('references filled only while empty', () => {
  const person: DesiredRecord = { key: 'a@x.example', values: {}, onCreate: {}, ifEmpty: { company: { object: 'companies', key: 'cus_A' } }, linkValue: null, claimOrder: '1' };
  const linked = (company: string | null) => ({ recordId: 'p1', values: { company } });

  it('fill an empty one, leave one that points elsewhere (and say so), and change nothing that holds it', () => {
    expect(referenceChanges(person, linked(null), () => 'c1')).toEqual({ changes: [{ slug: 'company', before: null, after: 'c1' }], kept: [], waiting: null });
    expect(referenceChanges(person, linked('c9'), () => 'c1')).toEqual({ changes: [], kept: [{ slug: 'company', held: 'c9', wanted: 'c1' }], waiting: null });
    expect(referenceChanges(person, linked('c1'), () => 'c1')).toEqual({ changes: [], kept: [], waiting: null });
  });

  it('a new record waits for a record not written; an existing one is left as it is; a dry run names the one it would create', () => {
    expect(referenceChanges(person, undefined, () => null).waiting).toBe('company refers to cus_A, which was not written in companies: created once it is');
    expect(referenceChanges(person, linked(null), () => null)).toEqual({ changes: [], kept: [], waiting: null });
    expect(referenceChanges(person, undefined, () => 'new').changes).toEqual([{ slug: 'company', before: null, after: '(the new record for cus_A)' }]);
  });

  it('plan to: create with the reference, update an empty one by id, leave one that holds it', () => {
    const others = ['b@x.example', 'c@x.example'].map((key) => ({ ...person, key }));
    const plan = planRecords([person, ...others], new Map([['b@x.example', linked(null)], ['c@x.example', linked('c1')]]), new Map(), new Map(), () => 'c1');
    expect(plan).toEqual([
      { kind: 'new', key: 'a@x.example', changes: [{ slug: 'company', before: null, after: 'c1' }] },
      { kind: 'update', key: 'b@x.example', recordId: 'p1', changes: [{ slug: 'company', before: null, after: 'c1' }] },
      { kind: 'unchanged', key: 'c@x.example', recordId: 'p1' },
    ]);
    expect(planRecords([person], new Map(), new Map(), new Map(), () => null)).toEqual([{ kind: 'waiting', key: 'a@x.example', reason: 'company refers to cus_A, which was not written in companies: created once it is' }]);
  });
});

describe('needs attention', () => {
  const now = T0 + 100 * DAY;
  const at = (f: ReturnType<typeof facts>, mrrMinor: number) => Object.assign(f, { mrrMinor: { usd: mrrMinor } });

  it('lists unrecovered failures, trials ending within 7 days and cancellations within 30, the most MRR first, with totals', () => {
    const big = at(facts('cus_big', { name: 'Big Co', livemode: true }), 50_000);
    addPaymentOutcome(big, { status: 'failed', captured: false, created: now - DAY, ...declined });
    const small = at(facts('cus_small', { name: 'Small Co' }), 1_000);
    addPaymentOutcome(small, { status: 'failed', captured: false, created: now - 2 * DAY, ...declined });
    const recovered = at(facts('cus_ok'), 9_000);
    addPaymentOutcome(recovered, { status: 'failed', captured: false, created: now - 3 * DAY, ...declined });
    addPaymentOutcome(recovered, { status: 'succeeded', captured: true, created: now - 2 * DAY, ...ok });
    const trial = Object.assign(facts('cus_trial', { name: 'Trial Co' }), { trialEndsUnix: now + 6 * DAY, trialMrrMinor: { usd: 4_900 } });
    const laterTrial = Object.assign(facts('cus_later'), { trialEndsUnix: now + 8 * DAY });
    const leaving = Object.assign(at(facts('cus_leaving', { name: 'Leaving Co' }), 2_500), { scheduledEndsUnix: [now + 29 * DAY] });
    const staying = Object.assign(at(facts('cus_staying'), 2_500), { scheduledEndsUnix: [now + 29 * DAY, null] });
    const [failed, trials, cancels] = attentionLists([small, big, recovered, trial, laterTrial, leaving, staying], 'usd', now);
    expect(failed!.rows).toEqual([
      ['Big Co', { text: 'cus_big', url: 'https://dashboard.stripe.com/customers/cus_big' }, new Date((now - DAY) * 1000).toISOString().slice(0, 10), 'card_declined (insufficient_funds): Your card has insufficient funds.', '500.00 USD'],
      ['Small Co', { text: 'cus_small', url: 'https://dashboard.stripe.com/test/customers/cus_small' }, new Date((now - 2 * DAY) * 1000).toISOString().slice(0, 10), 'card_declined (insufficient_funds): Your card has insufficient funds.', '10.00 USD'],
    ]);
    expect(failed!.total).toBe('2 customers, 510.00 USD MRR at stake');
    expect(trials!.rows.map((r) => r[0])).toEqual(['Trial Co']);
    expect(trials!.rows[0]!.at(-1)).toBe('49.00 USD');
    expect(cancels!.rows.map((r) => r[0])).toEqual(['Leaving Co']);
    expect(cancels!.total).toBe('1 customer, 25.00 USD MRR at stake');
  });

  it('shows at most 20 rows and totals all of them; an empty list says none', () => {
    const many = Array.from({ length: 25 }, (_, i) => {
      const f = at(facts(`cus_${String(i).padStart(2, '0')}`), 100 * (i + 1));
      addPaymentOutcome(f, { status: 'failed', captured: false, created: now - DAY, ...declined });
      return f;
    });
    const [failed, trials] = attentionLists(many, 'usd', now);
    expect(failed!.rows).toHaveLength(20);
    expect(failed!.rows[0]![1]).toMatchObject({ text: 'cus_24' });
    expect(failed!.total).toBe('25 customers, 325.00 USD MRR at stake (the first 20 shown)');
    expect(trials!.total).toBe('none');
  });
});
