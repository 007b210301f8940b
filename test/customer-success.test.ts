// What customer success acts on (issue 21), end to end through the real sync and the local fakes:
// the lifecycle and payment-health attributes, each value worked out by hand from Stripe's fields;
// the billing contact as an Attio person (created once, placed at the sync's company only while it
// has none, a person's own choice left alone and reported); and the needs-attention lists.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bedsOfThisFile } from './beds.ts';
import { companyOf, isPeopleWrite, refuseWritesOf, writesOf, type Bed } from './harness.ts';

const open = bedsOfThisFile();

const DAY = 86_400;
const NOW = Math.floor(Date.now() / 1000);
const date = (unix: number) => new Date(unix * 1000).toISOString().slice(0, 10);
const personOf = (bed: Bed, email: string) => bed.attio.people().find((p) => p.emails.includes(email));
const recordIdOf = (bed: Bed, customerId: string) => bed.attio.companies().find((c) => c.values.stripe_customer_id === customerId)!.record_id;

describe('lifecycle and payment health on the company', () => {
  it('are set up, written as worked out by hand, and the second run writes nothing', async () => {
    const bed = await open({ setup: false });
    const before = await bed.run();
    expect(before.code).toBe(2);
    for (const slug of ['stripe_trial_ends_on', 'stripe_renews_on', 'stripe_churned_on', 'stripe_payment_failed_on', 'stripe_payment_failure', 'stripe_delinquent'])
      expect(before.err).toContain(`"${slug}"`);
    const setup = await bed.run(['--setup']);
    expect(setup.code).toBe(0);
    for (const created of ['"stripe_trial_ends_on" (date)', '"stripe_payment_failure" (text)', '"stripe_delinquent" (checkbox)']) expect(setup.out).toContain(`created ${created}`);

    const s = bed.stripe.store;
    const mk = (name: string, more: Parameters<typeof s.addCustomer>[0] = {}) => s.addCustomer({ name, email: `billing@${name.split(' ')[0]!.toLowerCase()}.example`, created: NOW - 90 * DAY, ...more });
    // Trial: trialing until NOW + 5 days, 49.00 a month once it ends; MRR 0 meanwhile.
    const trial = mk('Trial Co');
    s.addSubscription({ customer: trial.id, status: 'trialing', created: NOW - 2 * DAY, trial: { end: NOW + 5 * DAY }, items: [{ unit_amount: 4_900 }] });
    // Renewal: an active monthly subscription renews at its items' period end; one set to end does not.
    const renew = mk('Renew Co');
    const renewing = s.addSubscription({ customer: renew.id, created: NOW - 40 * DAY, current_period_start: NOW - 10 * DAY, items: [{ unit_amount: 2_000 }] });
    const renewsAt = renewing.items.data[0]!.current_period_end;
    const leaving = mk('Leaving Co');
    s.addSubscription({ customer: leaving.id, created: NOW - 40 * DAY, cancel_at: NOW + 10 * DAY, items: [{ unit_amount: 3_000 }] });
    // Churn: the last of two canceled subscriptions ended 20 days ago, and none runs; with one running, no churn.
    const churned = mk('Churned Co');
    s.addSubscription({ customer: churned.id, status: 'canceled', created: NOW - 80 * DAY, canceled_at: NOW - 45 * DAY, ended_at: NOW - 40 * DAY, items: [{ unit_amount: 1_000 }] });
    s.addSubscription({ customer: churned.id, status: 'canceled', created: NOW - 70 * DAY, canceled_at: NOW - 25 * DAY, ended_at: NOW - 20 * DAY, items: [{ unit_amount: 1_000 }] });
    const back = mk('Back Co');
    s.addSubscription({ customer: back.id, status: 'canceled', created: NOW - 80 * DAY, canceled_at: NOW - 45 * DAY, ended_at: NOW - 40 * DAY, items: [{ unit_amount: 1_000 }] });
    s.addSubscription({ customer: back.id, created: NOW - 30 * DAY, items: [{ unit_amount: 1_500 }] });
    // A failure with no payment after it, on a delinquent customer; a failure a later payment recovered.
    const failing = mk('Failing Co', { delinquent: true });
    s.addSubscription({ customer: failing.id, created: NOW - 60 * DAY, items: [{ unit_amount: 9_900 }] });
    s.addCharge({ customer: failing.id, amount: 9_900, currency: 'usd', created: NOW - 30 * DAY });
    s.addCharge({ customer: failing.id, amount: 9_900, currency: 'usd', created: NOW - 2 * DAY, status: 'failed', decline: 'insufficient_funds' });
    const recovered = mk('Recovered Co');
    s.addCharge({ customer: recovered.id, amount: 500, currency: 'usd', created: NOW - 5 * DAY, status: 'failed', decline: 'expired_card' });
    s.addCharge({ customer: recovered.id, amount: 500, currency: 'usd', created: NOW - 4 * DAY });

    const summaryFile = join(mkdtempSync(join(tmpdir(), 'summary-')), 'summary.md');
    const first = await bed.run([], { env: { ...bed.env, GITHUB_STEP_SUMMARY: summaryFile } });
    expect(first.code, first.err).toBe(0);
    const none = { stripe_trial_ends_on: null, stripe_renews_on: null, stripe_churned_on: null, stripe_payment_failed_on: null, stripe_payment_failure: null, stripe_delinquent: false };
    expect(companyOf(bed.attio, trial.id)).toMatchObject({ ...none, stripe_trial_ends_on: date(NOW + 5 * DAY), stripe_subscription_status: 'Trialing', stripe_mrr: 0 });
    expect(companyOf(bed.attio, renew.id)).toMatchObject({ ...none, stripe_renews_on: date(renewsAt) });
    expect(companyOf(bed.attio, leaving.id)).toMatchObject({ ...none, stripe_cancels_on: date(NOW + 10 * DAY) });
    expect(companyOf(bed.attio, churned.id)).toMatchObject({ ...none, stripe_churned_on: date(NOW - 20 * DAY), stripe_subscription_status: 'Canceled' });
    expect(companyOf(bed.attio, back.id)).toMatchObject({ stripe_churned_on: null, stripe_subscription_status: 'Active' });
    expect(companyOf(bed.attio, failing.id)).toMatchObject({
      stripe_payment_failed_on: date(NOW - 2 * DAY),
      stripe_payment_failure: 'card_declined (insufficient_funds): Your card has insufficient funds.',
      stripe_delinquent: true,
      stripe_mrr: 99,
    });
    expect(companyOf(bed.attio, recovered.id)).toMatchObject(none);

    // Needs attention, at the end of the output and in the job summary, each row linking the customer in Stripe.
    expect(first.out).toContain('Needs attention: failed payments not yet recovered: 1 customer, 99.00 USD MRR at stake');
    expect(first.out).toContain(`  Failing Co · ${failing.id} https://dashboard.stripe.com/test/customers/${failing.id} · ${date(NOW - 2 * DAY)} · card_declined (insufficient_funds)`);
    expect(first.out).toContain('Needs attention: trials ending in the next 7 days: 1 customer, 49.00 USD MRR at stake');
    expect(first.out).toContain(`  Trial Co · ${trial.id} https://dashboard.stripe.com/test/customers/${trial.id} · ${date(NOW + 5 * DAY)} · 49.00 USD`);
    expect(first.out).toContain('Needs attention: cancellations in the next 30 days: 1 customer, 30.00 USD MRR at stake');
    const summary = readFileSync(summaryFile, 'utf8');
    expect(summary).toContain('#### Needs attention: failed payments not yet recovered');
    expect(summary).toContain(`| Failing Co | [${failing.id}](https://dashboard.stripe.com/test/customers/${failing.id}) | ${date(NOW - 2 * DAY)} |`);

    bed.attio.resetStats();
    const second = await bed.run();
    expect(second.out).toContain('created=0 linked=0 updated=0 unchanged=7');
    expect(bed.attio.stats().writes).toBe(0);

    // The recovery: a payment goes through, the invoice is paid (delinquent false): both clear.
    s.addCharge({ customer: failing.id, amount: 9_900, currency: 'usd', created: NOW - 3600 });
    s.updateCustomer(failing.id, { delinquent: false });
    const third = await bed.run();
    expect(third.out).toContain('created=0 linked=0 updated=1 unchanged=6');
    expect(companyOf(bed.attio, failing.id)).toMatchObject({ stripe_payment_failed_on: null, stripe_payment_failure: null, stripe_delinquent: false });
    expect(third.out).toContain('Needs attention: failed payments not yet recovered: none');
  });

  it('cost no Stripe request of their own', async () => {
    const bed = await open();
    const s = bed.stripe.store;
    for (let i = 0; i < 5; i++) {
      const c = s.addCustomer({ name: `C${i}`, email: `a@c${i}.example`, created: NOW - 50 * DAY, delinquent: i % 2 === 0 });
      s.addCharge({ customer: c.id, amount: 1_000, currency: 'usd', created: NOW - 10 * DAY, status: i === 1 ? 'failed' : 'succeeded' });
      s.addSubscription({ customer: c.id, status: i === 2 ? 'trialing' : 'active', created: NOW - 20 * DAY, items: [{ unit_amount: 1_000 }] });
    }
    const result = await bed.run();
    expect(result.code).toBe(0);
    // One first page per listing and the products: what the sync read before these attributes too.
    expect(bed.stripe.requests.map((r) => r.path).sort()).toEqual(['/v1/charges', '/v1/customers', '/v1/disputes', '/v1/products', '/v1/subscriptions']);
  });
});

describe('the billing contact as a person', () => {
  /** Customers with every kind of person: new, existing without a company, existing at another company, an address in another case. */
  function arrange(bed: Bed) {
    const s = bed.stripe.store;
    const add = (name: string, email: string, created: number) => {
      const c = s.addCustomer({ name, email, created });
      s.addCharge({ customer: c.id, amount: 1_000, currency: 'usd', created: created + DAY });
      return c;
    };
    const fresh = add('Jane Doe', 'Jane@Fresh.example', NOW - 60 * DAY);
    const known = add('Known Co', 'ap@known.example', NOW - 59 * DAY);
    const elsewhere = add('Moved Co', 'cfo@moved.example', NOW - 58 * DAY);
    const cased = add('Cased Co', 'ops@cased.example', NOW - 57 * DAY);
    const shared = add('Shared Newer', 'jane@fresh.example', NOW - 10 * DAY); // the same person as `fresh`
    const humansCompany = bed.attio.addCompany({ name: 'Holding (CRM)', domains: ['holding.example'] });
    const knownPerson = bed.attio.addPerson({ email_addresses: ['ap@known.example'], name: { first_name: 'Ann', last_name: 'Payable', full_name: 'Ann Payable' } });
    const elsewherePerson = bed.attio.addPerson({ email_addresses: ['cfo@moved.example'], company: humansCompany });
    const casedPerson = bed.attio.addPerson({ email_addresses: ['Ops@Cased.example'] });
    return { fresh, known, elsewhere, cased, shared, humansCompany, knownPerson, elsewherePerson, casedPerson };
  }

  it("is created once at the sync's company, fills an empty company, leaves a person's own choice and says so; a second run writes nothing", async () => {
    const bed = await open();
    const a = arrange(bed);
    const companiesBefore = bed.attio.companies().length;

    const dry = await bed.run(['--dry-run']);
    expect(dry.code).toBe(0);
    expect(bed.attio.stats().writes).toBe(0);
    expect(dry.out).toContain('DRY RUN: no writes. Planned changes to people:');
    expect(dry.out).toMatch(/ {2}created jane@fresh\.example as a new record \(email_addresses "jane@fresh\.example", name "Jane Doe"\)\n {6}company: null -> "\(the new record for cus_\w+\)"/);
    expect(dry.out).toContain('DRY RUN (nothing written): people: created=1 linked=0 updated=2 unchanged=1');

    const first = await bed.run();
    expect(first.code, first.err).toBe(0);
    expect(first.out).toContain('people: created=1 linked=0 updated=2 unchanged=1 conflicts=0 failed=0');
    // The newer customer with Jane's address claims her domain too: the older one gets the company (a conflict as ever).
    expect(first.out).toContain('created=4 linked=0 updated=0 unchanged=0 conflicts=1 failed=0');
    // The new person: its address in lower case, its name as the documented object, at the company the sync created.
    const jane = personOf(bed, 'jane@fresh.example')!;
    expect(jane).toMatchObject({ name: { first: 'Jane', last: 'Doe', full: 'Jane Doe' }, company: recordIdOf(bed, a.fresh.id) });
    expect(bed.attio.people().filter((p) => p.emails.some((e) => e.toLowerCase() === 'jane@fresh.example'))).toHaveLength(1);
    // Existing people: the empty company filled, the name left as a person wrote it.
    expect(personOf(bed, 'ap@known.example')).toMatchObject({ record_id: a.knownPerson, name: { full: 'Ann Payable' }, company: recordIdOf(bed, a.known.id) });
    expect(personOf(bed, 'Ops@Cased.example')).toMatchObject({ record_id: a.casedPerson, company: recordIdOf(bed, a.cased.id) });
    // A company a person chose is never replaced, and the run says where the person is.
    expect(personOf(bed, 'cfo@moved.example')).toMatchObject({ record_id: a.elsewherePerson, company: a.humansCompany });
    expect(first.out).toContain(
      `note: people: 1 records already refer elsewhere than the sync would (cfo@moved.example: company ${a.humansCompany}, not ${recordIdOf(bed, a.elsewhere.id)}): left as a person set them`,
    );
    expect(first.out).toContain('note: 1 email addresses are the billing email of more than one customer (jane@fresh.example)');
    // Creating the person with its company given made no company of Attio's own (the fake's automatic company).
    expect(bed.attio.companies()).toHaveLength(companiesBefore + 4);

    bed.attio.resetStats();
    const second = await bed.run();
    expect(second.out).toContain('people: created=0 linked=0 updated=0 unchanged=4');
    expect(bed.attio.stats().writes).toBe(0);
  });

  it('waits for a company that was not written, and is created with it by the next run', async () => {
    let refused: string | null = null;
    const bed = await open({ attio: { intercept: refuseWritesOf(() => refused, 'Name too odd') } });
    const s = bed.stripe.store;
    const c = s.addCustomer({ name: 'Odd Co', email: 'a@odd.example', created: NOW - 5 * DAY });
    s.addCharge({ customer: c.id, amount: 700, currency: 'usd', created: NOW - DAY });
    refused = c.id;
    const first = await bed.run();
    expect(first.code).toBe(1);
    expect(first.out).toContain('people: created=0 linked=0 updated=0 unchanged=0 conflicts=0 failed=0 waiting=1');
    expect(first.out).toContain('note: people: 1 new records wait for a record they refer to, which was not written (a@odd.example): created once it is');
    expect(bed.attio.people()).toEqual([]);
    expect(bed.attio.companies()).toEqual([]); // nor did Attio make a company of its own for a person
    refused = null;
    const second = await bed.run();
    expect(second.code).toBe(0);
    expect(personOf(bed, 'a@odd.example')?.company).toBe(recordIdOf(bed, c.id));
  });

  it("is moved to the sync's company when Attio puts a new person at its own match instead", async () => {
    // The docs do not say whether a company given in the create wins over Attio's automatic one: the other reading.
    const bed = await open({ attio: { autoCompany: 'even-when-given' } });
    const hq = bed.attio.addCompany({ name: 'HQ (CRM)', domains: ['hq.example'] });
    const s = bed.stripe.store;
    const c = s.addCustomer({ name: 'Branch', email: 'lead@branch.example', created: NOW - 5 * DAY, metadata: { attio_record_id: hq } });
    s.addCharge({ customer: c.id, amount: 700, currency: 'usd', created: NOW - DAY });
    const result = await bed.run();
    expect(result.code).toBe(0);
    expect(personOf(bed, 'lead@branch.example')?.company).toBe(hq);
    expect((await bed.run()).out).toContain('people: created=0 linked=0 updated=0 unchanged=1');
  });

  it('follows --only, and SYNC_PEOPLE=off writes companies alone; a bad value stops before any request', async () => {
    const bed = await open();
    const a = arrange(bed);
    const only = await bed.run(['--only', a.known.id]);
    expect(only.code).toBe(0);
    expect(only.out).toContain('people: created=0 linked=0 updated=1 unchanged=0');
    expect(personOf(bed, 'jane@fresh.example')).toBeUndefined();

    bed.attio.requests.length = 0;
    const off = await bed.run([], { env: { ...bed.env, SYNC_PEOPLE: 'off' } });
    expect(off.code).toBe(0);
    expect(off.out).not.toContain('people:');
    expect(bed.attio.requests.filter((r) => r.path.includes('/objects/people/'))).toEqual([]);
    expect(writesOf(bed.attio).filter(isPeopleWrite)).toEqual([]);

    bed.attio.resetStats();
    const bad = await bed.run([], { env: { ...bed.env, SYNC_PEOPLE: 'maybe' } });
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('SYNC_PEOPLE must be on or off (whether people are written), got "maybe".');
    expect(bed.attio.stats().total).toBe(0);
  });
});
