// What sales asks for, end to end: plan, cancel date and dashboard link on the company, matching
// hints from Stripe metadata, and the audit log of every write.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ATTIO_KEY, companyOf, STRIPE_KEY } from './harness.ts';
import { bedsOfThisFile } from './beds.ts';

const open = bedsOfThisFile();

const T0 = 1_750_000_000; // 2025-06-15
const DAY = 86_400;
const date = (unix: number) => new Date(unix * 1000).toISOString().slice(0, 10);

describe('plan, cancel date and dashboard link', () => {
  it('reads all the items of a subscription that counts but earns nothing (collection paused to void), for its plan', async () => {
    const bed = await open();
    const s = bed.stripe.store;
    const c = s.addCustomer({ name: 'Paused', email: 'a@paused-plan.example', created: T0 });
    // 12 items: more than the 10 a subscriptions listing embeds.
    s.addSubscription({ customer: c.id, created: T0, pause_collection: { behavior: 'void' }, items: Array.from({ length: 12 }, (_, i) => ({ unit_amount: 100, product_name: `Seat ${String(i).padStart(2, '0')}` })) });
    const gone = s.addCustomer({ name: 'Gone', email: 'a@gone-plan.example', created: T0 });
    s.addSubscription({ customer: gone.id, status: 'canceled', created: T0, items: Array.from({ length: 12 }, () => ({ unit_amount: 100 })) });
    const result = await bed.run();
    expect(result.code).toBe(0);
    expect(companyOf(bed.attio, c.id)).toMatchObject({ stripe_mrr: 0, stripe_subscription_status: 'Active' });
    expect((companyOf(bed.attio, c.id)?.stripe_plan as string).split(', ')).toHaveLength(12);
    // Its items are read (it counts); the canceled one's are not.
    const itemReads = bed.stripe.requests.filter((r) => r.path === '/v1/subscription_items');
    expect(itemReads).toHaveLength(1);
  });

  it('reads the names of products older than the newest hundred a hundred at a time, each once', async () => {
    const bed = await open();
    const s = bed.stripe.store;
    const c = s.addCustomer({ name: 'Many', email: 'a@many.example', created: T0 });
    // 150 products on one subscription (more than a page of items: read to the end), then 120 newer
    // products no subscription counts on: none of the 150 is among the newest hundred.
    s.addSubscription({ customer: c.id, created: T0, items: Array.from({ length: 150 }, (_, i) => ({ unit_amount: 100, product_name: `Old ${String(i).padStart(3, '0')}` })) });
    const other = s.addCustomer({ name: 'Other', email: 'a@other.example', created: T0 });
    s.addSubscription({ customer: other.id, status: 'canceled', created: T0, items: Array.from({ length: 120 }, (_, i) => ({ unit_amount: 100, product_name: `New ${i}` })) });
    const result = await bed.run();
    expect(result.code).toBe(0);
    const plan = companyOf(bed.attio, c.id)?.stripe_plan as string;
    expect(plan.split(', ')).toHaveLength(150);
    expect(plan.startsWith('Old 000, Old 001')).toBe(true);
    const byIds = bed.stripe.requests.filter((r) => r.path === '/v1/products' && r.query.includes('ids'));
    const asked = byIds.flatMap((r) => [...new URLSearchParams(r.query).entries()].filter(([k]) => k.startsWith('ids')).map(([, v]) => v));
    expect(byIds.map((r) => [...new URLSearchParams(r.query).keys()].filter((k) => k.startsWith('ids')).length)).toEqual([100, 50]);
    expect(new Set(asked).size).toBe(150);
  });

  it('writes them, and an unchanged plan never causes a write', async () => {
    const bed = await open();
    const s = bed.stripe.store;
    const acme = s.addCustomer({ name: 'Acme', email: 'a@acme.example', created: T0 });
    // Pro x5 and a support add-on; a canceled old plan does not count.
    const pro = s.addSubscription({ customer: acme.id, created: T0, items: [{ unit_amount: 2_000, quantity: 5, product_name: 'Pro' }, { unit_amount: 500, product_name: 'Support add-on' }] });
    s.addSubscription({ customer: acme.id, status: 'canceled', created: T0, items: [{ unit_amount: 100, product_name: 'Legacy' }] });
    // Leaving: every subscription that counts is set to end; the last end is when revenue stops.
    const leaving = s.addCustomer({ name: 'Leaving', email: 'a@leaving.example', created: T0 });
    s.addSubscription({ customer: leaving.id, created: T0, cancel_at: T0 + 40 * DAY, items: [{ unit_amount: 1_000, product_name: 'Basic' }] });
    s.addSubscription({ customer: leaving.id, created: T0, cancel_at_period_end: true, items: [{ unit_amount: 1_000, product_name: 'Basic' }] });
    // Partly leaving: one of two subscriptions is set to end, so revenue does not stop: no date.
    const partly = s.addCustomer({ name: 'Partly', email: 'a@partly.example', created: T0 });
    s.addSubscription({ customer: partly.id, created: T0, cancel_at: T0 + 10 * DAY, items: [{ unit_amount: 1_000, product_name: 'Add-on' }] });
    s.addSubscription({ customer: partly.id, created: T0, items: [{ unit_amount: 1_000, product_name: 'Basic' }] });

    const result = await bed.run();
    expect(result.code).toBe(0);
    expect(companyOf(bed.attio, acme.id)).toMatchObject({
      stripe_plan: 'Pro ×5, Support add-on',
      stripe_cancels_on: null,
      stripe_dashboard_url: `https://dashboard.stripe.com/test/customers/${acme.id}`, // a test-mode key's data
    });
    const periodEnd = Math.max(...s.subscriptions.filter((x) => x.customer === leaving.id && x.cancel_at_period_end).flatMap((x) => x.items.data.map((i) => i.current_period_end)));
    expect(companyOf(bed.attio, leaving.id)).toMatchObject({ stripe_plan: 'Basic ×2', stripe_cancels_on: date(Math.max(T0 + 40 * DAY, periodEnd)) });
    expect(companyOf(bed.attio, partly.id)).toMatchObject({ stripe_plan: 'Add-on, Basic', stripe_cancels_on: null });
    // Product names: the newest hundred products come with the permission check, so an account of
    // a few products needs no other product request.
    expect(bed.stripe.requests.filter((r) => r.path.startsWith('/v1/products')).map((r) => decodeURIComponent(r.query))).toEqual(['limit=100&expand[0]=data.default_price']);

    bed.attio.resetStats();
    const again = await bed.run();
    expect(again.out).toContain('created=0 linked=0 updated=0 unchanged=3');
    expect(bed.attio.stats().writes).toBe(0);

    // The plan changes: one write, with the new text.
    s.addSubscription({ customer: acme.id, created: T0 + DAY, items: [{ unit_amount: 2_000, quantity: 2, product_id: String(pro.items.data[0]!.price.product) }] });
    const changed = await bed.run();
    expect(changed.out).toContain('updated=1');
    expect(companyOf(bed.attio, acme.id)?.stripe_plan).toBe('Pro ×7, Support add-on');
  });

  it('links to the live dashboard for a live-mode key', async () => {
    const live = 'sk_live_Q7vX2mZk9WpL4rT8yN3bJ6hF';
    const bed = await open({ stripe: { apiKey: live } });
    const c = bed.stripe.store.addCustomer({ name: 'Live', email: 'a@live.example', created: T0 });
    bed.stripe.store.addCharge({ customer: c.id, amount: 100, currency: 'usd', created: T0 });
    expect((await bed.run([], { env: { ...bed.env, STRIPE_API_KEY: live } })).code).toBe(0);
    expect(companyOf(bed.attio, c.id)?.stripe_dashboard_url).toBe(`https://dashboard.stripe.com/customers/${c.id}`);
  });

  it('setup adds the new attributes to an older workspace, and preflight names them until then', async () => {
    const bed = await open({ setup: false });
    for (const [slug, type] of [['stripe_customer_id', 'text'], ['stripe_lifetime_revenue', 'currency'], ['stripe_mrr', 'currency'], ['stripe_first_payment_date', 'date'], ['stripe_last_payment_date', 'date'], ['stripe_customer_since', 'date']] as const)
      bed.attio.addAttribute({ api_slug: slug, type });
    bed.attio.addAttribute({ api_slug: 'stripe_subscription_status', type: 'select', options: ['Active', 'Past due', 'Trialing', 'Paused', 'Canceled', 'None'] });
    const before = await bed.run();
    expect(before.code).toBe(2);
    for (const slug of ['stripe_plan', 'stripe_cancels_on', 'stripe_dashboard_url']) expect(before.err).toContain(`"${slug}"`);
    expect(before.err).toContain('run with --setup');
    const setup = await bed.run(['--setup']);
    expect(setup.code).toBe(0);
    expect(setup.out).toContain('created "stripe_plan" (text)');
    expect(setup.out).toContain('created "stripe_cancels_on" (date)');
    expect(setup.out).toContain('created "stripe_dashboard_url" (text)');
    // A workspace set up before Unpaid was its own status: preflight names the option, setup adds it.
    expect(before.err).toContain('lacks the option(s) "Unpaid"');
    expect(setup.out).toContain('added option(s) "Unpaid" to "stripe_subscription_status"');
  });
});

describe('matching hints from Stripe metadata', () => {
  it('places a customer by attio_record_id or attio_domain, over its email domain', async () => {
    const bed = await open();
    const s = bed.stripe.store;
    const target = bed.attio.addCompany({ name: 'Target (CRM)', domains: ['target.example'] });
    const hq = bed.attio.addCompany({ name: 'Holding (CRM)', domains: ['holding.example'] });
    // A founder on gmail, placed by the record id sales pasted into Stripe.
    const byId = s.addCustomer({ name: 'Founder', email: 'founder@gmail.com', created: T0, metadata: { attio_record_id: target } });
    // A subsidiary whose email domain is its own, placed on the holding company by domain.
    const byDomain = s.addCustomer({ name: 'Sub', email: 'ap@subsidiary.example', created: T0, metadata: { attio_domain: 'Holding.example' } });
    for (const c of [byId, byDomain]) s.addCharge({ customer: c.id, amount: 1_000, currency: 'usd', created: T0 });
    const result = await bed.run();
    expect(result.code).toBe(0);
    expect(result.out).toContain('created=0 linked=2');
    expect(bed.attio.companies().find((c) => c.record_id === target)?.values).toMatchObject({ stripe_customer_id: byId.id, name: 'Target (CRM)' });
    expect(bed.attio.companies().find((c) => c.record_id === hq)?.values).toMatchObject({ stripe_customer_id: byDomain.id, domains: ['holding.example'] });
    expect(bed.attio.companies()).toHaveLength(2);
  });

  it('reports a hint that points nowhere, at another customer\'s company, or is malformed, and never guesses around it', async () => {
    const bed = await open();
    const s = bed.stripe.store;
    const owner = s.addCustomer({ name: 'Owner', email: 'a@owned.example', created: T0 });
    const owned = bed.attio.addCompany({ name: 'Owned', domains: ['owned.example'], stripe_customer_id: owner.id });
    const nowhereId = s.addCustomer({ name: 'A', email: 'a@a-own.example', created: T0 + 1, metadata: { attio_record_id: '00000000-0000-4000-8000-000000000000' } });
    const nowhereDomain = s.addCustomer({ name: 'B', email: 'b@b-own.example', created: T0 + 2, metadata: { attio_domain: 'no-such-company.example' } });
    const taken = s.addCustomer({ name: 'C', email: 'c@c-own.example', created: T0 + 3, metadata: { attio_record_id: owned } });
    const malformed = s.addCustomer({ name: 'D', email: 'd@d-own.example', created: T0 + 4, metadata: { attio_record_id: 'acme' } });
    for (const c of [owner, nowhereId, nowhereDomain, taken, malformed]) s.addCharge({ customer: c.id, amount: 1_000, currency: 'usd', created: T0 + 5 });
    const result = await bed.run();
    expect(result.code).toBe(0);
    expect(result.out).toContain(`CONFLICT ${nowhereId.id}: Stripe metadata attio_record_id 00000000-0000-4000-8000-000000000000 is no record in Attio`);
    expect(result.out).toContain(`CONFLICT ${nowhereDomain.id}: Stripe metadata attio_domain no-such-company.example matches no record in Attio`);
    expect(result.out).toContain(`CONFLICT ${taken.id}: Stripe metadata attio_record_id ${owned} is record ${owned}, already linked to ${owner.id}`);
    expect(result.out).toContain(`CONFLICT ${malformed.id}: Stripe metadata attio_record_id "acme" is not an Attio record id`);
    // Nothing was created from the email domains instead.
    expect(bed.attio.companies()).toHaveLength(1);
    expect(result.out).toContain('created=0 linked=0 updated=1 unchanged=0 conflicts=4');
  });
});

describe('the audit log', () => {
  it('has one JSON line per create, link and update with values before and after, and none for a run that writes nothing', async () => {
    const bed = await open();
    const s = bed.stripe.store;
    const existing = bed.attio.addCompany({ name: 'Existing', domains: ['existing.example'] });
    const fresh = s.addCustomer({ name: 'Fresh', email: 'a@fresh.example', created: T0 });
    const found = s.addCustomer({ name: 'Found', email: 'a@existing.example', created: T0 });
    for (const c of [fresh, found]) s.addCharge({ customer: c.id, amount: 1_000, currency: 'usd', created: T0 });
    const log = join(mkdtempSync(join(tmpdir(), 'audit-')), 'audit.jsonl');
    const all = () => readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    // The companies' lines; the people's carry email_addresses instead (checked at the end).
    const lines = () => all().filter((l) => 'stripe_customer_id' in l);

    const dry = await bed.run(['--dry-run', '--audit-log', log]);
    expect(dry.code).toBe(0);
    expect(lines().map((l) => [l.action, l.stripe_customer_id, l.dry_run])).toEqual(
      expect.arrayContaining([
        ['created', fresh.id, true],
        ['linked', found.id, true],
      ]),
    );
    expect(lines()).toHaveLength(2);

    expect((await bed.run(['--audit-log', log])).code).toBe(0);
    const real = lines().slice(2);
    expect(real).toHaveLength(4);
    // Every write has an intent line, written before it was sent, and an outcome line after it.
    for (const [key, outcome] of [[fresh.id, 'created'], [found.id, 'linked']]) {
      const intent = real.findIndex((l) => l.stripe_customer_id === key && l.action === 'intent');
      expect(real[intent]).toMatchObject({ planned: 'new', record_id: null });
      expect(real.findIndex((l) => l.stripe_customer_id === key && l.action === outcome)).toBeGreaterThan(intent);
    }
    const create = real.find((l) => l.action === 'created')!;
    expect(create).toMatchObject({ stripe_customer_id: fresh.id, record_id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    expect(create.record_id).toBe(bed.attio.companies().find((c) => c.values.stripe_customer_id === fresh.id)!.record_id);
    expect((create.values as Record<string, unknown>).stripe_lifetime_revenue).toEqual({ before: null, after: 10 });
    const link = real.find((l) => l.action === 'linked')!;
    expect(link).toMatchObject({ stripe_customer_id: found.id, record_id: existing });
    expect((link.values as Record<string, unknown>).stripe_customer_id).toEqual({ before: null, after: found.id });
    expect(Date.parse(String(link.time))).toBeGreaterThan(0);

    expect((await bed.run(['--audit-log', log])).code).toBe(0);
    expect(lines()).toHaveLength(6); // nothing changed, nothing logged

    s.addCharge({ customer: fresh.id, amount: 500, currency: 'usd', created: T0 + DAY });
    expect((await bed.run(['--audit-log', log])).code).toBe(0);
    expect(lines()[6]).toMatchObject({ action: 'intent', planned: 'update', stripe_customer_id: fresh.id, record_id: create.record_id });
    const update = lines()[7]!;
    expect(update).toMatchObject({ action: 'updated', stripe_customer_id: fresh.id, values: { stripe_lifetime_revenue: { before: 10, after: 15 } } });
    expect(Object.keys(update.values as object)).toEqual(['stripe_lifetime_revenue', 'stripe_last_payment_date']);
    // The billing contacts, created after their companies: in the dry run the outcome alone, in the real run an intent line first.
    const people = all().filter((l) => 'email_addresses' in l);
    expect(people.map((l) => `${l.dry_run ? 'dry ' : ''}${l.action} ${l.email_addresses}`).sort()).toEqual(
      ['created', 'dry created', 'intent'].flatMap((what) => [`${what} a@existing.example`, `${what} a@fresh.example`]),
    );
    for (const email of ['a@existing.example', 'a@fresh.example'])
      expect(people.findIndex((l) => l.email_addresses === email && l.action === 'intent')).toBeLessThan(people.findIndex((l) => l.email_addresses === email && l.action === 'created' && !l.dry_run));
    const person = people.find((l) => l.action === 'created' && !l.dry_run && l.email_addresses === 'a@fresh.example')!;
    expect(person.values).toEqual({ company: { before: null, after: create.record_id } });
    const text = readFileSync(log, 'utf8');
    expect(text).not.toContain(STRIPE_KEY);
    expect(text).not.toContain(ATTIO_KEY);
  });
});
