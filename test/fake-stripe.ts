// A fake Stripe API for tests and benchmarks: a real HTTP server on 127.0.0.1 with in-memory data.
//
// It answers the read-only endpoints the sync uses, with the parameters and expansions the sync sends,
// as strictly as the real API does where that is practical: list envelopes, newest-first cursor
// pagination, `expand[]`, `created[gte]`/`created[lt]` windows, unknown parameters and unsupported
// expansions rejected with 400, Stripe's error envelopes, masked API keys in 401 messages, per-second
// rate limits (429), plus injected faults and latency from the shared helpers in ./faults.ts.
//
//   GET /v1/customers             limit, starting_after, created[gte], created[lt],
//                                 expand: data.discount.source.coupon (the customer's own discount)
//   GET /v1/customers/:id         the customer, the deleted stub, or 404 resource_missing;
//                                 expand: discount.source.coupon
//   GET /v1/charges               limit, starting_after, created[gte], created[lt], customer,
//                                 expand: data.balance_transaction
//   GET /v1/charges/:id           the charge, or 404 resource_missing; expand: balance_transaction (issue 22)
//   GET /v1/subscriptions         limit, starting_after, created[gte], created[lt], customer, status,
//                                 price (subscriptions with an item on that price, issue 22),
//                                 expand: data.discounts.source.coupon
//                                 (data.items.data.discounts.source.coupon is 6 levels: refused, see below)
//   GET /v1/subscription_items    subscription (required), limit, starting_after,
//                                 expand: data.discounts.source.coupon (item-level coupons)
//   GET /v1/prices                limit (the sync asks it only when Products is refused); product,
//                                 starting_after (a product's prices, issue 22)
//   GET /v1/prices/:id            expand: tiers and/or currency_options (neither sent unless expanded)
//   GET /v1/products              ids, limit; expand: data.default_price
//   GET /v1/disputes              limit, starting_after, created[gte], created[lt], expand: data.charge
//   GET /v1/invoices/:id          a subscription's latest invoice (no parameters)
//   GET /v1/events                limit, starting_after, created (gt, gte, lt, lte or =N), type (a trailing *
//                                 wildcard), types[] (up to 20; not with type); 30 days back from the store's
//                                 present; needs event_read on a restricted key (see "Events" below)
//
// A restricted key (`rk_...`, with `permissions`) needs its permission for every endpoint and every
// expansion (see "Restricted keys" below); a secret key has them all.
//
// Nothing else is served. What the real API accepts on these endpoints but sync.ts never sends
// answers 400 with code `fake_not_implemented` (each handler lists them): ending_before everywhere,
// a charge's expansions other than balance_transaction, prices' active and expand,
// created=N, created[gt] and created[lte], customers' email, charges' data.customer, subscriptions'
// data.discounts and data.customer, subscription items' data.discounts, data.price.product and
// data.plan.product, a price's product, products' cursors, created, active and data.tax_code,
// disputes' charge filter and data.charge.balance_transaction, data.charge.customer and
// data.payment_intent, events' delivery_success, expand and a * before the end of `type`, and the filters
// listed per handler.
//
// Every rule below names its source. "types" means the stripe package's own type definitions
// (node_modules/stripe/cjs/resources/<Resource>.d.ts, v23.1.0, generated from Stripe's OpenAPI spec).
//
// Expansion rules (docs.stripe.com/api/expanding_objects): "Expansions on list requests start with
// the data property" and "Expansions have a maximum depth of four levels (for example, the deepest
// expansion allowed when listing charges is data.payment_intent.customer.default_source)": every
// dot-separated segment, `data` included, is one level. So on /v1/subscriptions
// `data.discounts.source.coupon` (4) is allowed and `data.items.data.discounts.source.coupon` (6) is
// refused; item-level coupons are read through /v1/subscription_items with
// `data.discounts.source.coupon` (4) instead.
//
// Live and test mode: every object's `livemode` is the mode of the key the fake serves
// (`startFakeStripe({ apiKey })`): sk_live_/rk_live_ -> true, anything else false. Sources: types
// (Customers.d.ts and the others) `livemode`: "If the object exists in live mode, the value is `true`.
// If the object exists in test mode, the value is `false`"; docs.stripe.com/keys: "All Stripe API
// requests occur in either test or live mode. API objects in one mode ... aren't accessible to the
// other"; docs.stripe.com/api/authentication: "Test mode secret keys have the prefix sk_test_ and live
// mode secret keys have the prefix sk_live_"; restricted keys are rk_test_/rk_live_ (docs.stripe.com/keys).
//
// Events (issue 22). The store records an event for every change made through its helpers, each with the
// type name of the types' Event.Type list (Events.d.ts, as docs.stripe.com/api/events/types lists them;
// RECORDED_EVENT_TYPES): the seeding builders record their creation (customer.created and
// customer.discount.created, charge.succeeded / .pending / .failed, charge.dispute.created and
// .funds_withdrawn, customer.subscription.created, product.created, price.created, coupon.created) dated
// at the object's `created`, unless recordSeedEvents is false; the mutation helpers (updateCustomer,
// deleteCustomer, attachCustomerDiscount, removeCustomerDiscount, refundCharge, captureCharge,
// updateCharge, updateDispute, closeDispute, updateSubscription, changeQuantity (an upgrade or downgrade), pauseSubscription, resumeSubscription,
// cancelSubscription, trialWillEnd, updateProduct, renameProduct, updatePrice, updateCoupon) always record
// theirs, at `at` (EventOptions). Seeding records only creations: an object seeded as refunded, lost or
// canceled gets no refund, close or end event. Changing a stored object directly (the builders return live
// objects) records nothing and rewrites what its latest event shows: use the helpers.
// - Payload: "The event's data field embeds the resource's state at the time of the change"
//   (docs.stripe.com/api/events/object, the Event object's description in Stripe's OpenAPI spec): the object
//   as it was, unexpanded (API-NOTES: "carry no expansions"; a subscription with its embedded items list).
//   Kept cheaply: an event points at the live object until the object next changes through a helper, which
//   first stores a copy (structuredClone) for that event; the rest of an event is a few typed-array columns.
// - previous_attributes: "Object containing the names of the updated attributes and their values prior to
//   the event (only included in events of type *.updated)" (types Event.Data): set by the *.updated helpers.
// - api_version: "The Stripe API version used to render data when the event was created. The contents of
//   data never change" (types); GET /v1/events renders "according to Stripe API version at its creation
//   time ... (not according to your current Stripe API version or Stripe-Version header)" (types,
//   EventResource.list). StripeStore.eventApiVersion (or EventOptions.apiVersion) records in another
//   version; the one rendering difference modelled is renderForVersion's.
// - Retention: "List events, going back up to 30 days" (types): events older than 30 days before
//   StripeStore.now() are not listed. now() is setNow's value, else the later of the store clock's last
//   tick and the newest event (a fake choice).
// - pending_webhooks 0 (the fake has no webhook endpoints); request {id: null, idempotency_key: null} as in
//   Stripe's example event (fx) unless a helper is given one.
//
// Wire format notes: objects are stored the way the API sends them, so a price's
// `unit_amount_decimal` is the decimal string ("1500") the SDK later turns into a `Stripe.Decimal`
// (types: Prices.js/SubscriptionItems.js responseSchema `decimal_string`; tiers' decimals too).
//
// ---- Variant table --------------------------------------------------------------------------------------------------
// Every field of every Stripe object that sync.ts sections 3 and 4 read, each documented variant, and what stands
// behind it. Sources: types = <Resource>.d.ts (as above), fx = stripe-fixtures3.json, docs = docs.stripe.com; "other"
// is the types' OtherString (a value Stripe may add later). P = the fake produces it; C = covered by, as file "test"
// (names quoted in part): S sync.test.ts, F test/fake-stripe.test.ts, N test/numbers.test.ts, E test/sync.e2e.test.ts,
// R test/reliability.test.ts "bad data from Stripe", Pm test/permissions.test.ts, Sa test/sales.test.ts,
// Ci test/citizen.test.ts; S "variant table" is the describe block of that name. X = cannot matter, and why. ! = not
// handled (by the sync, or by this fake where it says so): see the end of the table.
//
// Customer (Customers.d.ts) - emptyFacts, acceptCustomer, probeCustomers
//   id, created: always set. P; C everywhere (E "sums net revenue": customer since).
//   email: string | null. P both; C R (null, no @, upper case, IDN, free mail).
//   name: string | null | absent (`name?`). P string, null; C R (null: the description names it); absent is read as
//       null.
//   description: string | null. P both; C R, S "names a company by name, then description".
//   livemode: true | false. P both (the key's mode); C F "livemode follows the key", Sa "links to the live dashboard".
//   metadata: {} | attio_domain | attio_record_id | both. P all; C Sa "places a customer by attio_record_id", Sa
//       "reports a hint that points nowhere", S "matching hints".
//   discount: absent | null | Discount with its coupon expanded (data.discount.source.coupon). P null, Discount; C S
//       "applies the customer's discount", N "hold for the price shapes" (Xi).
//   deleted: a retrieve answers {id, object, deleted: true} (DeletedCustomer); lists never hold it. P; C F
//       "customers/:id", Ci "does not stop an account whose linked customers were deleted", S "variant table" (--only a
//       deleted one).
//   business_name, individual_name: X, not read: `name` is "The customer's full name or business name".
//   delinquent (issue 21): true | false | null | absent (types `delinquent?: boolean | null`; fx false). P all four
//       (CustomerInput.delinquent, default false); C F "customers: delinquent true, false".
//
// Charge (Charges.d.ts) - chargeRevenue, addCharge, readCharges; and the charge expanded on a dispute
//   status: succeeded | pending | failed | other. P the three; C S "ignores charges that did not succeed", F "succeeded
//       and pending charges" (pending), F "failed charges carry failure_code"; other takes that branch (only succeeded
//       counts).
//   failure_code (issue 21): null (succeeded, pending) | card_declined | expired_card | incorrect_cvc | other error codes
//       (types: "see the errors section"; docs testing lists the codes per decline). P null and the three (CHARGE_DECLINES);
//       C F "failed charges carry failure_code", F "succeeded and pending charges" (null); other codes X: a failure is
//       told by status 'failed', the code only describes it.
//   failure_message: null | a string (types). P both; C F the same two. Its wording X: descriptive text, never matched.
//   outcome: Outcome | null (types `outcome: Charge.Outcome | null`). P both (ChargeInput.outcome: null); C F
//       "succeeded and pending charges".
//   outcome.type: authorized | manual_review | issuer_declined | blocked | invalid | other (types). P authorized,
//       manual_review (CHARGE_RISKS.elevated), issuer_declined, blocked (CHARGE_DECLINES.radar_block); C F "failed charges
//       carry failure_code", F "succeeded and pending charges". invalid, other X: NOT produced (no documented example);
//       a charge's success is its status, and a Radar block is the one type a reader tells apart (docs error-handling).
//   outcome.reason: null | a decline code (issuer_declined) | highest_risk_level | elevated_risk_level |
//       not_assessed_risk_level | unknown_risk_level | rule | low_probability_of_authorization | other (types, docs
//       radar/risk-evaluation). P null, generic_decline, insufficient_funds, stolen_card, expired_card, incorrect_cvc,
//       highest_risk_level, elevated_risk_level, not_assessed_risk_level, unknown_risk_level; C F the two tests above;
//       rule, low_probability_of_authorization, other X: NOT produced (no documented shape), descriptive like the rest.
//   outcome.network_status: approved_by_network | declined_by_network | not_sent_to_network | reversed_after_approval |
//       null (types). P the first three; C F the same. reversed_after_approval, null X: NOT produced (no documented
//       example); "blocked by Stripe after bank authorization" still fails the charge (status).
//   outcome.risk_level: normal | elevated | highest | not_assessed | unknown | absent ("only available with Radar",
//       types `risk_level?`). P the five; C F the same; absent X: NOT produced, an unevaluated charge is not_assessed.
//   outcome.seller_message: a string | null. P strings (docs radar/risk-evaluation, CHARGE_DECLINES); C F. null X:
//       descriptive text, never matched.
//   outcome.advice_code, network_advice_code, network_decline_code: null here (types nullable; risk_score and rule
//       left out). X: not read (retry advice for a payer, not a revenue fact).
//   captured: true | false (succeeded but never captured, API-NOTES). P both; C S "ignores an authorisation that was
//       never captured", F "charges: an uncaptured authorisation".
//   amount_captured: = amount | less (a partial capture) | 0. P all; C S "counts a partial capture", "is no payment
//       when it captured nothing".
//   amount_refunded: 0 | partial | all | below 0 or above captured (bad data). P 0 to captured (the fake refuses more);
//       C S "is captured minus refunded", "never goes negative", "never gains from a negative refund".
//   currency: lower case; 0, 2 or 3 decimals (docs currencies). P usd eur jpy kwd bhd; C E "sums net revenue", "reports
//       in a zero-decimal target currency".
//   customer: string | Customer | DeletedCustomer | null. P string (of a deleted customer too), null; C R (no customer,
//       deleted); an object X: never expanded (the fake refuses data.customer).
//   balance_transaction: id | BalanceTransaction | null. P expanded, null (pending, failed, uncaptured); C S "keeps
//       what Stripe settled" (an id counts as its own currency), F "charges: balance_transaction id by default".
//   created: unix seconds. P; C E "sums net revenue" (first and last payment dates), F "a failed charge followed by a
//       later succeeded one" (a failure's created against a later success's, issue 21).
//   presentment_details (optional): X, not read: amount and currency are what the account charged; presentment_amount
//       is "denominated in presentment_currency".
//   (issue 22) GET /v1/charges/:id answers the same object as the list, balance_transaction an id unless
//       expand[]=balance_transaction. P; C F "GET /v1/charges/:id: the charge as the list has it".
//
// BalanceTransaction (BalanceTransactions.d.ts) - chargeRevenue, disputeLoss
//   currency: the charge's | another (the settlement currency). P both; C S "keeps what Stripe settled", E "sums net
//       revenue".
//   amount: "Gross amount": positive for a charge, negative for a dispute's withdrawal, positive for its reinstatement.
//       P all three; C S "in another settlement currency take back what Stripe withdrew there", N (Gamma).
//   exchange_rate, fee, net: X, not read: `amount` is already Stripe's conversion, and revenue is gross.
//
// Dispute (Disputes.d.ts) - disputeLoss, readDisputes, OPEN_DISPUTE_STATUSES
//   status: warning_needs_response | warning_under_review | warning_closed | needs_response | under_review |
//       appeal_needs_response | appeal_under_review | won | lost | prevented | other. P all ten (DISPUTE_STATUSES); C S
//       "take nothing back while open", S "variant table" (all ten: only lost takes back; open is exactly the six
//       undecided), N (lost, needs_response); other: neither lost nor open.
//   amount: the captured amount | a part of it, in the charge's currency. P both; C S "take back their amount", N
//       (Gamma: half lost).
//   currency: the charge's. P; C S "lost disputes".
//   balance_transactions: [] (inquiries, prevented) | [withdrawal] | [withdrawal, reinstatement] (won). P all; C F
//       "disputes: object shape", S "in another settlement currency"; two on a lost one X: only a won one is
//       reinstated.
//   charge: id | Charge (expand data.charge). P both; C F "disputes: expand data.charge"; an id X: always expanded.
//   charge.customer: string | null | an object. P string, null; C N (string), S "variant table" (null: skipped, not
//       counted as lost); an object X: never expanded.
//
// Subscription (Subscriptions.d.ts) - readsFor, subscriptionMrr, earnsMrr, addSubscription, scheduledEndUnix
//   status: active | past_due | unpaid | trialing | paused | canceled | incomplete | incomplete_expired | other. P all
//       eight; C S "takes the most advanced status", E "picks the most advanced status", N (Omicron: unpaid), S
//       "variant table" (other: no title, no MRR).
//   currency: the price's | another (billed at a currency option). P both; C N (Eta), S "prices a multi-currency
//       price".
//   customer: string | Customer | DeletedCustomer. P string; an object X: never expanded (the fake refuses
//       data.customer).
//   discounts: [] | ids | Discount[] (expand data.discounts.source.coupon). P all; C F "subscriptions: discounts as
//       ids", S "MRR with coupons", E "lowers MRR by recurring coupons".
//   items: an ApiList, has_more false | true (more than 10). P both; C E "reads items beyond the first page", F
//       "subscription_items: 25 items".
//       (issue 22) GET /v1/subscriptions?price= looks at every item, not just this first page. C F "GET
//       /v1/subscriptions?price=: every item counts".
//   pause_collection: null | behavior keep_as_draft | mark_uncollectible | void | other. P the three; C S "counts a
//       subscription whose collection is paused", N (Mu); other: S "variant table" (it earns MRR).
//   automatic_tax.enabled: true | false. P both; C S "under Stripe Tax", N (Kappa), Pm "without the optional Invoices".
//   default_tax_rates: absent (`?`) | null | [] | TaxRate[]. P [], rates; C S "divides inclusive tax rates"; absent,
//       null: S "variant table".
//   latest_invoice: id | Invoice | null. P id, null; C S "under Stripe Tax" (none: tax unknown), Pm; an Invoice X:
//       never expanded.
//   cancel_at: null | unix. P both; C S "dates a subscription's end", F "scheduled cancellations".
//   cancel_at_period_end: true, with cancel_at set (classic) or null (flexible: see SubscriptionInput) | false. P both
//       modes; C S "dates a subscription's end", F "flexible billing mode by default"; billing_mode itself X: not read,
//       both shapes are handled.
//   presentment_details (optional): X, not read: MRR is in `currency`, the one its items are priced in.
//   (issue 21) status trialing with trial_start/trial_end: P (default a 14-day trial from created, or
//       SubscriptionInput.trial); C F "subscriptions: trials (running, ended, default)".
//   trial_end, trial_start: null (no trial) | a time ahead (trialing) | a time past (a trial that ended, any status).
//       P all; C F the same.
//   canceled_at: null | a time (canceled: when requested; the creation when scheduled with cancel_at). P both; C F the
//       same, F "scheduled cancellations".
//   ended_at: null | a time (canceled, incomplete_expired). P both; C F the same (ended_at, canceled_at given or
//       default).
//   cancel_at, cancel_at_period_end: see above; C also F "subscriptions: trials" (active with cancel_at, with
//       cancel_at_period_end in both billing modes).
//
// SubscriptionItem (SubscriptionItems.d.ts) - subscriptionMrr, planOf, scheduledEndUnix, readItems
//   price: a Price, always embedded (not expandable). P; C everywhere.
//   quantity: a number (0 too) | absent (metered). P all; C S "leaves quantity-0 items out of the plan", E "excludes
//       trialing and metered", R (quantity 0).
//   discounts: [] | ids | Discount[] (only through /v1/subscription_items: 4 levels). P all; C F "item-level
//       discounts", E "lowers MRR by recurring coupons" ("on their items").
//   tax_rates: TaxRate[] | [] | null. P rates, []; C S "divides inclusive tax rates"; null: S "variant table".
//   current_trial: null | ending later | ended. P all; C S "counts an item in a trial of its own", N (Lambda).
//   current_period_end: per item since 2025-03-31 (API-NOTES). P (from SubscriptionInput.current_period_start, default
//       created); C S "dates a subscription's end", F "scheduled cancellations" (the earliest of mixed periods), F
//       "subscriptions: trials" (a period that starts after created).
//   plan, billed_until: X, not read (the plan mirrors the price, which "replaces the Plans API").
//
// Price (Prices.d.ts) - priceAmountsIn, itemAmountMinor, readsFor, readPriceDetails, planOf
//   billing_scheme: per_unit | tiered | other. P both; C S "pricing an item"; other: priced per unit, or left out with
//       the unpriced note when it has no unit amount.
//   tiers_mode: graduated | volume | null | other. P the three; C S "prices graduated tiers", "prices every unit at the
//       volume tier"; other: graduated.
//   tiers: absent (lists; a retrieve without expand) | Tier[] (expand tiers) | []. P absent, Tier[]; C F "tiered prices
//       carry no tiers in lists", E "prices a tiered price from its tiers"; [] (the fake refuses it): S "cannot price
//       one without, or with none".
//   unit_amount: an integer | null (decimal-only or tiered). P all; C S "prices per unit from unit_amount_decimal".
//   unit_amount_decimal: a decimal string (the SDK: Stripe.Decimal) | null. P both; C F "prices: per-unit with
//       unit_amount null", E "lowers MRR by recurring coupons" (24.6914).
//   transform_quantity: null | {divide_by, round: up | down | other}. P null, up, down; C S "bills package pricing", N
//       (Theta); other: rounds up.
//   currency_options: absent unless expanded ("won't include currency_options by default", docs manage-prices) | by
//       currency. P both; C F "currency_options only when expanded", N (Eta), S "prices a multi-currency price".
//   tax_behavior: inclusive | exclusive | unspecified | null | other. P the three; C S "under Stripe Tax" (inclusive,
//       exclusive); the rest X: treated as maybe holding tax, and the latest invoice tells (a share of 1 when it holds
//       none).
//   recurring: Recurring | null (one-time prices). P Recurring; null X: skipped, and an item's price_data requires
//       `recurring` (SubscriptionCreateParams).
//   product: id | Product | DeletedProduct. P id; C S "leaves quantity-0 items out of the plan"; an object X: never
//       expanded (the fake refuses it; 5 levels on a list).
//       (issue 22) GET /v1/prices?product= filters on this id. C F "GET /v1/prices?product=".
//   custom_unit_amount: X, not read: amounts "adjusted by the customer during Checkout Sessions and Payment Links";
//       unit_amount is null then, so the item is left out with the unpriced note. type, active, lookup_key: X, not
//       read.
//
// Price.Tier (Prices.d.ts) - tieredAmountMinor
//   up_to: an integer | null (the last tier). P; C S "prices graduated tiers".
//   unit_amount, unit_amount_decimal: integer and decimal | null and a fractional decimal | both null (flat only). P
//       all three; C F "GET /v1/prices/:id adds them only with expand[]=tiers", S "variant table" (decimal arithmetic).
//   flat_amount, flat_amount_decimal: the same three. P; C S "adds the flat amount of every graduated tier", S "variant
//       table" (decimals).
//
// Price.CurrencyOptions (Prices.d.ts) - priceAmountsIn
//   unit_amount, unit_amount_decimal: integer and decimal | null and a fractional decimal. P both; C S "prices a
//       multi-currency price" (integer), S "variant table" (decimal).
//   tax_behavior: inclusive | exclusive | unspecified | null | other. P the three; C S "variant table" (the option's
//       behaviour counts; null: the price's, the sync's choice where the docs say nothing).
//   tiers: absent | Tier[] (tiered prices). NOT produced: the fake refuses tiered options. C S "variant table" (priced
//       by the option's tiers; unpriced, noted, without them). Whether expand[]=currency_options sends them is not
//       documented (types `tiers?`).
//   custom_unit_amount: X, as on Price.
//
// Price.Recurring and Price.TransformQuantity (Prices.d.ts) - monthlyFactor, billedQuantity
//   interval: day | week | month | year | other. P all four; C S "turns each interval into months"; other: a month.
//   interval_count: an integer from 1. P; C S "turns each interval into months", E (every 3 months).
//   usage_type: licensed | metered | other. P both; C E "excludes trialing and metered"; other: licensed.
//   divide_by, round: see Price.transform_quantity.
//   meter, trial_period_days: X, not read (trial_period_days is for subscribing with trial_from_plan).
//
// Discount (Discounts.d.ts) - applyDiscounts, applyCustomerDiscount
//   (in a discounts array): id | Discount. P both; C S "counts a coupon it cannot read as not applied".
//   source.coupon: id | Coupon | null (fx: null). P Coupon (expanded), id (not); null NOT produced. C S "variant table"
//       (null and an id: not applied, noted).
//   source.type: coupon | other. P coupon; other X: its coupon is then not a Coupon, so not applied (noted).
//   end, start, subscription, subscription_item, promotion_code: X, not read: an attached discount applies, and the MRR
//       switches go by the coupon's duration only (support.stripe.com/questions/metric-configurations).
//
// Coupon (Coupons.d.ts; docs api/coupons/object) - couponLowersMrr, applyDiscounts
//   duration: forever | repeating | once | other. P the three; C S "lowers MRR by recurring coupons", "follows the
//       account's two switches", N (the switches); other: recurring.
//   percent_off: a number | null. P; C S "MRR with coupons", S "variant table" (100: nothing left).
//   amount_off: an integer | null, off each invoice. P; C S "spreads an amount-off over the billing period", E
//       (amountoff), S "variant table" (more than the amount: 0).
//   currency: the subscription's | another | null. P all; another: C S "variant table" (not applied, noted).
//   currency_options: ! absent unless expanded (docs: expandable). NOT produced, not read: an amount-off coupon in
//       another currency counts as not applied (noted) even with an option in the subscription's; expanding it on the
//       subscriptions list would be 5 levels.
//   applies_to: ! absent unless expanded (docs: expandable; {products}). NOT produced, not read: a coupon that applies
//       to some products only lowers the whole subscription's MRR, silently.
//   duration_in_months, valid, redeem_by, max_redemptions: X, not read (the switches go by duration; the rest is about
//       new redemptions, not attached discounts).
//
// TaxRate (TaxRates.d.ts) - inclusiveTaxPercent
//   inclusive: true | false. P both; C S "divides inclusive tax rates", N (Iota).
//   percentage: a number. P; C the same.
//   rate_type: percentage | flat_amount | null ("only present for TaxRates created by Stripe Tax"; fx: null) | other. P
//       null (a manual rate), flat_amount; percentage only Stripe Tax makes. C S "variant table" (null counts,
//       flat_amount does not), Fs "transform_quantity, tax behaviour"; other: a percentage.
//   effective_percentage, flat_amount, active: X, not read (Stripe Tax subscriptions are read from their invoice).
//
// Product (Products.d.ts) - the catalogue read, readProductNames, finishFacts
//   id, name: a required string. P given and default names; C Sa "reads the names of products older than the newest
//       hundred", F "GET /v1/products with ids".
//   (not in the answer): the id stands for the name. X: "Deleting a product is only possible if it has no prices" (docs
//       api/products/delete).
//   default_price (expanded in the first request): X, not read (that request is the Products and Prices check).
//
// Invoice (Invoices.d.ts) - readInvoice, taxFreeShare
//   subtotal: an integer. P; C S "under Stripe Tax", N (Kappa).
//   subtotal_excluding_tax: an integer | null. P both; null: C S "variant table" (tax unknown, noted).
//   (the read): 200 | 403 without invoice_read. P both; C Pm "without the optional Invoices".
//
// Event (Events.d.ts; fx `event`) - GET /v1/events (issue 22)
//   id: evt_... P; C F "newest first (ties". object: 'event'. P; C the same.
//   api_version: the current version | an older one (the event's own) | null ("populated only for events
//       created on or after October 31, 2014"; fx null). P the first two; C F "events keep the API version". null X:
//       such events are a decade older than the 30 days the list reaches back.
//   created: P; C F "created[gte]", F "30-day retention".
//   data.object: Customer | Charge | Dispute | Subscription | Product | Price | Coupon | Discount, as it was then. P
//       all eight; C F "payloads are snapshots", F "one event per change" (every helper's type and object).
//   data.previous_attributes: absent (not *.updated) | the changed fields' old values (*.updated). P both; C F
//       "payloads are snapshots", F "one event per change". customer.discount.updated: absent (not documented).
//   livemode: true | false (the key's mode). P both; C F "recordSeedEvents: false".
//   pending_webhooks: 0. X: the fake has no webhook endpoints; it counts deliveries, not object state.
//   request: {id: null | string, idempotency_key: null | string} | null (types `Event.Request | null`). P all; C F
//       "newest first" (default), F "one event per change" (given), F "recordSeedEvents: false" (null).
//   type: RECORDED_EVENT_TYPES. P all; C F "one event per change". Other types: ! NOT produced: a real account
//       also holds events of objects the fake does not model (invoice.*, payment_intent.*, refund.*, plan.*, ...);
//       a reader listing without `type`/`types` meets them there.
//   account, context: X, absent (Connect and contexts only, types `account?`, `context?`).
//
// ! Not handled (limits, stated in the README's "What the sync cannot know")
//   - Coupon.applies_to and Coupon.currency_options: above (only when expanded, and 5 levels deep in a listing).
//   - Under Stripe Tax, taxFreeShare spreads the latest invoice's tax over one period of every tax-inclusive item; with
//     mixed intervals (flexible billing mode) or prorations that invoice bills only some of them.
// Fixed since the table was made: an amount-off on tax-inclusive prices now comes off before the tax
// (afterDiscounts; S "takes an amount-off off the billed amount"), and the fake's manual rates carry rate_type null.
// ---------------------------------------------------------------------------------------------------------------------
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Stripe from 'stripe';
import { RateWindow, readBody, sendFault, sleep } from './faults.ts';
import type { FaultSchedule, RequestInfo } from './faults.ts';

export const DEFAULT_API_KEY = 'sk_test_fake_valid_key_123456';
export const API_VERSION = '2026-10-28.endive';
/** The store's clock: the n-th default `created` (or deletion time) is BASE_TIME + n * 60. */
export const BASE_TIME = 1_700_000_000;
const DAY = 86_400;

// ------------------------------------------------------------------------------------------------
// Public interface
// ------------------------------------------------------------------------------------------------

export interface FakeStripeOptions {
  /**
   * The one valid key; every other key gets 401. Default DEFAULT_API_KEY. Its mode sets the store's
   * `livemode`: an `sk_live_` or `rk_live_` key serves live-mode objects (`livemode: true`), any other
   * key (`sk_test_`, `rk_test_`, the default) test-mode ones (see the header).
   */
  apiKey?: string;
  /** Added before answering each request. Default 0. A 429 waits at most 20 ms. */
  latencyMs?: number | ((req: RequestInfo) => number);
  /** Requests per second (RateWindow). perEndpoint counts per path pattern, overall counts all. */
  rateLimit?: { perEndpoint?: number; overall?: number };
  /** Consulted for every authenticated request that is not rate limited; a fault replaces the answer. */
  faults?: FaultSchedule;
  /** How long the 'slow' fault waits before answering 503. Default 3000. */
  slowMs?: number;
  /**
   * For a restricted key (`rk_...`): the read permissions it was given, by the names Stripe's 403
   * uses (`customer_read`, `charge_read`, `plan_read`, ...; docs.stripe.com/stripe-apps/reference/permissions).
   * Every endpoint and every expansion then needs its object's permission (see PERMISSIONS below).
   * Default: none. A secret key (`sk_...`) has every permission and ignores this.
   */
  permissions?: readonly string[];
  /**
   * Record events for the seeding builders (addCustomer, addCharge, addSubscription, addDispute): their
   * `*.created`-kind event, dated at the object's `created` (so old objects' events age out of the 30-day
   * listing). Default true. The mutation helpers always record theirs. See "Events" in the header.
   */
  recordSeedEvents?: boolean;
  /** The API version new events are recorded in (see StripeStore.eventApiVersion). Default API_VERSION. */
  eventApiVersion?: string;
  /** Fixes the store's present (see StripeStore.setNow). Default: the store's clock. */
  now?: number;
}

export interface FakeStripeRequest {
  method: string;
  path: string;
  query: string;
  /** The HTTP status sent, or 0 when no response head was sent (dropped, or client gave up first). */
  status: number;
  /** For a list answered 200: how many objects its page held. */
  objects?: number;
}

export interface FakeStripeStats {
  total: number;
  /** Keyed by route pattern ('/v1/charges', '/v1/customers/:id'), or the raw path for unknown URLs. */
  byEndpoint: Record<string, number>;
  /** 429s from the rate limiter (injected rate-limit faults count as faults). */
  rateLimited: number;
  faults: number;
}

export interface FakeStripe {
  url: string;
  port: number;
  store: StripeStore;
  /** Every request, in arrival order. */
  requests: FakeStripeRequest[];
  stats(): FakeStripeStats;
  /** Zeroes the counters and empties `requests` (in place). */
  resetStats(): void;
  setFaults(f: FaultSchedule | undefined): void;
  close(): Promise<void>;
}

// ------------------------------------------------------------------------------------------------
// The in-memory data
// ------------------------------------------------------------------------------------------------

type Interval = 'day' | 'week' | 'month' | 'year';

export interface CustomerInput {
  id?: string;
  email?: string | null;
  name?: string | null;
  description?: string | null;
  created?: number;
  metadata?: Record<string, string>;
  /**
   * The customer's own discount (types Customers.d.ts `discount`: "Describes the current discount
   * active on the customer, if there is one"); its coupon is expandable (`discount.source.coupon`).
   * A forever amount-off is allowed here: the 2025-03-31 restriction names subscriptions, items,
   * schedules, invoices, quotes and checkout, not customers (docs.stripe.com/changelog/basil/2025-03-31/restrict-coupon-duration).
   */
  discount?: DiscountInput;
  /**
   * Types Customers.d.ts `delinquent?: boolean | null`: "Tracks the most recent state change on any
   * invoice belonging to the customer. Paying an invoice or marking it uncollectible via the API will
   * set this field to false. An automatic payment failure or passing the invoice.due_date will set this
   * field to true." Default false (as in Stripe's example customer, stripe-fixtures3.json). The fake has
   * no invoices behind it: a test sets the state it wants. 'absent' leaves the field out (the types
   * mark it optional; when the API leaves it out is not documented).
   */
  delinquent?: boolean | null | 'absent';
}

/**
 * Why a failed charge failed, as the charge records it: `failure_code` (the error code), `failure_message`
 * and `outcome`. Sources, per entry below:
 * - failure_code and the decline code (`outcome.reason` of an issuer decline): docs.stripe.com/testing,
 *   "Simulate a declined payment": generic decline card_declined/generic_decline, insufficient funds
 *   card_declined/insufficient_funds, stolen card card_declined/stolen_card, expired card expired_card,
 *   incorrect CVC incorrect_cvc. docs.stripe.com/declines/codes: "Stripe decline codes".
 * - outcome.type issuer_declined, network_status declined_by_network, risk_level normal and seller_message
 *   "The bank returned the decline code `<code>`.": Stripe's docs example of an expired card's outcome (the
 *   Markdoc docs' code-block example: network_status declined_by_network, reason expired_card, risk_level
 *   normal, seller_message "The bank returned the decline code `expired_card`.", type issuer_declined); the
 *   same shape for the other codes, and the generic decline's seller_message "The bank did not return any
 *   further details with this decline.", are as public captured API responses show them (inferred: not in
 *   the docs).
 * - A Radar block: the outcome of docs.stripe.com/radar/risk-evaluation "High risk payments" (network_status
 *   not_sent_to_network, reason highest_risk_level, risk_level highest, seller_message "Stripe blocked this
 *   charge as too risky.", type blocked); docs.stripe.com/error-handling tells a block from an issuer
 *   decline by `outcome.type == 'blocked'` only, checked before the error code. The charge's failure_code
 *   card_declined and message "Your card was declined." are what public captured responses of blocked
 *   charges carry (inferred: the docs do not say; read outcome.type, not the code, to tell a block).
 * - failure_message texts: as public captured API responses carry them (inferred: the docs do not list
 *   them); the sync must not depend on their wording.
 * outcome.risk_score (Radar for Fraud Teams only) and outcome.rule (types `rule?`) are left out.
 */
export const CHARGE_DECLINES = {
  generic_decline: { failure_code: 'card_declined', failure_message: 'Your card was declined.', network_status: 'declined_by_network', reason: 'generic_decline', risk_level: 'normal', seller_message: 'The bank did not return any further details with this decline.', type: 'issuer_declined' },
  insufficient_funds: { failure_code: 'card_declined', failure_message: 'Your card has insufficient funds.', network_status: 'declined_by_network', reason: 'insufficient_funds', risk_level: 'normal', seller_message: 'The bank returned the decline code `insufficient_funds`.', type: 'issuer_declined' },
  stolen_card: { failure_code: 'card_declined', failure_message: 'Your card was declined.', network_status: 'declined_by_network', reason: 'stolen_card', risk_level: 'normal', seller_message: 'The bank returned the decline code `stolen_card`.', type: 'issuer_declined' },
  expired_card: { failure_code: 'expired_card', failure_message: 'Your card has expired.', network_status: 'declined_by_network', reason: 'expired_card', risk_level: 'normal', seller_message: 'The bank returned the decline code `expired_card`.', type: 'issuer_declined' },
  incorrect_cvc: { failure_code: 'incorrect_cvc', failure_message: "Your card's security code is incorrect.", network_status: 'declined_by_network', reason: 'incorrect_cvc', risk_level: 'normal', seller_message: 'The bank returned the decline code `incorrect_cvc`.', type: 'issuer_declined' },
  radar_block: { failure_code: 'card_declined', failure_message: 'Your card was declined.', network_status: 'not_sent_to_network', reason: 'highest_risk_level', risk_level: 'highest', seller_message: 'Stripe blocked this charge as too risky.', type: 'blocked' },
} as const;
export type ChargeDecline = keyof typeof CHARGE_DECLINES;

/**
 * A charge that went through, by Radar's evaluation: the outcomes of docs.stripe.com/radar/risk-evaluation
 * ("Normal risk payments", "Elevated risk payments", "Not evaluated", "Unknown risk payments"), verbatim
 * (risk_score left out: "Provided only with Stripe Radar for Fraud Teams"). An elevated one is
 * `manual_review` (Radar for Fraud Teams "automatically places elevated risk payments into your review
 * queue"); the charge's `review` stays null here (not read).
 */
export const CHARGE_RISKS = {
  normal: { network_status: 'approved_by_network', reason: null, risk_level: 'normal', seller_message: 'The charge was authorized.', type: 'authorized' },
  elevated: { network_status: 'approved_by_network', reason: 'elevated_risk_level', risk_level: 'elevated', seller_message: 'Stripe evaluated this charge as having elevated risk, and placed it in your manual review queue.', type: 'manual_review' },
  not_assessed: { network_status: 'approved_by_network', reason: 'not_assessed_risk_level', risk_level: 'not_assessed', seller_message: 'Your business has opted out of Radar fraud risk assessments.', type: 'authorized' },
  unknown: { network_status: 'approved_by_network', reason: 'unknown_risk_level', risk_level: 'unknown', seller_message: 'Something went wrong while evaluating this payment. Our engineers have been notified and we’ll look into this as soon as possible.', type: 'authorized' },
} as const;
export type ChargeRisk = keyof typeof CHARGE_RISKS;

/** A tax rate (types TaxRates.d.ts): a percentage, inclusive ("This specifies if the tax rate is inclusive or exclusive") or not. */
export interface TaxRateInput {
  percentage: number;
  inclusive: boolean;
  /** Default: none (null, as for every rate not made by Stripe Tax); 'flat_amount' carries `flat_amount` instead (types `rate_type`). */
  rate_type?: 'percentage' | 'flat_amount';
}

export interface ChargeInput {
  customer: string | null;
  amount: number;
  currency: string;
  created?: number;
  status?: 'succeeded' | 'pending' | 'failed';
  /** Default: `amount` when succeeded and captured, else 0. Less than `amount`: a partial capture. */
  amount_captured?: number;
  amount_refunded?: number;
  /** Usually left out: addDispute sets it. */
  disputed?: boolean;
  /**
   * false: an authorisation that was never captured (types Charges.d.ts: `captured` "If the charge
   * was created without capturing, ... whether it is still uncaptured"; `paid` "true if the charge
   * succeeded, or was successfully authorized for later capture"). Only with status 'succeeded'
   * (API-NOTES: "An authorisation that was never captured is status: 'succeeded' with captured:
   * false"); amount_captured 0 and no balance transaction. Default true.
   */
  captured?: boolean;
  /**
   * The balance transaction (succeeded charges only). Default: the charge's currency,
   * amount = amount_captured, exchange_rate null. When the currency differs and no exchange_rate is
   * given, it is derived from the two amounts in major units.
   */
  settlement?: { currency: string; amount: number; exchange_rate?: number };
  /** Why a failed charge failed (only with status 'failed'). Default 'generic_decline'. See CHARGE_DECLINES. */
  decline?: ChargeDecline;
  /** Radar's evaluation of a succeeded or pending charge. Default 'normal'. See CHARGE_RISKS. */
  risk?: ChargeRisk;
  /**
   * null: a charge without an outcome (types Charges.d.ts `outcome: Charge.Outcome | null`, "Details about
   * whether the payment was accepted, and why"; when Stripe leaves it null is not documented).
   */
  outcome?: null;
}

/**
 * One price tier (types Prices.d.ts `Price.Tier`). Give a unit and/or a flat amount, as an integer or
 * as a decimal string of minor units with at most 12 decimal places. The answer carries both forms:
 * the integer is null when the decimal is not whole ("represented as a whole integer if possible").
 */
export interface TierInput {
  /** Up to and including this quantity; null for the last tier (Stripe's `up_to: 'inf'`). */
  up_to: number | null;
  unit_amount?: number;
  unit_amount_decimal?: string;
  flat_amount?: number;
  flat_amount_decimal?: string;
}

export interface SubscriptionItemInput {
  /**
   * A per-unit price's integer amount. null alone means a tiered price (as before); null with
   * `unit_amount_decimal` a per-unit price with a fractional minor-unit amount; null with `tiers`
   * a tiered price with those tiers.
   */
  unit_amount: number | null;
  /**
   * Per-unit amount as a decimal string of minor units, e.g. "1234.5678" (types Prices.d.ts:
   * `unit_amount_decimal` "represented as a decimal string with at most 12 decimal places. Only set
   * if billing_scheme=per_unit"; `unit_amount` "represented as a whole integer if possible"). Needs
   * `unit_amount: null`; a whole value ("1500") also fills `unit_amount` in the answer.
   */
  unit_amount_decimal?: string;
  /**
   * Tiers of a tiered price (needs `unit_amount: null`). The last one must have `up_to: null`.
   * Default for a bare `{unit_amount: null}`: one free tier `{up_to: null, unit_amount: 0}` (a fake
   * default: the real API does not create a tiered price without tiers).
   */
  tiers?: TierInput[];
  /** Default 'graduated'. Only for tiered prices. */
  tiers_mode?: 'graduated' | 'volume';
  /** Item-level discounts (types SubscriptionItems.d.ts `discounts`); amount_off defaults to the item's currency. */
  discounts?: DiscountInput[];
  /** Default 1; metered items carry no quantity, as in the API. */
  quantity?: number;
  /**
   * Share the price of an item added before (its id, from `store.subscriptions`), as items on one
   * price do in Stripe; the item's own price fields are then ignored, and it shares that price's
   * product (product_name and product_id cannot be given with it).
   */
  price_id?: string;
  /**
   * The name of the product a new price is created on (types Products.d.ts `name`: "The product's
   * name, meant to be displayable to the customer"; required and non-empty to create one). Default
   * `Product <n>` for the store's n-th product id (`prod_fake000000000n`): no id is consumed for it.
   */
  product_name?: string;
  /**
   * Create this item's new price on an existing product (its id, e.g. `item.price.product` of an
   * item added before) instead of a new product: several prices on one product, as in Stripe (types
   * Prices.d.ts `product`: "The ID of the product this price is associated with"). With
   * `product_name`, the name must be that product's.
   */
  product_id?: string;
  interval?: Interval;
  interval_count?: number;
  usage_type?: 'licensed' | 'metered';
  /**
   * Default: the subscription's currency. Another currency needs a `currency_options` entry for
   * the subscription's ("each purchase uses one of the multi-currency Price's supported
   * currencies", docs.stripe.com/products-prices/manage-prices).
   */
  currency?: string;
  /**
   * A multi-currency per-unit price's other currencies (types Prices.d.ts `currency_options`): sent
   * only when expanded ("The API response won't include currency_options by default", same page).
   * Tiered currency options are not modelled (the fake refuses them).
   */
  currency_options?: Record<string, { unit_amount?: number; unit_amount_decimal?: string; tax_behavior?: 'inclusive' | 'exclusive' | 'unspecified' }>;
  /** Package pricing (types `transform_quantity`: divide_by, round up|down; "Cannot be combined with tiers"). */
  transform_quantity?: { divide_by: number; round: 'up' | 'down' };
  /** Types `tax_behavior`: inclusive, exclusive or unspecified (the default here, as in Stripe's example price). */
  tax_behavior?: 'inclusive' | 'exclusive' | 'unspecified';
  /** The item's tax rates (types SubscriptionItems.d.ts `tax_rates`): when set, the subscription's default_tax_rates do not apply. */
  tax_rates?: TaxRateInput[];
  /** A trial of the item's own (types `current_trial`: start_date, end_date, trial_offer). */
  current_trial?: { start_date: number; end_date: number };
}

export interface DiscountInput {
  percent_off?: number;
  amount_off?: number;
  /** For amount_off; default: the subscription's currency. */
  currency?: string;
  /** Default 'forever'. */
  duration?: 'once' | 'repeating' | 'forever';
  /** Only for 'repeating' (types Coupons.d.ts: "Null if coupon duration is forever or once"). Default 3. */
  duration_in_months?: number;
}

/** The dispute statuses the types list (Disputes.d.ts `Dispute.Status`). */
export const DISPUTE_STATUSES = [
  'warning_needs_response',
  'warning_under_review',
  'warning_closed',
  'needs_response',
  'under_review',
  'appeal_needs_response',
  'appeal_under_review',
  'won',
  'lost',
  'prevented',
] as const;
export type DisputeStatus = (typeof DISPUTE_STATUSES)[number];

export interface DisputeInput {
  /** A succeeded, captured charge. */
  charge: string;
  /** In the charge's currency. Default: the charge's amount_captured. */
  amount?: number;
  status: DisputeStatus;
  /** Default: the store clock's next tick. Not before the charge. */
  created?: number;
  /** Default 'general'. */
  reason?: string;
  /**
   * The debit in the charge's settlement currency (the currency of its balance transaction), as a
   * positive number. Default: `amount` converted with the charge's exchange rate. Stripe converts at
   * the rate of the day of the dispute (docs.stripe.com/currencies/disputes-refunds), so it may differ.
   */
  settlement?: { amount: number; exchange_rate?: number };
  /** Dispute fee on the withdrawal, in the settlement currency. Default 0 (not modelled unless given). */
  fee?: number;
}

export interface SubscriptionInput {
  customer: string;
  status?: Stripe.Subscription.Status;
  currency?: string;
  created?: number;
  items: SubscriptionItemInput[];
  /** Forever amount-off coupons are refused (changelog basil 2025-03-31, see buildDiscount). */
  discounts?: DiscountInput[];
  /**
   * Default 'flexible': "New subscriptions default to billing_mode: flexible since 2025-09-30"
   * (API-NOTES, changelog clover). The cancel_at and trial_end rules quoted below are classic mode's
   * (docs.stripe.com/billing/subscriptions/billing-mode/compare); for flexible mode the docs do not
   * say that cancel_at_period_end sets cancel_at, so here it does not (the sync handles both).
   */
  billing_mode?: 'classic' | 'flexible';
  /** Paused collection (types `pause_collection`: behavior keep_as_draft | mark_uncollectible | void, resumes_at); the status stays as it is. */
  pause_collection?: { behavior: 'keep_as_draft' | 'mark_uncollectible' | 'void'; resumes_at?: number | null };
  /** Stripe Tax on (types `automatic_tax.enabled`). */
  automatic_tax?: boolean;
  /** The tax rates of items without their own (types `default_tax_rates`). */
  default_tax_rates?: TaxRateInput[];
  /**
   * The latest invoice (types `latest_invoice`, an id unless expanded): its `subtotal` ("before any
   * invoice level discount or exclusive tax") and `subtotal_excluding_tax` ("before any invoice
   * level discount or tax"), in the subscription's currency. Default: none (null).
   */
  latest_invoice?: { subtotal: number; subtotal_excluding_tax: number | null };
  /**
   * A scheduled cancellation date (types Subscriptions.d.ts `cancel_at`: "A date in the future at
   * which the subscription will automatically get canceled"): after `created`. Default null. With
   * `cancel_at_period_end: true` it is derived (see there) and may only repeat that value. With
   * status 'canceled' the subscription ended then (`ended_at`); on a trialing subscription a date
   * before `trial_end` moves `trial_end` to it (docs.stripe.com/billing/subscriptions/billing-mode/compare,
   * classic: "Setting cancel_at to a date earlier than the trial_end date automatically changes
   * trial_end to match cancel_at"). Not with status 'incomplete_expired'.
   */
  cancel_at?: number | null;
  /**
   * Cancel at the end of the current period (types: "Whether this subscription will (if
   * status=active) or did (if status=canceled) cancel at the end of the current billing period").
   * Default false. True sets `cancel_at` to the period end: the subscriptions here are classic billing
   * mode, where "cancel_at_period_end is set to true and cancel_at is set to the current_period_end
   * timestamp" (docs.stripe.com/billing/subscriptions/billing-mode/compare); since API 2025-03-31 the
   * period end lives on the items, and with items of different periods "cancel_at_period_end ...
   * always resolves to the earliest item period end" (docs.stripe.com/changelog/basil/2025-07-30/cancel-at-enums).
   */
  cancel_at_period_end?: boolean;
  /**
   * The subscription's trial (types Subscriptions.d.ts `trial_start`: "If the subscription has a trial, the
   * beginning of that trial"; `trial_end`: "If the subscription has a trial, the end of that trial"). Default:
   * status 'trialing' has `{start: created, end: created + 14 days}` (a fake choice), every other status none
   * (both null). Given with another status it is a trial that happened (e.g. an active subscription after
   * its trial). `start` defaults to `created`; `end` is after `start`. Status 'trialing' needs one.
   */
  trial?: { start?: number; end: number } | null;
  /**
   * When a canceled subscription ended (types `ended_at`: "If the subscription has ended, the date the
   * subscription ended"). Only with status 'canceled'; after `created`. Default: `cancel_at` when scheduled
   * (and then only that value), else created + 30 days (a fake choice).
   */
  ended_at?: number;
  /**
   * When a canceled subscription was canceled (types `canceled_at`, quoted in addSubscription). Only with
   * status 'canceled'; from `created` to `ended_at`. Default: `created` when scheduled with cancel_at (the
   * request that scheduled it), else `ended_at`.
   */
  canceled_at?: number;
  /**
   * The start of the items' current period (types SubscriptionItems.d.ts `current_period_start`; each item's
   * `current_period_end` is one of its price's intervals later). Default `created`; not before it.
   */
  current_period_start?: number;
}

/** What every mutation helper takes (all optional). */
export interface EventOptions {
  /** When it happens (unix seconds). Default: the fixed present (setNow), else the store clock's next tick; never before the object's `created`. */
  at?: number;
  /**
   * The event's `request` (types `request: Event.Request | null`; Event.Request `id`: "ID of the API request
   * that caused the event. If null, the event was automatic"). Default {id: null, idempotency_key: null}, as
   * in Stripe's example event (fx); null sends null.
   */
  request?: { id: string | null; idempotency_key: string | null } | null;
  /** The API version the event is recorded in. Default: the store's eventApiVersion. */
  apiVersion?: string;
}

/**
 * The event types the fake records, each named as in the types' Event.Type list (Events.d.ts, the list
 * docs.stripe.com/api/events/types publishes), with the object each carries there.
 */
export const RECORDED_EVENT_TYPES = [
  'customer.created', 'customer.updated', 'customer.deleted',
  'customer.discount.created', 'customer.discount.updated', 'customer.discount.deleted',
  'charge.succeeded', 'charge.pending', 'charge.failed', 'charge.captured', 'charge.refunded', 'charge.updated',
  'charge.dispute.created', 'charge.dispute.updated', 'charge.dispute.closed', 'charge.dispute.funds_withdrawn', 'charge.dispute.funds_reinstated',
  'customer.subscription.created', 'customer.subscription.updated', 'customer.subscription.deleted',
  'customer.subscription.paused', 'customer.subscription.resumed', 'customer.subscription.trial_will_end',
  'product.created', 'product.updated', 'price.created', 'price.updated', 'coupon.created', 'coupon.updated',
] as const satisfies readonly Stripe.Event.Type[];
export type RecordedEventType = (typeof RECORDED_EVENT_TYPES)[number];

/** The objects events are about. */
type StoredObject = Stripe.Customer | Stripe.Charge | Stripe.Subscription | Stripe.Dispute | Stripe.Product | Stripe.Price | Stripe.Coupon | Stripe.Discount;

/** The formal (funds withdrawn) dispute statuses that are still open. */
const OPEN_FORMAL = ['needs_response', 'under_review', 'appeal_needs_response', 'appeal_under_review'] as const;
const ENDED_STATUSES: ReadonlySet<string> = new Set(['canceled', 'incomplete_expired']);

/** On a stored object: its latest event while that event's payload is still the object itself (non-enumerable). */
const LIVE_EVENT = Symbol('fake-stripe live event');

/** What an event carries besides its type, time and object, when set (kept apart: most events have none). */
interface EventExtra {
  apiVersion?: string;
  request?: { id: string | null; idempotency_key: string | null } | null;
  previous?: Record<string, unknown>;
}

const EVENT_TYPE_INDEX = new Map<string, number>(RECORDED_EVENT_TYPES.map((t, i) => [t, i]));
const eventId = (seq: number) => `evt_fake${String(seq).padStart(10, '0')}`;
const eventSeq = (id: string) => (/^evt_fake(\d{10})$/.test(id) ? Number(id.slice(8)) : -1);

/**
 * A payload in an older API version. The one difference modelled: before 2025-03-31.basil a subscription
 * carried its billing period itself and its items did not (docs.stripe.com/changelog/basil/2025-03-31/
 * deprecate-subscription-current-period-start-and-end: "current_period_start and current_period_end fields
 * are no longer available on the subscription resource"; items "now track their respective billing periods
 * directly instead of as a top-level shared billing period"). Before basil every item shared one period,
 * so the first item's is the subscription's. Other version differences are not modelled.
 */
function renderForVersion(payload: Record<string, unknown>, apiVersion: string): Record<string, unknown> {
  if (payload.object !== 'subscription' || apiVersion.slice(0, 10) >= '2025-03-31') return payload;
  const items = payload.items as Stripe.ApiList<Stripe.SubscriptionItem>;
  const first = items.data[0];
  const data = items.data.map(({ current_period_start: _s, current_period_end: _e, ...rest }) => rest);
  return { ...payload, current_period_start: first?.current_period_start ?? null, current_period_end: first?.current_period_end ?? null, items: { ...items, data } };
}

/**
 * The fake's data. Builders return the live stored object: mutating it changes what the API serves.
 * `created` is read-only once stored (pass it to the builder instead), because list order and the
 * indexes behind pagination are derived from it.
 */
export class StripeStore {
  /** The mode every object is created in: true for a live-mode key's store (see the header). */
  readonly livemode: boolean;
  readonly charges: Stripe.Charge[] = [];
  readonly subscriptions: Stripe.Subscription[] = [];
  readonly balanceTransactions = new Map<string, Stripe.BalanceTransaction>();
  readonly discounts = new Map<string, Stripe.Discount>();
  readonly coupons = new Map<string, Stripe.Coupon>();
  /** Disputes, in insertion order (add through addDispute). */
  readonly disputes: Stripe.Dispute[] = [];
  /** Invoices (only the latest invoices that subscriptions were given), by id. */
  readonly invoices = new Map<string, Stripe.Invoice>();
  /** A multi-currency price's currency options, kept off the price: the API sends them only when expanded. */
  private readonly optionsByPrice = new Map<string, Record<string, Stripe.Price.CurrencyOptions>>();
  /** Every price an item references, by id (the objects the items embed). */
  private readonly prices = new Map<string, Stripe.Price>();
  /** A tiered price's tiers, kept off the price object: the API sends them only when expanded. */
  private readonly tiersByPrice = new Map<string, Stripe.Price.Tier[]>();
  /** Every product a price references, by id. */
  private readonly products = new Map<string, Stripe.Product>();
  /** The same products as a list, for the list endpoint's ordered view. */
  private get productList(): Stripe.Product[] {
    if (this.productListCache.length !== this.products.size) this.productListCache = [...this.products.values()];
    return this.productListCache;
  }
  private productListCache: Stripe.Product[] = [];

  /** Live and deleted customers, in insertion order (deleted ones keep their place for cursors). */
  private readonly allCustomers: Stripe.Customer[] = [];
  private readonly deletedIds = new Set<string>();
  private readonly byId = new Map<string, Stripe.Customer | Stripe.Charge | Stripe.Subscription | Stripe.Dispute>();
  private readonly itemsBySubscription = new Map<string, Stripe.SubscriptionItem[]>();
  private readonly counters = new Map<string, number>();
  private readonly viewCache = new Map<unknown[], { length: number; view: OrderedView<never> }>();
  private clock = 0;

  /** `livemode` default false (test mode); startFakeStripe derives it from the key. */
  constructor(opts: { livemode?: boolean; recordSeedEvents?: boolean; eventApiVersion?: string; now?: number } = {}) {
    this.livemode = opts.livemode ?? false;
    this.recordSeedEvents = opts.recordSeedEvents ?? true;
    if (opts.eventApiVersion !== undefined) this.eventApiVersion = opts.eventApiVersion;
    if (opts.now !== undefined) this.setNow(opts.now);
  }

  /** Customers that are not deleted, oldest first (a copy: add through addCustomer). */
  get customers(): Stripe.Customer[] {
    return this.allCustomers.filter((c) => !this.deletedIds.has(c.id));
  }

  addCustomer(p: CustomerInput = {}): Stripe.Customer {
    const created = p.created ?? this.tick();
    const id = this.claimId(p.id, 'cus');
    const customer: Stripe.Customer = {
      id,
      object: 'customer',
      address: null,
      balance: 0,
      created,
      currency: null,
      default_source: null,
      delinquent: p.delinquent === undefined ? false : p.delinquent === 'absent' ? null : p.delinquent,
      description: p.description ?? null,
      discount: p.discount ? this.buildDiscount(p.discount, null, id, created, 'usd', null, 'customer') : null,
      email: p.email ?? null,
      invoice_prefix: id.slice(-8).toUpperCase(),
      invoice_settings: { custom_fields: null, default_payment_method: null, footer: null, rendering_options: null },
      livemode: this.livemode,
      metadata: { ...p.metadata },
      name: p.name ?? null,
      next_invoice_sequence: 1,
      phone: null,
      preferred_locales: [],
      shipping: null,
      tax_exempt: 'none',
      test_clock: null,
    };
    if (p.delinquent === 'absent') delete customer.delinquent;
    this.allCustomers.push(freezeCreated(customer));
    this.byId.set(id, customer);
    if (this.recordSeedEvents) {
      this.record('customer.created', customer, created);
      if (customer.discount) this.record('customer.discount.created', customer.discount, created);
    }
    return customer;
  }

  /**
   * Deletes like Stripe: the customer leaves the list, GET /v1/customers/:id answers the deleted stub,
   * charges keep referencing it, and its subscriptions that have not ended are canceled immediately
   * (canceled_at = ended_at = `at`, default the store clock's next tick). Records
   * customer.subscription.deleted for each ("Occurs whenever a customer's subscription ends") and then
   * customer.deleted ("Occurs whenever a customer is deleted"; types Events.d.ts), the customer's payload
   * as it was.
   */
  deleteCustomer(id: string, opts: EventOptions = {}): void {
    const customer = this.customer(id);
    if (this.deletedIds.has(id)) throw new Error(`fake-stripe: customer ${id} is already deleted`);
    const now = this.eventTime(opts.at, customer.created);
    this.deletedIds.add(id);
    for (const sub of this.subscriptions) {
      if (sub.customer !== id || sub.status === 'canceled' || sub.status === 'incomplete_expired') continue;
      this.freeze(sub);
      sub.status = 'canceled';
      sub.canceled_at = now;
      sub.ended_at = now;
      sub.cancellation_details = { comment: null, feedback: null, feedback_option: null, reason: 'cancellation_requested' };
      this.record('customer.subscription.deleted', sub, now, opts);
    }
    this.record('customer.deleted', customer, now, opts);
  }

  isDeleted(customerId: string): boolean {
    return this.deletedIds.has(customerId);
  }

  addCharge(p: ChargeInput): Stripe.Charge {
    if (p.customer !== null) this.customer(p.customer);
    const created = p.created ?? this.tick();
    const id = this.claimId(undefined, 'ch');
    const status = p.status ?? 'succeeded';
    const currency = p.currency.toLowerCase();
    const uncaptured = p.captured === false;
    if (uncaptured && (status !== 'succeeded' || p.settlement || (p.amount_captured ?? 0) !== 0)) {
      throw new Error(`fake-stripe: an uncaptured charge is status 'succeeded' with amount_captured 0 and no settlement`);
    }
    // An uncaptured authorisation moved no money: amount_captured 0 (API-NOTES, Charges section).
    const amountCaptured = p.amount_captured ?? (status === 'succeeded' && !uncaptured ? p.amount : 0);
    const amountRefunded = p.amount_refunded ?? 0;
    if (amountRefunded > amountCaptured) throw new Error(`fake-stripe: ${id} refunds more than it captured`);
    if (p.decline !== undefined && status !== 'failed') throw new Error('fake-stripe: only a failed charge has a decline');
    if (p.decline !== undefined && !Object.hasOwn(CHARGE_DECLINES, p.decline)) throw new Error(`fake-stripe: unknown decline ${p.decline}`);
    if (p.risk !== undefined && (status === 'failed' || !Object.hasOwn(CHARGE_RISKS, p.risk))) throw new Error('fake-stripe: risk is for a succeeded or pending charge: normal, elevated, not_assessed or unknown');
    if (p.outcome !== undefined && (p.outcome !== null || p.decline !== undefined || p.risk !== undefined)) throw new Error('fake-stripe: outcome can only be null, without decline or risk');

    // The balance transaction describes "the impact of this charge on your account balance" (types
    // Charges.d.ts); an uncaptured authorisation has none, so it gets no balance transaction (inferred).
    let balanceTransaction: string | null = null;
    if (status === 'succeeded' && !uncaptured) {
      const settlementCurrency = (p.settlement?.currency ?? currency).toLowerCase();
      const amount = p.settlement?.amount ?? amountCaptured;
      const exchangeRate =
        p.settlement?.exchange_rate ??
        (settlementCurrency === currency ? null : impliedExchangeRate(amountCaptured, currency, amount, settlementCurrency));
      const txn = this.chargeTransaction(id, amount, settlementCurrency, exchangeRate, created);
      this.balanceTransactions.set(txn.id, txn);
      balanceTransaction = txn.id;
    }

    const failed = status === 'failed';
    const decline = failed ? CHARGE_DECLINES[p.decline ?? 'generic_decline'] : null;
    const { failure_code: failureCode = null, failure_message: failureMessage = null, ...declineOutcome } = decline ?? {};
    const outcome: Stripe.Charge.Outcome | null =
      p.outcome === null
        ? null
        : { advice_code: null, network_advice_code: null, network_decline_code: null, ...(decline ? declineOutcome : CHARGE_RISKS[p.risk ?? 'normal']) } as Stripe.Charge.Outcome;
    const charge: Stripe.Charge = {
      id,
      object: 'charge',
      amount: p.amount,
      amount_captured: amountCaptured,
      amount_refunded: amountRefunded,
      application: null,
      application_fee: null,
      application_fee_amount: null,
      balance_transaction: balanceTransaction,
      billing_details: { address: null, email: null, name: null, phone: null, tax_id: null },
      calculated_statement_descriptor: 'FAKE STRIPE',
      captured: !failed && !uncaptured,
      created,
      currency,
      customer: p.customer,
      description: null,
      disputed: p.disputed ?? false,
      failure_balance_transaction: null,
      failure_code: failureCode,
      failure_message: failureMessage,
      fraud_details: {},
      livemode: this.livemode,
      metadata: {},
      on_behalf_of: null,
      outcome,
      paid: status === 'succeeded',
      payment_intent: null,
      payment_method: null,
      payment_method_details: null,
      receipt_email: null,
      receipt_number: null,
      receipt_url: null,
      refunded: amountCaptured > 0 && amountRefunded === amountCaptured,
      review: null,
      shipping: null,
      source: null,
      source_transfer: null,
      statement_descriptor: null,
      statement_descriptor_suffix: null,
      status,
      transfer_data: null,
      transfer_group: null,
    };
    this.charges.push(freezeCreated(charge));
    this.byId.set(id, charge);
    // Types Events.d.ts: charge.succeeded "Occurs whenever a charge is successful" (an authorisation that
    // succeeded uncaptured too: charge.captured comes later), charge.pending "Occurs whenever a pending
    // charge is created", charge.failed "Occurs whenever a failed charge attempt occurs".
    if (this.recordSeedEvents) this.record(status === 'succeeded' ? 'charge.succeeded' : status === 'pending' ? 'charge.pending' : 'charge.failed', charge, created);
    return charge;
  }

  /**
   * A (partial) refund: raises amount_refunded; `refunded` turns true once all captured money is back.
   * Records charge.refunded ("Occurs whenever a charge is refunded, including partial refunds").
   */
  refundCharge(id: string, amount: number, opts: EventOptions = {}): void {
    const charge = this.chargeById(id);
    if (!(amount > 0) || charge.amount_refunded + amount > charge.amount_captured) {
      throw new Error(`fake-stripe: cannot refund ${amount} of ${id} (captured ${charge.amount_captured}, refunded ${charge.amount_refunded})`);
    }
    const at = this.eventTime(opts.at, charge.created);
    this.freeze(charge);
    charge.amount_refunded += amount;
    charge.refunded = charge.amount_refunded === charge.amount_captured;
    this.record('charge.refunded', charge, at, opts);
  }

  /**
   * Captures an uncaptured authorisation (all of it, or `amount` of it: a partial capture): captured true,
   * amount_captured, and its balance transaction (as addCharge makes one, in the charge's currency).
   * Records charge.captured ("Occurs whenever a previously uncaptured charge is captured").
   */
  captureCharge(id: string, opts: EventOptions & { amount?: number } = {}): void {
    const charge = this.chargeById(id);
    if (charge.status !== 'succeeded' || charge.captured) throw new Error(`fake-stripe: ${id} is not an uncaptured authorisation`);
    const amount = opts.amount ?? charge.amount;
    if (!(Number.isInteger(amount) && amount > 0 && amount <= charge.amount)) throw new Error(`fake-stripe: cannot capture ${amount} of ${id}`);
    const at = this.eventTime(opts.at, charge.created);
    this.freeze(charge);
    const txn = this.chargeTransaction(id, amount, charge.currency, null, at);
    this.balanceTransactions.set(txn.id, txn);
    charge.captured = true;
    charge.amount_captured = amount;
    charge.balance_transaction = txn.id;
    this.record('charge.captured', charge, at, opts);
  }

  /**
   * Changes a charge's description or metadata (ChargeUpdateParams). Records charge.updated ("Occurs
   * whenever a charge description or metadata is updated") with previous_attributes.
   */
  updateCharge(id: string, patch: { description?: string | null; metadata?: Record<string, string> }, opts: EventOptions = {}): void {
    const charge = this.chargeById(id);
    this.update(charge, patch as Record<string, unknown>, 'charge.updated', opts);
  }

  /**
   * A dispute on a charge, and `disputed: true` on the charge (types Charges.d.ts `disputed`). The
   * dispute's currency is the charge's; `amount_refunded` is left alone (API-NOTES: lost disputes are
   * not reflected in amount_refunded). Its `balance_transactions` (types: "zero, one, or two balance
   * transactions that show funds withdrawn and reinstated") are in the charge's settlement currency:
   * - warning_* (inquiries): none. stripe.com/docs/disputes: "Unlike a formal dispute, no funds have
   *   been withdrawn and the payment it relates to can still be refunded."
   * - prevented: none (inferred: a prevented dispute never became a chargeback, see the report).
   * - needs_response, under_review, appeal_*, lost: one withdrawal (docs.stripe.com/disputes/how-disputes-work:
   *   Stripe "Debits the disputed amount, plus a dispute fee, from your Stripe account").
   * - won: the withdrawal and a reinstatement of the amount (stripe.com/docs/disputes: "If the dispute
   *   is found in your favor, the disputed amount ... is returned"), dated 30 days later (a fake choice).
   * Both are type 'adjustment', reporting_category 'dispute' / 'dispute_reversal'
   * (docs.stripe.com/reports/reporting-categories: type=adjustment is split into "disputes, dispute reversals").
   */
  addDispute(p: DisputeInput): Stripe.Dispute {
    const charge = this.byId.get(p.charge);
    if (charge?.object !== 'charge') throw new Error(`fake-stripe: no such charge ${p.charge}`);
    if (charge.status !== 'succeeded' || !charge.captured || charge.amount_captured === 0 || typeof charge.balance_transaction !== 'string') {
      throw new Error(`fake-stripe: ${charge.id} moved no money and cannot be disputed`);
    }
    if (!(DISPUTE_STATUSES as readonly string[]).includes(p.status)) throw new Error(`fake-stripe: unknown dispute status ${p.status}`);
    const amount = p.amount ?? charge.amount_captured;
    if (!Number.isInteger(amount) || amount <= 0) throw new Error(`fake-stripe: a dispute amount must be a positive integer, got ${amount}`);
    const created = p.created ?? this.tick();
    if (created < charge.created) throw new Error(`fake-stripe: a dispute cannot predate its charge ${charge.id}`);
    const id = this.claimId(undefined, 'dp');

    const chargeTxn = this.balanceTransactions.get(charge.balance_transaction)!;
    const settlementCurrency = chargeTxn.currency;
    const settled =
      p.settlement?.amount ??
      (settlementCurrency === charge.currency || chargeTxn.exchange_rate === null
        ? amount
        : Math.round((amount / minorUnitsPerMajor(charge.currency)) * chargeTxn.exchange_rate * minorUnitsPerMajor(settlementCurrency)));
    const exchangeRate =
      settlementCurrency === charge.currency
        ? null
        : (p.settlement?.exchange_rate ??
          (p.settlement ? impliedExchangeRate(amount, charge.currency, settled, settlementCurrency) : chargeTxn.exchange_rate));
    const fee = p.fee ?? 0;
    const txn = (sign: 1 | -1, at: number): Stripe.BalanceTransaction => {
      const withdrawal = sign === -1;
      const t: Stripe.BalanceTransaction = {
        id: this.claimId(undefined, 'txn'),
        object: 'balance_transaction',
        amount: sign * settled,
        available_on: at + 2 * DAY,
        balance_type: 'payments',
        created: at,
        currency: settlementCurrency,
        description: `Chargeback ${withdrawal ? 'withdrawal' : 'reversal'} for ${charge.id}`,
        exchange_rate: exchangeRate,
        fee: withdrawal ? fee : 0,
        fee_details: withdrawal && fee > 0 ? [{ amount: fee, application: null, currency: settlementCurrency, description: 'Dispute fee', type: 'stripe_fee' }] : [],
        net: sign * settled - (withdrawal ? fee : 0),
        reporting_category: withdrawal ? 'dispute' : 'dispute_reversal',
        source: id,
        status: 'available',
        type: 'adjustment',
      };
      this.balanceTransactions.set(t.id, t);
      return t;
    };
    const inquiry = p.status.startsWith('warning_');
    const transactions: Stripe.BalanceTransaction[] = [];
    if (!inquiry && p.status !== 'prevented') transactions.push(txn(-1, created));
    if (p.status === 'won') transactions.push(txn(1, created + 30 * DAY));

    const dispute: Stripe.Dispute = {
      id,
      object: 'dispute',
      amount,
      balance_transactions: transactions,
      charge: charge.id,
      created,
      currency: charge.currency,
      enhanced_eligibility_types: [],
      evidence: {
        access_activity_log: null,
        billing_address: null,
        cancellation_policy: null,
        cancellation_policy_disclosure: null,
        cancellation_rebuttal: null,
        customer_communication: null,
        customer_email_address: null,
        customer_name: null,
        customer_purchase_ip: null,
        customer_signature: null,
        duplicate_charge_documentation: null,
        duplicate_charge_explanation: null,
        duplicate_charge_id: null,
        enhanced_evidence: {},
        product_description: null,
        receipt: null,
        refund_policy: null,
        refund_policy_disclosure: null,
        refund_refusal_explanation: null,
        service_date: null,
        service_documentation: null,
        shipping_address: null,
        shipping_carrier: null,
        shipping_date: null,
        shipping_documentation: null,
        shipping_tracking_number: null,
        uncategorized_file: null,
        uncategorized_text: null,
      },
      evidence_details: {
        due_by: created + 7 * DAY, // a fake choice: the real deadline depends on the card network
        enhanced_eligibility: {},
        has_evidence: false,
        past_due: false,
        submission_count: 0,
        submission_method: 'not_submitted',
      },
      intended_submission_method: null,
      // Inquiries can still be refunded, formal disputes cannot (stripe.com/docs/disputes, quoted above).
      is_charge_refundable: inquiry && charge.amount_refunded < charge.amount_captured,
      livemode: this.livemode,
      metadata: {},
      payment_intent: charge.payment_intent,
      reason: p.reason ?? 'general',
      status: p.status,
    };
    this.freeze(charge);
    charge.disputed = true;
    this.disputes.push(freezeCreated(dispute));
    this.byId.set(id, dispute);
    // charge.dispute.created "Occurs whenever a customer disputes a charge with their bank";
    // charge.dispute.funds_withdrawn "Occurs when funds are removed from your account due to a dispute"
    // (types Events.d.ts): a formal dispute's withdrawal happens when it is opened (see above).
    if (this.recordSeedEvents) {
      this.record('charge.dispute.created', dispute, created);
      if (transactions.length > 0) this.record('charge.dispute.funds_withdrawn', dispute, created);
    }
    return dispute;
  }

  /**
   * Moves an open dispute to another open status with the same money (an inquiry stays an inquiry, a
   * formal dispute stays formal: withdrawals are not modelled as changing). Records charge.dispute.updated
   * ("Occurs when the dispute is updated (usually with evidence)") with previous_attributes.
   */
  updateDispute(id: string, status: DisputeStatus, opts: EventOptions = {}): void {
    const dispute = this.disputeById(id);
    const inquiry = (s: string) => s === 'warning_needs_response' || s === 'warning_under_review';
    const formal = (s: string) => (OPEN_FORMAL as readonly string[]).includes(s);
    if (!((inquiry(dispute.status) && inquiry(status)) || (formal(dispute.status) && formal(status)))) {
      throw new Error(`fake-stripe: updateDispute moves between open statuses of one kind; ${dispute.status} -> ${status} is not modelled (closeDispute closes)`);
    }
    this.update(dispute, { status }, 'charge.dispute.updated', opts);
  }

  /**
   * Closes an open dispute: a formal one as won or lost, an inquiry as warning_closed. Records
   * charge.dispute.closed ("Occurs when a dispute is closed and the dispute status changes to lost,
   * warning_closed, or won"); a won one also gets its reinstatement balance transaction (at `at`) and
   * charge.dispute.funds_reinstated ("Occurs when funds are reinstated to your account after a dispute is
   * closed"). Neither is a `*.updated` event, so neither carries previous_attributes (types Event.Data).
   */
  closeDispute(id: string, status: 'won' | 'lost' | 'warning_closed', opts: EventOptions = {}): void {
    const dispute = this.disputeById(id);
    const formal = (OPEN_FORMAL as readonly string[]).includes(dispute.status);
    const inquiry = dispute.status === 'warning_needs_response' || dispute.status === 'warning_under_review';
    if (!(status === 'warning_closed' ? inquiry : formal)) throw new Error(`fake-stripe: a ${dispute.status} dispute cannot close as ${status}`);
    const at = this.eventTime(opts.at, dispute.created);
    this.freeze(dispute);
    dispute.status = status;
    dispute.is_charge_refundable = false;
    this.record('charge.dispute.closed', dispute, at, opts);
    if (status === 'won') {
      const withdrawal = dispute.balance_transactions[0]!;
      const reinstated: Stripe.BalanceTransaction = {
        ...withdrawal,
        id: this.claimId(undefined, 'txn'),
        amount: -withdrawal.amount,
        available_on: at + 2 * DAY,
        created: at,
        description: withdrawal.description?.replace('withdrawal', 'reversal') ?? null,
        fee: 0,
        fee_details: [],
        net: -withdrawal.amount,
        reporting_category: 'dispute_reversal',
      };
      this.balanceTransactions.set(reinstated.id, reinstated);
      this.freeze(dispute);
      dispute.balance_transactions = [...dispute.balance_transactions, reinstated];
      this.record('charge.dispute.funds_reinstated', dispute, at, opts);
    }
  }

  addSubscription(p: SubscriptionInput): Stripe.Subscription {
    this.customer(p.customer);
    if (this.deletedIds.has(p.customer)) throw new Error(`fake-stripe: customer ${p.customer} is deleted`);
    if (p.items.length === 0) throw new Error('fake-stripe: a subscription needs at least one item');
    const created = p.created ?? this.tick();
    const id = this.claimId(undefined, 'sub');
    const currency = (p.currency ?? 'usd').toLowerCase();
    const status = p.status ?? 'active';
    const periodStart = p.current_period_start ?? created;
    if (!(Number.isInteger(periodStart) && periodStart >= created)) throw new Error(`fake-stripe: current_period_start must be a unix time from created (${created}) on`);
    const items = p.items.map((item) => this.buildItem(item, id, p.customer, created, currency, periodStart));
    const discounts = (p.discounts ?? []).map((d) => this.buildDiscount(d, id, p.customer, created, currency, null, 'subscription'));
    const trialing = status === 'trialing';
    const classic = (p.billing_mode ?? 'flexible') === 'classic';

    // A scheduled cancellation (see SubscriptionInput.cancel_at / cancel_at_period_end for the sources).
    const atPeriodEnd = p.cancel_at_period_end ?? false;
    let cancelAt = p.cancel_at ?? null;
    if (atPeriodEnd && classic) {
      // Classic billing mode: cancel_at is the period end; the earliest item period end when they differ.
      const periodEnd = Math.min(...items.map((i) => i.current_period_end));
      if (p.cancel_at !== undefined && p.cancel_at !== periodEnd) {
        throw new Error(`fake-stripe: with cancel_at_period_end, cancel_at is the period end ${periodEnd}; leave cancel_at out`);
      }
      cancelAt = periodEnd;
    }
    if (cancelAt !== null && !(Number.isInteger(cancelAt) && cancelAt > created)) {
      throw new Error(`fake-stripe: cancel_at must be a unix time after the subscription's created (${created}), got ${cancelAt}`);
    }
    if (cancelAt !== null && status === 'incomplete_expired') {
      throw new Error('fake-stripe: an incomplete_expired subscription has no scheduled cancellation');
    }
    // Canceled: without a schedule, canceled (and ended) 30 days after creation (a fake choice). With
    // one, it ended at cancel_at, and canceled_at is when the cancellation was requested (types
    // `canceled_at`: "If the subscription was canceled with cancel_at_period_end, canceled_at will
    // reflect the time of the most recent update request, not the end of the subscription period"):
    // here the creation, where it was scheduled (SubscriptionCreateParams takes both fields).
    const canceled = status === 'canceled';
    if (!canceled && (p.ended_at !== undefined || p.canceled_at !== undefined)) throw new Error('fake-stripe: ended_at and canceled_at are for status canceled');
    if (p.ended_at !== undefined && (!(Number.isInteger(p.ended_at) && p.ended_at > created) || (cancelAt !== null && p.ended_at !== cancelAt))) {
      throw new Error(`fake-stripe: ended_at must be after created (${created}), and equal cancel_at when scheduled`);
    }
    const endedAt = canceled ? (p.ended_at ?? cancelAt ?? created + 30 * DAY) : status === 'incomplete_expired' ? created + DAY : null;
    const canceledAt = canceled ? (p.canceled_at ?? (cancelAt === null ? endedAt : created)) : null;
    if (canceledAt !== null && !(canceledAt >= created && canceledAt <= endedAt!)) throw new Error('fake-stripe: canceled_at must lie between created and ended_at');
    // The trial (see SubscriptionInput.trial). Classic billing mode: a cancel_at before trial_end pulls
    // trial_end to it (compare page, quoted above).
    const trialSpec = p.trial === undefined ? (trialing ? { end: created + 14 * DAY } : null) : p.trial;
    if (trialing && trialSpec === null) throw new Error('fake-stripe: a trialing subscription has a trial');
    const trialStart = trialSpec ? (trialSpec.start ?? created) : null;
    if (trialSpec && !(Number.isInteger(trialSpec.end) && trialSpec.end > trialStart!)) throw new Error('fake-stripe: a trial ends after it starts');
    const trialEnd = trialSpec ? (trialing && classic && cancelAt !== null && cancelAt < trialSpec.end ? cancelAt : trialSpec.end) : null;
    const latestInvoice = p.latest_invoice ? this.buildInvoice(p.latest_invoice, id, p.customer, created, currency) : null;

    const subscription: Stripe.Subscription = {
      id,
      object: 'subscription',
      application: null,
      application_fee_percent: null,
      automatic_tax: { disabled_reason: null, enabled: p.automatic_tax ?? false, liability: p.automatic_tax ? { type: 'self' } : null },
      billing_cycle_anchor: created,
      billing_cycle_anchor_config: null,
      billing_mode: classic ? { flexible: null, type: 'classic' } : { flexible: { proration_discounts: 'included' }, type: 'flexible' },
      billing_schedules: [],
      billing_thresholds: null,
      cancel_at: cancelAt,
      cancel_at_period_end: atPeriodEnd,
      canceled_at: canceledAt,
      cancellation_details: {
        comment: null,
        feedback: null,
        feedback_option: null,
        reason: canceled ? 'cancellation_requested' : null,
      },
      collection_method: 'charge_automatically',
      created,
      currency,
      customer: p.customer,
      customer_account: null,
      days_until_due: null,
      default_payment_method: null,
      default_source: null,
      default_tax_rates: (p.default_tax_rates ?? []).map((r) => this.buildTaxRate(r, created)),
      description: null,
      discounts: discounts.map((d) => d.id),
      ended_at: endedAt,
      invoice_settings: { account_tax_ids: null, custom_fields: null, description: null, footer: null, issuer: { type: 'self' } },
      items: itemList(id, items),
      latest_invoice: latestInvoice?.id ?? null,
      livemode: this.livemode,
      managed_payments: null,
      metadata: {},
      next_pending_invoice_item_invoice: null,
      on_behalf_of: null,
      pause_collection: p.pause_collection ? { behavior: p.pause_collection.behavior, resumes_at: p.pause_collection.resumes_at ?? null } : null,
      payment_settings: { payment_method_options: null, payment_method_types: null, save_default_payment_method: 'off' },
      pending_invoice_item_interval: null,
      pending_setup_intent: null,
      pending_update: null,
      schedule: null,
      start_date: created,
      status,
      test_clock: null,
      transfer_data: null,
      trial_end: trialEnd,
      trial_settings: { end_behavior: { billing_cycle_anchor: null, missing_payment_method: 'create_invoice' } },
      trial_start: trialStart,
    };
    this.itemsBySubscription.set(id, items);
    this.subscriptions.push(freezeCreated(subscription));
    this.byId.set(id, subscription);
    // Types Events.d.ts customer.subscription.created: "Occurs whenever a customer is signed up for a new plan".
    if (this.recordSeedEvents) this.record('customer.subscription.created', subscription, created);
    return subscription;
  }

  /** Every item of a subscription (the live objects), in the order the API lists them. */
  itemsOf(subscriptionId: string): Stripe.SubscriptionItem[] {
    const items = this.itemsBySubscription.get(subscriptionId);
    if (!items) throw new Error(`fake-stripe: no such subscription ${subscriptionId}`);
    return items;
  }

  /** A stored price (every item's price is stored); throws for an unknown id. */
  price(id: string): Stripe.Price {
    const price = this.prices.get(id);
    if (!price) throw new Error(`fake-stripe: no such price ${id}`);
    return price;
  }

  /** A stored product (every price's product is stored); throws for an unknown id. */
  product(id: string): Stripe.Product {
    const product = this.products.get(id);
    if (!product) throw new Error(`fake-stripe: no such product ${id}`);
    return product;
  }

  /** A tiered price's tiers (what `expand[]=tiers` shows); undefined for a per-unit price. */
  tiersOf(priceId: string): Stripe.Price.Tier[] | undefined {
    return this.tiersByPrice.get(priceId);
  }

  /** A multi-currency price's options (what `expand[]=currency_options` shows); undefined for a single-currency price. */
  currencyOptionsOf(priceId: string): Record<string, Stripe.Price.CurrencyOptions> | undefined {
    return this.optionsByPrice.get(priceId);
  }

  /** A customer, deleted or not; throws for an unknown id. */
  customer(id: string): Stripe.Customer {
    const customer = this.byId.get(id);
    if (customer?.object !== 'customer') throw new Error(`fake-stripe: no such customer ${id}`);
    return customer;
  }

  // -- events (GET /v1/events; see "Events" in the header) ----------------------------------------

  /** Whether the seeding builders record their creation events (FakeStripeOptions.recordSeedEvents). Settable at any time. */
  recordSeedEvents: boolean;
  /**
   * The API version events are recorded in from now on (types Events.d.ts `api_version`: "The Stripe API
   * version used to render `data` when the event was created. The contents of `data` never change").
   * Settable: set an older version, record, set it back. Default API_VERSION.
   */
  eventApiVersion: string = API_VERSION;
  private fixedNow: number | null = null;
  // The events, kept small (a data set of 650,000 objects records as many events): columns indexed by the
  // event's seq (1, 2, ...; its id derives from it); the payload is the live object (evTarget) until that
  // object changes, then its snapshot; the rarely set fields sit in evExtra.
  private evCount = 0;
  private evCreated = new Float64Array(1024);
  private evType = new Uint8Array(1024);
  private readonly evTarget: StoredObject[] = [];
  private readonly evSnapshot = new Map<number, Record<string, unknown>>();
  private readonly evExtra = new Map<number, EventExtra>();
  /** The seqs by (created, seq) ascending (the first evCount entries), while evOrderValid; evPos[seq] is a seq's place. */
  private evOrder = new Int32Array(1024);
  private evPos = new Int32Array(1024);
  private evOrderValid = true;
  private newestEventAt = 0;
  /** Set while a mutation helper builds objects whose creation it records (coupons of a new discount). */
  private recordingMutation = false;
  /** When a subscription's cancellation was requested (updateSubscription with cancel_at / cancel_at_period_end). */
  private readonly cancellationRequestedAt = new Map<string, number>();

  /**
   * Fixes the store's present (null: back to the clock). The present decides the events' 30-day window
   * and is when mutation helpers act by default. Without it the present is the store's clock: the later of
   * its last tick and the newest event (a fake choice: the account's latest activity is "now").
   */
  setNow(unix: number | null): void {
    if (unix !== null && !Number.isInteger(unix)) throw new Error('fake-stripe: now is a unix time in seconds');
    this.fixedNow = unix;
  }

  now(): number {
    return this.fixedNow ?? Math.max(BASE_TIME + this.clock * 60, this.newestEventAt);
  }

  /** How many events the store has recorded. */
  get recordedEventCount(): number {
    return this.evCount;
  }

  /** Every recorded event as GET /v1/events renders it, oldest first, retention ignored (for tests). */
  recordedEvents(): Stripe.Event[] {
    return Array.from({ length: this.evCount }, (_, i) => this.renderEvent(i + 1));
  }

  /** Changes a customer's email, name, description, metadata or delinquent; records customer.updated ("Occurs whenever any property of a customer changes") with previous_attributes. */
  updateCustomer(id: string, patch: { email?: string | null; name?: string | null; description?: string | null; metadata?: Record<string, string>; delinquent?: boolean | null }, opts: EventOptions = {}): void {
    this.update(this.liveCustomer(id), patch as Record<string, unknown>, 'customer.updated', opts);
  }

  /**
   * Attaches a coupon to a customer as its discount (a new coupon, as every discount here has its own).
   * Records coupon.created, then customer.discount.created ("Occurs whenever a coupon is attached to a
   * customer") or, when it had one, customer.discount.updated ("Occurs whenever a customer is switched from
   * one coupon to another"), then customer.updated (the discount is a property of the customer: "Occurs
   * whenever any property of a customer changes") with previous_attributes {discount}. Whether Stripe sends
   * customer.updated beside the discount event is not documented; previous_attributes of
   * customer.discount.updated are left out (their shape is not documented).
   */
  attachCustomerDiscount(id: string, spec: DiscountInput, opts: EventOptions = {}): Stripe.Discount {
    const customer = this.liveCustomer(id);
    const at = this.eventTime(opts.at, customer.created);
    this.recordingMutation = true;
    let discount: Stripe.Discount;
    try {
      discount = this.buildDiscount(spec, null, id, at, 'usd', null, 'customer');
    } finally {
      this.recordingMutation = false;
    }
    const had = customer.discount;
    this.record(had ? 'customer.discount.updated' : 'customer.discount.created', discount, at, opts);
    this.update(customer, { discount }, 'customer.updated', { ...opts, at });
    return discount;
  }

  /** Removes a customer's discount: customer.discount.deleted ("Occurs whenever a coupon is removed from a customer"), then customer.updated {discount}. */
  removeCustomerDiscount(id: string, opts: EventOptions = {}): void {
    const customer = this.liveCustomer(id);
    const discount = customer.discount;
    if (!discount) throw new Error(`fake-stripe: customer ${id} has no discount`);
    const at = this.eventTime(opts.at, customer.created);
    this.record('customer.discount.deleted', discount, at, opts);
    this.update(customer, { discount: null }, 'customer.updated', { ...opts, at });
  }

  /**
   * Changes a subscription (types SubscriptionUpdateParams): `status` to active, past_due, unpaid or paused
   * (canceled: cancelSubscription), `cancel_at_period_end`, `cancel_at` (a future time, or null),
   * `pause_collection`, `metadata`, `trial_end` ('now' ends a trial: status active, trial_end = then; a
   * time moves it). Records customer.subscription.updated ("Occurs whenever a subscription changes (e.g.,
   * switching from one plan to another, or changing the status from trial to active)") with
   * previous_attributes; entering status paused also records customer.subscription.paused, leaving it
   * customer.subscription.resumed ("Only applies when subscriptions enter status=paused, not when payment
   * collection is paused"). Scheduling follows addSubscription: classic billing mode sets cancel_at to the
   * earliest item period end with cancel_at_period_end, flexible mode leaves it.
   */
  updateSubscription(
    id: string,
    patch: {
      status?: 'active' | 'past_due' | 'unpaid' | 'paused';
      cancel_at_period_end?: boolean;
      cancel_at?: number | null;
      pause_collection?: { behavior: 'keep_as_draft' | 'mark_uncollectible' | 'void'; resumes_at?: number | null } | null;
      metadata?: Record<string, string>;
      trial_end?: number | 'now';
    },
    opts: EventOptions = {},
  ): void {
    const sub = this.subscriptionById(id);
    if (ENDED_STATUSES.has(sub.status)) throw new Error(`fake-stripe: ${id} has ended (${sub.status})`);
    const at = this.eventTime(opts.at, sub.created);
    const next: Record<string, unknown> = {};
    if (patch.status !== undefined) {
      if (!['active', 'past_due', 'unpaid', 'paused'].includes(patch.status)) throw new Error(`fake-stripe: updateSubscription does not set status ${String(patch.status)}`);
      next.status = patch.status;
    }
    if (patch.trial_end !== undefined) {
      if (sub.status !== 'trialing') throw new Error(`fake-stripe: ${id} is not trialing`);
      if (patch.trial_end === 'now') Object.assign(next, { trial_end: at, status: next.status ?? 'active' });
      else if (!(Number.isInteger(patch.trial_end) && patch.trial_end > at)) throw new Error('fake-stripe: trial_end must be a future unix time or now');
      else next.trial_end = patch.trial_end;
    }
    const classic = sub.billing_mode.type === 'classic';
    if (patch.cancel_at_period_end !== undefined) {
      next.cancel_at_period_end = patch.cancel_at_period_end;
      if (classic) next.cancel_at = patch.cancel_at_period_end ? Math.min(...this.itemsOf(id).map((i) => i.current_period_end)) : null;
    }
    if (patch.cancel_at !== undefined) {
      if (patch.cancel_at !== null && !(Number.isInteger(patch.cancel_at) && patch.cancel_at > at)) throw new Error('fake-stripe: cancel_at must be a future unix time');
      if (next.cancel_at !== undefined && next.cancel_at !== patch.cancel_at) throw new Error('fake-stripe: with cancel_at_period_end in classic mode, cancel_at is the period end');
      next.cancel_at = patch.cancel_at;
    }
    if (patch.pause_collection !== undefined) next.pause_collection = patch.pause_collection && { behavior: patch.pause_collection.behavior, resumes_at: patch.pause_collection.resumes_at ?? null };
    if (patch.metadata !== undefined) next.metadata = { ...patch.metadata };
    const wasPaused = sub.status === 'paused';
    if (next.cancel_at !== undefined || next.cancel_at_period_end === true) this.cancellationRequestedAt.set(id, at);
    if (!this.update(sub, next, 'customer.subscription.updated', { ...opts, at })) return;
    if (!wasPaused && sub.status === 'paused') this.record('customer.subscription.paused', sub, at, opts);
    if (wasPaused && sub.status !== 'paused') this.record('customer.subscription.resumed', sub, at, opts);
  }

  /**
   * An upgrade or downgrade: one item's quantity changes ("Changing the quantity", docs.stripe.com/
   * billing/subscriptions/quantities). Stripe records customer.subscription.updated ("Occurs whenever a
   * subscription changes (e.g., switching from one plan to another...)", types Events.d.ts), with the
   * items as they were in previous_attributes.
   */
  changeQuantity(subscriptionId: string, itemId: string, quantity: number, opts: EventOptions = {}): void {
    const sub = this.subscriptionById(subscriptionId);
    if (ENDED_STATUSES.has(sub.status)) throw new Error(`fake-stripe: ${subscriptionId} has ended (${sub.status})`);
    const item = this.itemsOf(subscriptionId).find((i) => i.id === itemId);
    if (!item) throw new Error(`fake-stripe: ${subscriptionId} has no item ${itemId}`);
    if (!(Number.isInteger(quantity) && quantity >= 0)) throw new Error('fake-stripe: a quantity is a whole number from 0');
    const at = this.eventTime(opts.at, sub.created);
    this.freeze(sub);
    const previous = { items: structuredClone(this.renderPayload(sub) as { items: unknown }).items };
    item.quantity = quantity;
    this.record('customer.subscription.updated', sub, at, opts, previous);
  }

  /** Pauses a subscription (status paused): updateSubscription(id, {status: 'paused'}). */
  pauseSubscription(id: string, opts: EventOptions = {}): void {
    this.updateSubscription(id, { status: 'paused' }, opts);
  }

  /** Resumes a paused subscription (status active): updateSubscription(id, {status: 'active'}). */
  resumeSubscription(id: string, opts: EventOptions = {}): void {
    if (this.subscriptionById(id).status !== 'paused') throw new Error(`fake-stripe: ${id} is not paused`);
    this.updateSubscription(id, { status: 'active' }, opts);
  }

  /**
   * Ends a subscription now (`at`): status canceled, ended_at = at, canceled_at = when its cancellation
   * was requested if it was scheduled (types `canceled_at`: "If the subscription was canceled with
   * cancel_at_period_end, canceled_at will reflect the time of the most recent update request"), else at.
   * Records customer.subscription.deleted ("Occurs whenever a customer's subscription ends").
   */
  cancelSubscription(id: string, opts: EventOptions = {}): void {
    const sub = this.subscriptionById(id);
    if (ENDED_STATUSES.has(sub.status)) throw new Error(`fake-stripe: ${id} has already ended (${sub.status})`);
    const at = this.eventTime(opts.at, sub.created);
    this.freeze(sub);
    const scheduled = sub.cancel_at !== null || sub.cancel_at_period_end;
    sub.status = 'canceled';
    sub.ended_at = at;
    sub.canceled_at = scheduled ? (this.cancellationRequestedAt.get(id) ?? sub.created) : at;
    sub.cancellation_details = { comment: null, feedback: null, feedback_option: null, reason: 'cancellation_requested' };
    this.record('customer.subscription.deleted', sub, at, opts);
  }

  /**
   * Records customer.subscription.trial_will_end for a trialing subscription: "Occurs three days before a
   * subscription's trial period is scheduled to end" (default `at`: trial_end - 3 days, not before now).
   * Automatic, so its request id is null by default (types Event.Request `id`: "If null, the event was
   * automatic (e.g., Stripe's automatic subscription handling)"). Nothing changes.
   */
  trialWillEnd(id: string, opts: EventOptions = {}): void {
    const sub = this.subscriptionById(id);
    if (sub.status !== 'trialing' || sub.trial_end === null) throw new Error(`fake-stripe: ${id} is not trialing`);
    this.record('customer.subscription.trial_will_end', sub, this.eventTime(opts.at ?? Math.max(sub.trial_end - 3 * DAY, sub.created), sub.created), opts);
  }

  /**
   * Changes a product's name, active flag, description or metadata (ProductUpdateParams); `updated` becomes
   * `at` (types Products.d.ts `updated`: "Time at which the object was last updated"). Records
   * product.updated ("Occurs whenever a product is updated") with previous_attributes. (No product.deleted:
   * "Deleting a product is only possible if it has no prices", docs api/products/delete, and every product
   * here has one.)
   */
  updateProduct(id: string, patch: { name?: string; active?: boolean; description?: string | null; metadata?: Record<string, string> }, opts: EventOptions = {}): void {
    const product = this.product(id);
    if (patch.name !== undefined && patch.name.trim() === '') throw new Error('fake-stripe: a product name cannot be empty');
    const at = this.eventTime(opts.at, product.created);
    this.update(product, { ...patch, updated: at } as Record<string, unknown>, 'product.updated', { ...opts, at }, ['updated']);
  }

  /** Renames a product: updateProduct(id, {name}). */
  renameProduct(id: string, name: string, opts: EventOptions = {}): void {
    this.updateProduct(id, { name }, opts);
  }

  /**
   * Changes a price's active flag, nickname, lookup_key or metadata (PriceUpdateParams: amounts cannot
   * change). Records price.updated ("Occurs whenever a price is updated") with previous_attributes. Items
   * embed their price, so the subscriptions on it show the change from now on (their earlier events keep
   * the price as it was).
   */
  updatePrice(id: string, patch: { active?: boolean; nickname?: string | null; lookup_key?: string | null; metadata?: Record<string, string> }, opts: EventOptions = {}): void {
    const price = this.price(id);
    for (const [subId, items] of this.itemsBySubscription) if (items.some((i) => i.price === price)) this.freeze(this.subscriptionById(subId));
    this.update(price, patch as Record<string, unknown>, 'price.updated', opts);
  }

  /** Changes a coupon's name or metadata (CouponUpdateParams: nothing else can change). Records coupon.updated ("Occurs whenever a coupon is updated"). */
  updateCoupon(id: string, patch: { name?: string | null; metadata?: Record<string, string> }, opts: EventOptions = {}): void {
    const coupon = this.coupons.get(id);
    if (!coupon) throw new Error(`fake-stripe: no such coupon ${id}`);
    this.update(coupon, patch as Record<string, unknown>, 'coupon.updated', opts);
  }

  /** @internal The events in (created, seq) order, oldest first (`order`: seqs), and each one's time, type and place. */
  eventView(): { order: Int32Array; created: Float64Array; type: (seq: number) => RecordedEventType; index: (seq: number) => number } {
    if (!this.evOrderValid) {
      const created = this.evCreated;
      const order = Int32Array.from({ length: this.evCount }, (_, i) => i + 1).sort((a, b) => created[a]! - created[b]! || a - b);
      this.evOrder.set(order);
      for (let i = 0; i < order.length; i++) this.evPos[order[i]!] = i;
      this.evOrderValid = true;
    }
    return {
      order: this.evOrder.subarray(0, this.evCount),
      created: this.evCreated,
      type: (seq) => RECORDED_EVENT_TYPES[this.evType[seq]!]!,
      index: (seq) => (seq >= 1 && seq <= this.evCount ? this.evPos[seq]! : -1),
    };
  }

  /** @internal An event as the API sends it: the payload as it was (or the live object, unchanged since), in the event's API version. */
  renderEvent(seq: number): Stripe.Event {
    const extra = this.evExtra.get(seq);
    const apiVersion = extra?.apiVersion ?? API_VERSION;
    const object = renderForVersion(this.evSnapshot.get(seq) ?? this.renderPayload(this.evTarget[seq]!), apiVersion);
    const data: Record<string, unknown> = { object };
    if (extra?.previous) data.previous_attributes = extra.previous;
    return {
      id: eventId(seq),
      object: 'event',
      api_version: apiVersion,
      created: this.evCreated[seq]!,
      data,
      livemode: this.livemode,
      pending_webhooks: 0,
      request: extra?.request === null ? null : extra?.request ? { ...extra.request } : { id: null, idempotency_key: null },
      type: RECORDED_EVENT_TYPES[this.evType[seq]!]!,
    } as unknown as Stripe.Event;
  }

  /** An object as an event payload carries it: unexpanded, a subscription with its items list. */
  private renderPayload(o: StoredObject): Record<string, unknown> {
    if (o.object === 'subscription') return { ...o, items: itemList(o.id, this.itemsOf(o.id)) };
    return { ...o };
  }

  /** Before an object changes: its live event (if any) keeps the object as it is now. */
  private freeze(o: StoredObject): void {
    const seq = (o as Partial<Record<typeof LIVE_EVENT, number>>)[LIVE_EVENT];
    if (!seq) return;
    this.evSnapshot.set(seq, structuredClone(this.renderPayload(o)));
    (o as unknown as Record<typeof LIVE_EVENT, number>)[LIVE_EVENT] = 0;
  }

  /** Records an event about `o` (its payload: `o` live until it next changes). */
  private record(type: RecordedEventType, o: StoredObject, at: number, opts: EventOptions = {}, previous?: Record<string, unknown>): void {
    this.freeze(o);
    const apiVersion = opts.apiVersion ?? this.eventApiVersion;
    if (apiVersion !== API_VERSION && !/^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$/.test(apiVersion)) throw new Error(`fake-stripe: ${apiVersion} is not an API version (YYYY-MM-DD or YYYY-MM-DD.name)`);
    const seq = ++this.evCount;
    if (seq >= this.evCreated.length) this.growEvents();
    this.evCreated[seq] = at;
    this.evType[seq] = EVENT_TYPE_INDEX.get(type)!;
    this.evTarget[seq] = o;
    if (apiVersion !== API_VERSION || opts.request !== undefined || previous) this.evExtra.set(seq, { apiVersion: apiVersion === API_VERSION ? undefined : apiVersion, request: opts.request, previous });
    if (LIVE_EVENT in o) (o as unknown as Record<typeof LIVE_EVENT, number>)[LIVE_EVENT] = seq;
    else Object.defineProperty(o, LIVE_EVENT, { value: seq, writable: true, configurable: true, enumerable: false });
    // Kept in time order while events come in order (as mutations do); seeding out of order re-sorts once, on the next list.
    const n = seq - 1; // events already in order
    if (this.evOrderValid && (n === 0 || at >= this.evCreated[this.evOrder[n - 1]!]!)) {
      this.evOrder[n] = seq;
      this.evPos[seq] = n;
    } else this.evOrderValid = false;
    if (at > this.newestEventAt) this.newestEventAt = at;
  }

  private growEvents(): void {
    const grow = <T extends Float64Array | Uint8Array | Int32Array>(a: T): T => {
      const bigger = new (a.constructor as new (n: number) => T)(a.length * 2);
      bigger.set(a);
      return bigger;
    };
    this.evCreated = grow(this.evCreated);
    this.evType = grow(this.evType);
    this.evOrder = grow(this.evOrder);
    this.evPos = grow(this.evPos);
  }

  /**
   * Applies `patch` to `o` and records `type` with previous_attributes of the fields that changed (the old
   * values, whole: types Event.Data `previous_attributes`: "If an array attribute has any updated elements,
   * this object contains the entire array"; whole objects for hashes such as metadata is the fake's choice).
   * `quiet` fields change without counting as a change. Nothing changed: no event, false.
   */
  private update(o: StoredObject, patch: Record<string, unknown>, type: RecordedEventType, opts: EventOptions, quiet: string[] = []): boolean {
    const target = o as unknown as Record<string, unknown>;
    const changed = Object.keys(patch).filter((k) => patch[k] !== undefined && !quiet.includes(k) && JSON.stringify(target[k]) !== JSON.stringify(patch[k]));
    if (changed.length === 0) return false;
    const at = this.eventTime(opts.at, 'created' in o ? o.created : o.start);
    this.freeze(o);
    const previous: Record<string, unknown> = {};
    for (const k of [...changed, ...quiet.filter((k) => patch[k] !== undefined)]) {
      previous[k] = structuredClone(target[k] ?? null);
      target[k] = typeof patch[k] === 'object' && patch[k] !== null && !(patch[k] as { object?: string }).object ? structuredClone(patch[k]) : patch[k];
    }
    this.record(type, o, at, opts, previous);
    return true;
  }

  /** When a mutation happens: `at`, or the present when fixed, or the clock's next tick; never before `notBefore` nor before the newest event. */
  private eventTime(at: number | undefined, notBefore: number): number {
    const t = at ?? this.fixedNow ?? Math.max(this.tick(), this.newestEventAt, notBefore);
    if (!Number.isInteger(t) || t < notBefore) throw new Error(`fake-stripe: an event at ${t} would predate its object (created ${notBefore})`);
    return t;
  }

  /** The balance transaction of a charge's captured `amount`, in the settlement currency, available two days after `created`. */
  private chargeTransaction(source: string, amount: number, currency: string, exchangeRate: number | null, created: number): Stripe.BalanceTransaction {
    return {
      id: this.claimId(undefined, 'txn'),
      object: 'balance_transaction',
      amount,
      available_on: created + 2 * DAY,
      balance_type: 'payments',
      created,
      currency,
      description: null,
      exchange_rate: exchangeRate,
      fee: 0,
      fee_details: [],
      net: amount,
      reporting_category: 'charge',
      source,
      status: 'available',
      type: 'charge',
    };
  }

  /** A stored object of one kind by id; throws for an unknown id or another kind. */
  private stored<K extends 'charge' | 'dispute' | 'subscription'>(object: K, id: string): Extract<StoredObject, { object: K }> {
    const found = this.byId.get(id);
    if (found?.object !== object) throw new Error(`fake-stripe: no such ${object} ${id}`);
    return found as Extract<StoredObject, { object: K }>;
  }

  private chargeById(id: string): Stripe.Charge {
    return this.stored('charge', id);
  }

  private disputeById(id: string): Stripe.Dispute {
    return this.stored('dispute', id);
  }

  private subscriptionById(id: string): Stripe.Subscription {
    return this.stored('subscription', id);
  }

  private liveCustomer(id: string): Stripe.Customer {
    const customer = this.customer(id);
    if (this.deletedIds.has(id)) throw new Error(`fake-stripe: customer ${id} is deleted`);
    return customer;
  }

  // -- used by the server ------------------------------------------------------------------------

  /** @internal All customers including deleted ones, newest first. */
  customerView(): OrderedView<Stripe.Customer> {
    return this.view(this.allCustomers, () => null);
  }
  /** @internal */
  chargeView(): OrderedView<Stripe.Charge> {
    return this.view(this.charges, (c) => customerId(c.customer));
  }
  /** @internal */
  subscriptionView(): OrderedView<Stripe.Subscription> {
    return this.view(this.subscriptions, (s) => customerId(s.customer));
  }
  /** @internal */
  disputeView(): OrderedView<Stripe.Dispute> {
    return this.view(this.disputes, () => null);
  }
  /** @internal Products, newest first (the order of every Stripe list). */
  productView(): OrderedView<Stripe.Product> {
    return this.view(this.productList, () => null);
  }
  /** @internal */
  findPrice(id: string): Stripe.Price | undefined {
    return this.prices.get(id);
  }
  /** @internal Prices, newest first. */
  priceView(): OrderedView<Stripe.Price> {
    return this.view(this.priceList, () => null);
  }
  private get priceList(): Stripe.Price[] {
    if (this.priceListCache.length !== this.prices.size) this.priceListCache = [...this.prices.values()];
    return this.priceListCache;
  }
  private priceListCache: Stripe.Price[] = [];

  /** @internal */
  find(id: string): Stripe.Customer | Stripe.Charge | Stripe.Subscription | Stripe.Dispute | undefined {
    return this.byId.get(id);
  }

  // -- internals ---------------------------------------------------------------------------------

  /**
   * Stripe's list order (created descending, ties: newest inserted first) with a position index and
   * per-customer sublists. Rebuilt when the list's length changes; `created` cannot change.
   */
  private view<T extends { id: string; created: number }>(list: T[], customerOf: (o: T) => string | null): OrderedView<T> {
    const cached = this.viewCache.get(list);
    if (cached?.length === list.length) return cached.view as OrderedView<T>;
    const all = list
      .map((item, index) => ({ item, index }))
      .sort((a, b) => b.item.created - a.item.created || b.index - a.index)
      .map((x) => x.item);
    const position = new Map(all.map((o, i) => [o.id, i]));
    const byCustomer = new Map<string, T[]>();
    for (const o of all) {
      const customer = customerOf(o);
      if (customer === null) continue;
      const own = byCustomer.get(customer);
      if (own) own.push(o);
      else byCustomer.set(customer, [o]);
    }
    const view: OrderedView<T> = { all, position, byCustomer };
    this.viewCache.set(list, { length: list.length, view: view as OrderedView<never> });
    return view;
  }

  private tick(): number {
    this.clock += 1;
    return BASE_TIME + this.clock * 60;
  }

  private claimId(given: string | undefined, prefix: string): string {
    if (given !== undefined) {
      if (this.byId.has(given)) throw new Error(`fake-stripe: duplicate id ${given}`);
      return given;
    }
    const n = (this.counters.get(prefix) ?? 0) + 1;
    this.counters.set(prefix, n);
    return `${prefix}_fake${String(n).padStart(10, '0')}`;
  }

  private buildItem(spec: SubscriptionItemInput, subscription: string, customer: string, created: number, subCurrency: string, periodStart = created): Stripe.SubscriptionItem {
    const currency = (spec.currency ?? subCurrency).toLowerCase();
    const interval = spec.interval ?? 'month';
    const intervalCount = spec.interval_count ?? 1;
    const usageType = spec.usage_type ?? 'licensed';
    if (spec.unit_amount !== null && (spec.unit_amount_decimal !== undefined || spec.tiers !== undefined)) {
      throw new Error('fake-stripe: unit_amount_decimal and tiers need unit_amount: null');
    }
    if (spec.unit_amount_decimal !== undefined && spec.tiers !== undefined) {
      throw new Error('fake-stripe: a price is per_unit (unit_amount_decimal) or tiered (tiers), not both');
    }
    // Types Prices.d.ts: unit_amount / unit_amount_decimal are "Only set if billing_scheme=per_unit".
    const tiered = spec.unit_amount === null && spec.unit_amount_decimal === undefined;
    if (!tiered && spec.tiers_mode !== undefined) throw new Error('fake-stripe: tiers_mode is only for tiered prices');
    // Types Prices.d.ts `transform_quantity`: "Cannot be combined with tiers"; divide_by a positive integer.
    if (spec.transform_quantity && (tiered || !(Number.isInteger(spec.transform_quantity.divide_by) && spec.transform_quantity.divide_by > 0)))
      throw new Error('fake-stripe: transform_quantity needs a per-unit price and a positive integer divide_by');
    const options = spec.currency_options ? this.buildCurrencyOptions(spec.currency_options, currency, tiered) : undefined;
    if (spec.price_id === undefined && currency !== subCurrency && !options?.[subCurrency])
      throw new Error(`fake-stripe: a ${subCurrency} subscription cannot use a ${currency} price without a ${subCurrency} currency option`);
    const tiers = tiered ? buildTiers(spec.tiers ?? [{ up_to: null, unit_amount: 0 }]) : undefined;
    const perUnit = spec.unit_amount_decimal === undefined ? null : decimalAmount(undefined, spec.unit_amount_decimal, 'unit_amount_decimal');
    const unitAmount = perUnit ? perUnit.integer : spec.unit_amount;
    const shared = spec.price_id === undefined ? undefined : this.prices.get(spec.price_id);
    if (spec.price_id !== undefined && !shared) throw new Error(`fake-stripe: no price ${spec.price_id}`);
    if (shared && (spec.product_id !== undefined || spec.product_name !== undefined)) {
      throw new Error('fake-stripe: an item on a shared price (price_id) has that price\'s product: no product_id or product_name');
    }
    const existingProduct = spec.product_id === undefined ? undefined : this.products.get(spec.product_id);
    if (spec.product_id !== undefined && !existingProduct) throw new Error(`fake-stripe: no product ${spec.product_id}`);
    if (spec.product_name !== undefined && spec.product_name.trim() === '') throw new Error('fake-stripe: a product name cannot be empty');
    if (existingProduct && spec.product_name !== undefined && spec.product_name !== existingProduct.name) {
      throw new Error(`fake-stripe: product ${existingProduct.id} is named '${existingProduct.name}', not '${spec.product_name}'`);
    }
    const priceId = shared ? shared.id : this.claimId(undefined, 'price');
    // A new product only when neither a price nor a product is shared (same id order as before).
    const product = shared ? String(shared.product) : existingProduct ? existingProduct.id : this.claimId(undefined, 'prod');
    const meter = usageType === 'metered' ? this.claimId(undefined, 'mtr') : null;
    // The wire carries decimals as strings; the SDK converts them to Stripe.Decimal on arrival.
    const decimal = (tiered ? null : (perUnit?.decimal ?? String(spec.unit_amount))) as unknown as Stripe.Price['unit_amount_decimal'];
    const price: Stripe.Price = shared ?? {
      id: priceId,
      object: 'price',
      active: true,
      billing_scheme: tiered ? 'tiered' : 'per_unit',
      created,
      currency,
      custom_unit_amount: null,
      livemode: this.livemode,
      lookup_key: null,
      metadata: {},
      nickname: null,
      product,
      recurring: { interval, interval_count: intervalCount, meter, trial_period_days: null, usage_type: usageType },
      tax_behavior: spec.tax_behavior ?? 'unspecified',
      tiers_mode: tiered ? (spec.tiers_mode ?? 'graduated') : null,
      transform_quantity: spec.transform_quantity ? { ...spec.transform_quantity } : null,
      type: 'recurring',
      unit_amount: unitAmount,
      unit_amount_decimal: decimal,
    };
    const plan: Stripe.Plan = {
      id: priceId,
      object: 'plan',
      active: true,
      amount: unitAmount,
      amount_decimal: decimal,
      billing_scheme: price.billing_scheme,
      created,
      currency,
      interval,
      interval_count: intervalCount,
      livemode: this.livemode,
      metadata: {},
      meter,
      nickname: null,
      product,
      tiers_mode: price.tiers_mode,
      transform_usage: spec.transform_quantity ? { ...spec.transform_quantity } : null,
      trial_period_days: null,
      usage_type: usageType,
    };
    const item: Stripe.SubscriptionItem = {
      id: this.claimId(undefined, 'si'),
      object: 'subscription_item',
      billing_thresholds: null,
      created,
      current_period_end: addInterval(periodStart, interval, intervalCount),
      current_period_start: periodStart,
      current_trial: spec.current_trial ? { ...spec.current_trial, trial_offer: this.claimId(undefined, 'trof') } : null,
      discounts: [],
      metadata: {},
      plan,
      price,
      subscription,
      tax_rates: (spec.tax_rates ?? []).map((r) => this.buildTaxRate(r, created)),
    };
    if (usageType === 'licensed') item.quantity = spec.quantity ?? 1;
    // Item-level discounts: ids on the item, expandable (types SubscriptionItems.d.ts `discounts`:
    // "Use expand[]=discounts to expand each discount").
    item.discounts = (spec.discounts ?? []).map((d) => this.buildDiscount(d, subscription, customer, created, currency, item.id, 'subscription item').id);
    if (!this.products.has(product)) {
      const made = this.buildProduct(product, spec.product_name, created);
      this.products.set(product, made);
      if (this.recordSeedEvents) this.record('product.created', made, created);
    }
    if (!shared) {
      this.prices.set(priceId, price);
      if (this.recordSeedEvents) this.record('price.created', price, created);
      if (tiers) this.tiersByPrice.set(priceId, tiers);
      if (options) this.optionsByPrice.set(priceId, options);
    }
    return item;
  }

  /**
   * A product as the API sends it (GET /v1/products lists it): the fields of the docs' example
   * (docs.stripe.com/api/products/retrieve, for a product created with only a name: default_price,
   * description, package_dimensions, shippable, statement_descriptor, tax_code, unit_label and url
   * null; images and marketing_features empty; updated = created) plus what the types require
   * (Products.d.ts): `type` 'service' (ProductCreateParams.type: "Defaults to `service` if not
   * explicitly specified, enabling use of this product with Subscriptions and Plans") and
   * `tax_details` (nullable). Created with its first price.
   */
  private buildProduct(id: string, name: string | undefined, created: number): Stripe.Product {
    return {
      id,
      object: 'product',
      active: true,
      created,
      default_price: null,
      description: null,
      images: [],
      livemode: this.livemode,
      marketing_features: [],
      metadata: {},
      // The default derives from the id, so that naming a product claims no id of its own.
      name: name ?? `Product ${Number(/(\d+)$/.exec(id)?.[1] ?? 0)}`,
      package_dimensions: null,
      shippable: null,
      statement_descriptor: null,
      tax_code: null,
      tax_details: null,
      type: 'service',
      unit_label: null,
      updated: created,
      url: null,
    };
  }

  /** A tax rate as the API embeds it in subscriptions and items (fields of Stripe's example tax_rate, stripe-fixtures3.json). */
  private buildTaxRate(spec: TaxRateInput, created: number): Stripe.TaxRate {
    if (!(spec.percentage >= 0 && spec.percentage <= 100)) throw new Error('fake-stripe: a tax rate percentage is out of 100');
    const flat = spec.rate_type === 'flat_amount';
    return {
      id: this.claimId(undefined, 'txr'),
      object: 'tax_rate',
      active: true,
      country: 'DE',
      created,
      description: null,
      display_name: 'VAT',
      effective_percentage: null,
      flat_amount: flat ? { amount: 100, currency: 'eur' } : null,
      inclusive: spec.inclusive,
      jurisdiction: 'DE',
      jurisdiction_level: null,
      livemode: this.livemode,
      metadata: {},
      percentage: spec.percentage,
      // Types TaxRates.d.ts `rate_type`: "only present for TaxRates created by Stripe Tax" (null in
      // Stripe's example tax rate): a manual rate has none; 'flat_amount' only when asked for.
      rate_type: flat ? 'flat_amount' : null,
      state: null,
      tax_type: 'vat',
    };
  }

  /** A price's currency options (types Price.CurrencyOptions), keyed by lower-case currency, never the price's own. */
  private buildCurrencyOptions(input: NonNullable<SubscriptionItemInput['currency_options']>, priceCurrency: string, tiered: boolean) {
    if (tiered) throw new Error('fake-stripe: tiered currency options are not modelled');
    const options: Record<string, Stripe.Price.CurrencyOptions> = {};
    for (const [code, o] of Object.entries(input)) {
      const currency = code.toLowerCase();
      if (currency === priceCurrency) throw new Error(`fake-stripe: ${currency} is the price's own currency, not an option`);
      const amount = decimalAmount(o.unit_amount, o.unit_amount_decimal, 'unit_amount_decimal');
      if (amount.decimal === null) throw new Error('fake-stripe: a currency option needs unit_amount or unit_amount_decimal');
      options[currency] = {
        custom_unit_amount: null,
        tax_behavior: o.tax_behavior ?? 'unspecified',
        unit_amount: amount.integer,
        unit_amount_decimal: amount.decimal as unknown as Stripe.Price.CurrencyOptions['unit_amount_decimal'],
      };
    }
    return options;
  }

  /**
   * A subscription's latest invoice with the amounts that matter here (types Invoices.d.ts); the
   * rest as an open invoice of Stripe's example (stripe-fixtures3.json `invoice`) has them.
   */
  private buildInvoice(input: NonNullable<SubscriptionInput['latest_invoice']>, subscription: string, customer: string, created: number, currency: string): Stripe.Invoice {
    if (input.subtotal_excluding_tax !== null && input.subtotal_excluding_tax > input.subtotal)
      throw new Error('fake-stripe: subtotal_excluding_tax cannot exceed subtotal (inclusive tax is inside the subtotal)');
    const id = this.claimId(undefined, 'in');
    const invoice = {
      id,
      object: 'invoice',
      amount_due: input.subtotal,
      amount_paid: 0,
      amount_remaining: input.subtotal,
      created,
      currency,
      customer,
      livemode: this.livemode,
      parent: { quote_details: null, subscription_details: { metadata: {}, subscription }, type: 'subscription_details' },
      status: 'open',
      subtotal: input.subtotal,
      subtotal_excluding_tax: input.subtotal_excluding_tax,
      total: input.subtotal,
      total_excluding_tax: input.subtotal_excluding_tax,
      total_taxes: [],
    } as unknown as Stripe.Invoice;
    this.invoices.set(id, invoice);
    return invoice;
  }

  private buildDiscount(
    spec: DiscountInput,
    subscription: string | null,
    customer: string,
    created: number,
    defaultCurrency: string,
    subscriptionItem: string | null,
    on: 'subscription' | 'subscription item' | 'customer',
  ): Stripe.Discount {
    if ((spec.percent_off === undefined) === (spec.amount_off === undefined)) {
      throw new Error('fake-stripe: a discount needs exactly one of percent_off and amount_off');
    }
    const duration = spec.duration ?? 'forever';
    // "You can no longer attach forever and amount_off coupons to subscriptions" (nor to subscription
    // items): docs.stripe.com/changelog/basil/2025-03-31/restrict-coupon-duration.
    if (spec.amount_off !== undefined && duration === 'forever' && on !== 'customer')
      throw new Error(`fake-stripe: a forever amount-off coupon cannot be attached to a ${on} (API 2025-03-31.basil and later)`);
    if (spec.duration_in_months !== undefined && duration !== 'repeating') {
      throw new Error('fake-stripe: duration_in_months is only for repeating coupons');
    }
    if (spec.duration_in_months !== undefined && !(Number.isInteger(spec.duration_in_months) && spec.duration_in_months > 0)) {
      throw new Error('fake-stripe: duration_in_months must be a positive integer');
    }
    // Types Coupons.d.ts `duration_in_months`: "If duration is repeating, the number of months the
    // coupon applies. Null if coupon duration is forever or once."
    const months = duration === 'repeating' ? (spec.duration_in_months ?? 3) : null;
    const coupon: Stripe.Coupon = {
      id: this.claimId(undefined, 'co'),
      object: 'coupon',
      amount_off: spec.amount_off ?? null,
      created,
      currency: spec.amount_off === undefined ? null : (spec.currency ?? defaultCurrency).toLowerCase(),
      duration,
      duration_in_months: months,
      livemode: this.livemode,
      max_redemptions: null,
      metadata: {},
      name: null,
      percent_off: spec.percent_off ?? null,
      redeem_by: null,
      times_redeemed: 1,
      valid: true,
    };
    const discount: Stripe.Discount = {
      id: this.claimId(undefined, 'di'),
      object: 'discount',
      checkout_session: null,
      customer,
      customer_account: null,
      // Types Discounts.d.ts `end`: "If the coupon has a duration of repeating, the date that this
      // discount will end. If the coupon has a duration of once or forever, this attribute will be null."
      end: months === null ? null : addInterval(created, 'month', months),
      invoice: null,
      invoice_item: null,
      promotion_code: null,
      source: { coupon: coupon.id, type: 'coupon' },
      start: created,
      // Item-level: `subscription_item` names the item (types Discounts.d.ts). That `subscription`
      // still names the subscription then is not confirmed by a documented example (see the report).
      subscription,
      subscription_item: subscriptionItem,
    };
    this.coupons.set(coupon.id, coupon);
    this.discounts.set(discount.id, discount);
    if (this.recordSeedEvents || this.recordingMutation) this.record('coupon.created', coupon, created);
    return discount;
  }
}

/** A list in API order, with the lookups pagination needs. */
export interface OrderedView<T> {
  all: T[];
  position: Map<string, number>;
  byCustomer: Map<string, T[]>;
}

function freezeCreated<T extends { created: number }>(o: T): T {
  Object.defineProperty(o, 'created', { value: o.created, writable: false, enumerable: true, configurable: false });
  return o;
}

const customerId = (c: string | { id: string } | null): string | null => (c === null || typeof c === 'string' ? c : c.id);

function addInterval(from: number, interval: Interval, count: number): number {
  if (interval === 'day') return from + count * DAY;
  if (interval === 'week') return from + count * 7 * DAY;
  const date = new Date(from * 1000);
  if (interval === 'month') date.setUTCMonth(date.getUTCMonth() + count);
  else date.setUTCFullYear(date.getUTCFullYear() + count);
  return Math.floor(date.getTime() / 1000);
}

/**
 * An amount given as an integer or as a decimal string of minor units, in both of the API's forms.
 * Types Prices.d.ts: the decimal form has "at most 12 decimal places"; the integer form is set "if
 * possible" (null when the decimal is fractional). Create params: "Only one of unit_amount and
 * unit_amount_decimal can be set."
 */
function decimalAmount(integer: number | undefined, decimal: string | undefined, name: string): { integer: number | null; decimal: string | null } {
  if (integer !== undefined && decimal !== undefined) throw new Error(`fake-stripe: give ${name} or its integer form, not both`);
  if (decimal !== undefined) {
    const match = /^(\d+)(?:\.(\d{1,12}))?$/.exec(decimal);
    if (!match) throw new Error(`fake-stripe: ${name} must be a decimal string with at most 12 decimal places, got ${decimal}`);
    const whole = match[2] === undefined || /^0+$/.test(match[2]);
    return { integer: whole ? Number(match[1]) : null, decimal };
  }
  if (integer !== undefined) {
    if (!Number.isInteger(integer) || integer < 0) throw new Error(`fake-stripe: ${name} must be a non-negative integer, got ${integer}`);
    return { integer, decimal: String(integer) };
  }
  return { integer: null, decimal: null };
}

/**
 * A tiered price's tiers (types Prices.d.ts `Price.Tier`: up_to "Up to and including to this
 * quantity"; the create params: "Use inf to define a fallback tier", sent back as up_to null).
 */
function buildTiers(inputs: TierInput[]): Stripe.Price.Tier[] {
  if (inputs.length === 0) throw new Error('fake-stripe: a tiered price needs at least one tier');
  let previous = 0;
  return inputs.map((t, i) => {
    const last = i === inputs.length - 1;
    if (last !== (t.up_to === null)) throw new Error('fake-stripe: only the last tier, and always the last, has up_to: null');
    if (t.up_to !== null) {
      if (!Number.isInteger(t.up_to) || t.up_to <= previous) throw new Error('fake-stripe: tier up_to values must be ascending positive integers');
      previous = t.up_to;
    }
    const unit = decimalAmount(t.unit_amount, t.unit_amount_decimal, 'unit_amount_decimal');
    const flat = decimalAmount(t.flat_amount, t.flat_amount_decimal, 'flat_amount_decimal');
    if (unit.decimal === null && flat.decimal === null) throw new Error('fake-stripe: a tier needs a unit or a flat amount');
    // Decimals travel as strings; the SDK turns them into Stripe.Decimal (see the header).
    const asDecimal = (d: string | null) => d as unknown as Stripe.Price.Tier['unit_amount_decimal'];
    return {
      flat_amount: flat.integer,
      flat_amount_decimal: asDecimal(flat.decimal),
      unit_amount: unit.integer,
      unit_amount_decimal: asDecimal(unit.decimal),
      up_to: t.up_to,
    };
  });
}

const ZERO_DECIMAL = new Set('bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf'.split(' '));
const THREE_DECIMAL = new Set('bhd jod kwd omr tnd'.split(' '));
const minorUnitsPerMajor = (currency: string) => (ZERO_DECIMAL.has(currency) ? 1 : THREE_DECIMAL.has(currency) ? 1000 : 100);

/** Settlement per presentment unit, in major units (as Stripe's exchange_rate is), 6 decimals. */
function impliedExchangeRate(presented: number, currency: string, settled: number, settlementCurrency: string): number | null {
  if (presented === 0) return null;
  const rate = settled / minorUnitsPerMajor(settlementCurrency) / (presented / minorUnitsPerMajor(currency));
  return Math.round(rate * 1e6) / 1e6;
}

const itemListUrl = (subscription: string) => `/v1/subscription_items?subscription=${subscription}`;

/** A subscription's embedded `items`: the first 10 items, as the API embeds them. */
function itemList(subscription: string, items: Stripe.SubscriptionItem[]): Stripe.ApiList<Stripe.SubscriptionItem> {
  const list: Stripe.ApiList<Stripe.SubscriptionItem> & { total_count: number } = {
    object: 'list',
    data: items.slice(0, 10),
    has_more: items.length > 10,
    total_count: items.length,
    url: itemListUrl(subscription),
  };
  return list;
}

// ------------------------------------------------------------------------------------------------
// Errors
// ------------------------------------------------------------------------------------------------

interface StripeErrorBody {
  type: 'invalid_request_error' | 'api_error';
  message: string;
  code?: string;
  param?: string;
  doc_url?: string;
}

class ApiError extends Error {
  readonly status: number;
  readonly body: StripeErrorBody;
  readonly headers: Record<string, string>;
  constructor(status: number, body: StripeErrorBody, headers: Record<string, string> = {}) {
    super(body.message);
    this.status = status;
    this.body = body;
    this.headers = headers;
  }
}

const docUrl = (code: string) => `https://stripe.com/docs/error-codes/${code.replace(/_/g, '-')}`;

function invalid(message: string, extra: { code?: string; param?: string } = {}, status = 400): ApiError {
  const body: StripeErrorBody = { type: 'invalid_request_error', message, ...extra };
  if (extra.code) body.doc_url = docUrl(extra.code);
  return new ApiError(status, body);
}

const unknownParameter = (param: string) =>
  invalid(`Received unknown parameter: ${param}`, { code: 'parameter_unknown', param });

/** Something the real API accepts that the fake does not serve (the sync never sends it). */
const notImplemented = (what: string, param: string) =>
  invalid(`fake-stripe does not implement ${what} (the real API accepts it)`, { code: 'fake_not_implemented', param });

const noSuch = (object: string, id: string, param: string, status = 400) =>
  invalid(`No such ${object}: '${id}'`, { code: 'resource_missing', param }, status);

const unrecognizedUrl = (method: string, path: string) =>
  invalid(`Unrecognized request URL (${method}: ${path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`, {}, 404);

/** Real Stripe shows the key's prefix and last 4 characters, masking the rest. */
export function maskApiKey(key: string): string {
  const prefix = /^(?:sk|rk|pk)_(?:test|live)_/.exec(key)?.[0] ?? '';
  const rest = key.slice(prefix.length);
  if (rest.length <= 4) return prefix + '*'.repeat(rest.length);
  return prefix + '*'.repeat(rest.length - 4) + rest.slice(-4);
}

function authError(key: string | null): ApiError {
  const message =
    key === null || key === ''
      ? "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/."
      : `Invalid API Key provided: ${maskApiKey(key)}`;
  return new ApiError(401, { type: 'invalid_request_error', message }, { 'www-authenticate': 'Bearer realm="Stripe"' });
}

// The SDK maps every 429 to StripeRateLimitError; Stripe's own body says invalid_request_error /
// rate_limit and comes without Retry-After.
const rateLimitError = () =>
  invalid('Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.', { code: 'rate_limit' }, 429);

/** The envelope a fault answers with, per status. */
function faultBody(status: number, key: string): { error: StripeErrorBody } {
  if (status === 401) return { error: authError(key).body };
  if (status === 429) return { error: rateLimitError().body };
  const message = status === 500 ? 'An unknown error occurred' : `The service is temporarily unavailable (${status}). Please try again later.`;
  return { error: { type: 'api_error', message } };
}

// ------------------------------------------------------------------------------------------------
// Query strings: the SDK sends `limit=10&expand[0]=data.balance_transaction&created[gte]=1700000000`
// ------------------------------------------------------------------------------------------------

/** How an endpoint reads each parameter it accepts. */
type ParamKind =
  | 'string'
  | 'integer'
  | 'range' // created[gte]=N and created[lt]=N (the API's created=N, [gt] and [lte] are not implemented)
  | 'full_range' // all of the types' RangeQueryParam (gt, gte, lt, lte) and a plain number (GET /v1/events)
  | 'array' // expand[0]=a&expand[1]=b (or expand[]=a)
  | 'not_implemented'; // real Stripe accepts it; the fake says so instead of pretending

/**
 * The window the sync reads: `created[gte]` and `created[lt]`, half-open. The API also takes
 * `created=N`, `created[gt]` and `created[lte]` (types RangeQueryParam); the sync never sends them.
 */
interface Range {
  gte?: number;
  lt?: number;
  gt?: number;
  lte?: number;
  /** created=N: exactly N (types: `created?: RangeQueryParam | number`). */
  eq?: number;
}

class Query {
  readonly strings = new Map<string, string>();
  readonly ranges = new Map<string, Range>();
  readonly arrays = new Map<string, string[]>();

  string(name: string): string | undefined {
    return this.strings.get(name);
  }
  integer(name: string): number | undefined {
    const value = this.strings.get(name);
    return value === undefined ? undefined : Number(value);
  }
  range(name: string): Range | undefined {
    return this.ranges.get(name);
  }
  array(name: string): string[] {
    return this.arrays.get(name) ?? [];
  }
}

function parseInteger(value: string, param: string): number {
  if (!/^-?\d+$/.test(value)) throw invalid(`Invalid integer: ${value}`, { code: 'parameter_invalid_integer', param });
  return Number(value);
}

function parseQuery(search: URLSearchParams, spec: Record<string, ParamKind>): Query {
  const query = new Query();
  const indexed = new Map<string, Array<[number, string]>>();
  for (const [key, value] of search) {
    const match = /^([^[\]]+)((?:\[[^[\]]*\])*)$/.exec(key);
    if (!match) throw unknownParameter(key);
    const name = match[1]!;
    const subs = [...match[2]!.matchAll(/\[([^[\]]*)\]/g)].map((m) => m[1]!);
    const kind = Object.hasOwn(spec, name) ? spec[name] : undefined;
    if (kind === undefined) throw unknownParameter(name);

    switch (kind) {
      case 'not_implemented':
        throw notImplemented(`the parameter '${name}'`, name);
      case 'string':
      case 'integer':
        if (subs.length > 0) throw invalid(`Invalid ${kind}: ${key}=${value}`, { param: name });
        if (value === '') {
          throw invalid(
            `You passed an empty string for '${name}'. We assume empty values are an attempt to unset a parameter; however '${name}' cannot be unset. You should remove '${name}' from your request or supply a non-empty value.`,
            { param: name },
          );
        }
        if (kind === 'integer') parseInteger(value, name);
        query.strings.set(name, value);
        break;
      case 'range': {
        const range = query.ranges.get(name) ?? {};
        const op = subs.length === 1 ? subs[0]! : undefined;
        if (subs.length === 0) throw notImplemented(`the parameter '${name}' as a number`, name);
        if (op === 'gt' || op === 'lte') throw notImplemented(`the parameter '${key}'`, key);
        if (op !== 'gte' && op !== 'lt') throw unknownParameter(key);
        range[op] = parseInteger(value, key);
        query.ranges.set(name, range);
        break;
      }
      case 'full_range': {
        const range = query.ranges.get(name) ?? {};
        const op = subs.length === 0 ? 'eq' : subs.length === 1 ? subs[0]! : '';
        if (!['eq', 'gt', 'gte', 'lt', 'lte'].includes(op)) throw unknownParameter(key);
        range[op as keyof Range] = parseInteger(value, key);
        query.ranges.set(name, range);
        break;
      }
      case 'array': {
        const index = subs[0];
        if (subs.length !== 1 || index === undefined || !/^\d*$/.test(index)) throw invalid('Invalid array', { param: name });
        const entries = indexed.get(name) ?? [];
        entries.push([index === '' ? Number.MAX_SAFE_INTEGER : Number(index), value]);
        indexed.set(name, entries);
        break;
      }
    }
  }
  for (const [name, entries] of indexed) {
    query.arrays.set(name, entries.sort((a, b) => a[0] - b[0]).map(([, v]) => v));
  }
  return query;
}

/**
 * The parameters every list endpoint takes (types <Resource>ListParams extends PaginationParams).
 * The sync pages forward with `starting_after` only, so `ending_before` is not implemented.
 */
const LIST: Record<string, ParamKind> = { limit: 'integer', starting_after: 'string', ending_before: 'not_implemented', expand: 'array' };

function inRange(value: number, range: Range | undefined): boolean {
  if (!range) return true;
  return (range.gte === undefined || value >= range.gte) && (range.lt === undefined || value < range.lt);
}

/**
 * Checks `expand[]` against the paths an endpoint supports and returns them with their prefixes (a
 * path implies its prefixes, as in Stripe: `data.discounts.source.coupon` also expands
 * `data.discounts`). `unserved` lists paths the real API accepts that the fake does not serve (the
 * sync never sends them): those get `fake_not_implemented`. Any other path is refused, as Stripe does.
 */
function readExpand(query: Query, supported: string[], unserved: string[] = []): Set<string> {
  const expand = new Set<string>();
  for (const path of query.array('expand')) {
    const segments = path.split('.');
    // docs.stripe.com/api/expanding_objects: "Expansions have a maximum depth of four levels (for
    // example, the deepest expansion allowed when listing charges is data.payment_intent.customer.default_source)":
    // each segment is a level, `data` included.
    if (segments.length > 4) throw invalid(`You cannot expand more than 4 levels of a property. Property: ${path}`, { param: 'expand' });
    if (unserved.includes(path)) throw notImplemented(`the expansion '${path}'`, 'expand');
    if (!supported.includes(path)) {
      // Stripe names the first segment it cannot follow.
      let depth = 0;
      while (depth < segments.length - 1 && supported.some((s) => s.startsWith(segments.slice(0, depth + 1).join('.') + '.'))) depth++;
      throw invalid(`This property cannot be expanded (${segments[depth]}).`, { param: 'expand' });
    }
    for (let i = 1; i <= segments.length; i++) expand.add(segments.slice(0, i).join('.'));
  }
  return expand;
}

// ------------------------------------------------------------------------------------------------
// Pagination
// ------------------------------------------------------------------------------------------------

interface ListEnvelope<T> {
  object: 'list';
  url: string;
  has_more: boolean;
  data: T[];
}

/** What a list endpoint pages through: objects in API order and a way to find a cursor's place. */
interface Sequence<T> {
  list: T[];
  position: (id: string) => number; // -1 when absent
}

/**
 * The sequence for an endpoint: the customer's own sublist when filtering by customer (unless the
 * cursor lies outside it, then the whole list, filtered), else the whole list.
 */
function sequence<T extends { id: string }>(view: OrderedView<T>, customer: string | undefined, query: Query): Sequence<T> {
  if (customer !== undefined) {
    const own = view.byCustomer.get(customer) ?? [];
    const cursor = query.string('starting_after');
    if (cursor === undefined || own.some((o) => o.id === cursor)) {
      return { list: own, position: (id) => own.findIndex((o) => o.id === id) };
    }
  }
  return { list: view.all, position: (id) => view.position.get(id) ?? -1 };
}

/**
 * Cursor pagination over `seq` keeping only the objects that pass `keep`: `starting_after` continues
 * after the cursor, like Stripe. A cursor must name an object of the endpoint's kind.
 */
function paginate<T extends { id: string }>(
  seq: Sequence<T>,
  query: Query,
  url: string,
  keep: (o: T) => boolean,
  objectName: string,
): ListEnvelope<T> {
  const limit = query.integer('limit') ?? 10;
  if (limit < 1) throw invalid('This value must be greater than or equal to 1.', { code: 'parameter_invalid_integer', param: 'limit' });
  if (limit > 100) throw invalid('This value must be less than or equal to 100.', { code: 'parameter_invalid_integer', param: 'limit' });
  const after = query.string('starting_after');
  const ordered = seq.list;
  let start = 0;
  if (after !== undefined) {
    const index = seq.position(after);
    if (index < 0) throw noSuch(objectName, after, 'starting_after');
    start = index + 1;
  }
  const data: T[] = [];
  for (let i = start; i < ordered.length && data.length <= limit; i++) {
    if (keep(ordered[i]!)) data.push(ordered[i]!);
  }
  const hasMore = data.length > limit;
  data.length = Math.min(data.length, limit);
  return { object: 'list', url, has_more: hasMore, data };
}

// ------------------------------------------------------------------------------------------------
// Endpoints
// ------------------------------------------------------------------------------------------------

interface Call {
  store: StripeStore;
  search: URLSearchParams;
  params: Record<string, string>; // from the path pattern
}

type Handler = (call: Call) => unknown;

// Each handler takes what sync.ts sends on its endpoint. The other parameters of the endpoint's
// <Resource>ListParams / RetrieveParams (types) and the expansions the API takes there are
// 'not_implemented': the real API accepts them, the fake does not serve them.

function listCustomers({ store, search }: Call) {
  // Types CustomerListParams: created, email, expand, test_clock + pagination. The sync sends
  // limit, created[gte]/[lt], starting_after and expand data.discount.source.coupon (Discount.source.coupon
  // is `string | Coupon | null`: expandable, 4 levels).
  const query = parseQuery(search, { ...LIST, created: 'range', email: 'not_implemented', test_clock: 'not_implemented' });
  const expand = readExpand(query, ['data.discount.source.coupon'], ['data.default_source', 'data.test_clock', 'data.discount.customer']);
  const created = query.range('created');
  const page = paginate(
    sequence(store.customerView(), undefined, query),
    query,
    '/v1/customers',
    (c) => !store.isDeleted(c.id) && inRange(c.created, created),
    'customer',
  );
  return { ...page, data: page.data.map((c) => renderCustomer(store, c, expand.has('data.discount.source.coupon'))) };
}

function retrieveCustomer({ store, search, params }: Call) {
  // Types CustomerRetrieveParams: only `expand`; the sync sends discount.source.coupon.
  const query = parseQuery(search, { expand: 'array' });
  const expand = readExpand(query, ['discount.source.coupon'], ['default_source', 'test_clock', 'discount.customer']);
  const id = params.id!;
  const found = store.find(id);
  if (found?.object !== 'customer') throw noSuch('customer', id, 'id', 404);
  const customer = customerRef(store, id);
  return 'deleted' in customer ? customer : renderCustomer(store, customer, expand.has('discount.source.coupon'));
}

function listCharges({ store, search }: Call) {
  // Types ChargeListParams: created, customer, expand, payment_intent, transfer_group + pagination.
  // The sync sends limit, created[gte]/[lt], starting_after, customer (with --only) and
  // expand data.balance_transaction. Charge.customer is expandable (`string | Customer | DeletedCustomer`).
  const query = parseQuery(search, {
    ...LIST,
    created: 'range',
    customer: 'string',
    payment_intent: 'not_implemented',
    transfer_group: 'not_implemented',
  });
  const expand = readExpand(query, ['data.balance_transaction'], ['data.customer']);
  const created = query.range('created');
  const customer = query.string('customer');
  const page = paginate(
    sequence(store.chargeView(), customer, query),
    query,
    '/v1/charges',
    (c) => inRange(c.created, created) && (customer === undefined || c.customer === customer),
    'charge',
  );
  return { ...page, data: page.data.map((c) => renderCharge(store, c, expand.has('data.balance_transaction'))) };
}

/**
 * GET /v1/charges/:id (issue 22). Types Charges.d.ts ChargeRetrieveParams: only `expand`. An unknown id is
 * 404 resource_missing "No such charge: '<id>'" with param id, as retrieveCustomer answers (the fake's one
 * shape for a missing object). expand[]=balance_transaction as the list's data.balance_transaction (needs
 * balance_read, EXPANSION_PERMISSIONS). Charge's other expandable fields (types: `string | <Object> | null`)
 * are real expansions the fake does not serve (fake_not_implemented); anything else cannot be expanded.
 */
function retrieveCharge({ store, search, params }: Call) {
  const query = parseQuery(search, { expand: 'array' });
  const expand = readExpand(query, ['balance_transaction'], [
    'application',
    'application_fee',
    'customer',
    'failure_balance_transaction',
    'on_behalf_of',
    'payment_intent',
    'review',
    'source_transfer',
    'transfer',
  ]);
  const id = params.id!;
  const found = store.find(id);
  if (found?.object !== 'charge') throw noSuch('charge', id, 'id', 404);
  return renderCharge(store, found, expand.has('balance_transaction'));
}

const SUBSCRIPTION_STATUSES = ['active', 'all', 'canceled', 'ended', 'incomplete', 'incomplete_expired', 'past_due', 'paused', 'trialing', 'unpaid'];
const ENDED = new Set(['canceled', 'incomplete_expired']);

function listSubscriptions({ store, search }: Call) {
  // The sync sends limit, created[gte]/[lt], starting_after, customer (with --only), status=all,
  // price (issue 22) and expand data.discounts.source.coupon.
  const query = parseQuery(search, {
    ...LIST,
    created: 'range',
    customer: 'string',
    status: 'string',
    automatic_tax: 'not_implemented',
    collection_method: 'not_implemented',
    current_period_end: 'not_implemented',
    current_period_start: 'not_implemented',
    customer_account: 'not_implemented',
    plan: 'not_implemented',
    price: 'string',
    test_clock: 'not_implemented',
  });
  // Discount.source.coupon, Subscription.discounts, Subscription.customer and SubscriptionItem.discounts
  // are expandable (types Discounts.d.ts, Subscriptions.d.ts, SubscriptionItems.d.ts). Item-level
  // coupons would be data.items.data.discounts.source.coupon: six levels, over Stripe's four (refused
  // by readExpand); the sync reads them via /v1/subscription_items.
  const expand = readExpand(query, ['data.discounts.source.coupon'], ['data.discounts', 'data.customer', 'data.items.data.discounts']);
  const status = query.string('status');
  if (status !== undefined && !SUBSCRIPTION_STATUSES.includes(status)) {
    throw invalid(`Invalid status: must be one of ${SUBSCRIPTION_STATUSES.join(', ')}`, { param: 'status' });
  }
  // No status: everything that has not ended. 'all': everything. 'ended': canceled and incomplete_expired.
  // (types SubscriptionListParams.status: "If no value is supplied, all subscriptions that have not been
  // canceled are returned": whether incomplete_expired is among them is not spelled out; the fake hides it,
  // as it always has, and the price filter keeps that rule.)
  const statusMatches = (s: string) =>
    status === undefined ? !ENDED.has(s) : status === 'all' ? true : status === 'ended' ? ENDED.has(s) : s === status;
  const created = query.range('created');
  const customer = query.string('customer');
  // price (issue 22): "Filter for subscriptions that contain this recurring price ID" (types
  // SubscriptionListParams.price). Every item counts, not just the embedded first page (store.itemsOf
  // holds them all). It combines with the status rule above like the other filters. An id that no
  // subscription's item has (or that is no price) matches nothing: what Stripe answers for an unknown
  // price here is not documented.
  const price = query.string('price');
  const hasPrice = (s: Stripe.Subscription) => price === undefined || store.itemsOf(s.id).some((i) => i.price.id === price);
  const page = paginate(
    sequence(store.subscriptionView(), customer, query),
    query,
    '/v1/subscriptions',
    (s) => statusMatches(s.status) && inRange(s.created, created) && (customer === undefined || s.customer === customer) && hasPrice(s),
    'subscription',
  );
  const coupons = expand.has('data.discounts.source.coupon');
  return { ...page, data: page.data.map((s) => renderSubscription(store, s, coupons)) };
}

function listSubscriptionItems({ store, search }: Call) {
  // Types SubscriptionItems.d.ts SubscriptionItemListParams: subscription, expand + pagination. The
  // sync sends subscription, limit, starting_after and expand data.discounts.source.coupon (4 levels,
  // the depth limit, see readExpand). An item's `price` and `plan` are always objects (not
  // expandable) but their `product` is (types Prices.d.ts `product: string | Product | DeletedProduct`,
  // Plans.d.ts `product: string | Product | DeletedProduct | null`); the sync does not expand it.
  const query = parseQuery(search, { ...LIST, subscription: 'string' });
  const expand = readExpand(query, ['data.discounts.source.coupon'], ['data.discounts', 'data.price.product', 'data.plan.product']);
  const subscription = query.string('subscription');
  if (subscription === undefined) throw invalid('Missing required param: subscription.', { code: 'parameter_missing', param: 'subscription' });
  if (store.find(subscription)?.object !== 'subscription') throw noSuch('subscription', subscription, 'subscription');
  // Items keep the order the subscription embeds them in, so the embedded first page and this list agree.
  const items = store.itemsOf(subscription);
  const seq = { list: items, position: (id: string) => items.findIndex((i) => i.id === id) };
  const page = paginate(seq, query, '/v1/subscription_items', () => true, 'subscription_item');
  if (!expand.has('data.discounts.source.coupon')) return page;
  return { ...page, data: page.data.map((item) => ({ ...item, discounts: renderDiscounts(store, item.discounts) })) };
}

function retrievePrice({ store, search, params }: Call) {
  // Types Prices.d.ts PriceRetrieveParams: only `expand`. `tiers` is includable: absent unless
  // expanded (types: `tiers?:`; a Stripe engineer on groups.google.com/a/lists.stripe.com/g/api-discuss/c/q6e834DOnLs:
  // "That property is not returned by default and is what we call 'includable' ... using our Expand
  // feature"). `product` is expandable (types: `product: string | Product | DeletedProduct`), and
  // Product.default_price and Product.tax_code inside it; `currency_options` too. The sync expands tiers only.
  // `currency_options` is includable too: "The API response won't include currency_options by
  // default" (docs.stripe.com/products-prices/manage-prices). The sync expands tiers, currency_options or both.
  const query = parseQuery(search, { expand: 'array' });
  const expand = readExpand(query, ['tiers', 'currency_options'], ['product', 'product.default_price', 'product.tax_code']);
  const id = params.id!;
  const price = store.findPrice(id);
  if (!price) throw noSuch('price', id, 'id', 404);
  const out: Stripe.Price = { ...price };
  const tiers = store.tiersOf(id);
  // A per-unit price has no tiers; what the real API sends for one with expand[]=tiers is not
  // documented: the fake leaves the field out. Likewise currency_options of a single-currency price.
  if (expand.has('tiers') && tiers) out.tiers = tiers.map((t) => ({ ...t }));
  const options = store.currencyOptionsOf(id);
  if (expand.has('currency_options') && options) out.currency_options = structuredClone(options);
  return out;
}

/**
 * GET /v1/prices (types PriceListParams). The sync sends `limit` alone, to learn whether Prices is missing
 * too when Products is; and (issue 22) `product` with limit and starting_after: "Only return prices for the
 * given product" (types), newest first like every list, paged by cursor. A product with no prices (or no
 * such product) gives an empty list: what Stripe answers for an unknown product here is not documented.
 * The cursor may be any price (the order is the whole list's). `active` is documented ("Only return prices
 * that are active or inactive") but not sent: not implemented, like the other filters and expand.
 */
function listPrices({ store, search }: Call) {
  const query = parseQuery(search, {
    limit: 'integer',
    starting_after: 'string',
    ending_before: 'not_implemented',
    expand: 'not_implemented',
    active: 'not_implemented',
    created: 'not_implemented',
    currency: 'not_implemented',
    lookup_keys: 'not_implemented',
    product: 'string',
    recurring: 'not_implemented',
    type: 'not_implemented',
  });
  const product = query.string('product');
  return paginate(sequence(store.priceView(), undefined, query), query, '/v1/prices', (p) => product === undefined || p.product === product, 'price');
}

/** GET /v1/invoices/:id (types InvoiceRetrieveParams: only `expand`, which the sync does not send). */
function retrieveInvoice({ store, search, params }: Call) {
  parseQuery(search, { expand: 'not_implemented' });
  const invoice = store.invoices.get(params.id!);
  if (!invoice) throw noSuch('invoice', params.id!, 'id', 404);
  return invoice;
}

/**
 * GET /v1/products (types ProductListParams): active, created, expand, ids ("Only return products
 * with the given IDs. Cannot be used with starting_after or ending_before"), shippable, type, url +
 * pagination. The sync sends `ids` (at most 100) and limit=100, one page, no cursor; and once
 * limit=100 with expand data.default_price (Product.default_price is `string | Price | null`). The
 * rest is not implemented.
 */
function listProducts({ store, search }: Call) {
  const query = parseQuery(search, {
    limit: 'integer',
    ids: 'array',
    expand: 'array',
    starting_after: 'not_implemented',
    ending_before: 'not_implemented',
    active: 'not_implemented',
    created: 'not_implemented',
    shippable: 'not_implemented',
    type: 'not_implemented',
    url: 'not_implemented',
  });
  const expand = readExpand(query, ['data.default_price'], ['data.tax_code']);
  const wanted = new Set(query.array('ids'));
  const page = paginate(sequence(store.productView(), undefined, query), query, '/v1/products', (p) => wanted.size === 0 || wanted.has(p.id), 'product');
  if (!expand.has('data.default_price')) return page;
  return { ...page, data: page.data.map((p) => ({ ...p, default_price: typeof p.default_price === 'string' ? (store.findPrice(p.default_price) ?? p.default_price) : p.default_price })) };
}

function listDisputes({ store, search }: Call) {
  // Types Disputes.d.ts DisputeListParams: charge, created (range or number), expand, payment_intent
  // + pagination. Dispute.charge is `string | Charge` and Dispute.payment_intent
  // `string | PaymentIntent | null` (expandable); Charge.balance_transaction and Charge.customer are
  // expandable. The sync sends limit, created[gte]/[lt], starting_after and expand data.charge.
  const query = parseQuery(search, { ...LIST, created: 'range', charge: 'not_implemented', payment_intent: 'not_implemented' });
  const expand = readExpand(query, ['data.charge'], ['data.charge.balance_transaction', 'data.charge.customer', 'data.payment_intent']);
  const created = query.range('created');
  const page = paginate(sequence(store.disputeView(), undefined, query), query, '/v1/disputes', (d) => inRange(d.created, created), 'dispute');
  return { ...page, data: page.data.map((d) => renderDispute(store, d, expand.has('data.charge'))) };
}

/** Types EventListParams `types`: "An array of up to 20 strings". */
const MAX_EVENT_TYPES = 20;
/** docs.stripe.com/api/events/list: "List events, going back up to 30 days" (API-NOTES). */
const EVENT_RETENTION_SECONDS = 30 * DAY;

/**
 * GET /v1/events (types Events.d.ts EventListParams: created (RangeQueryParam or a number),
 * delivery_success, expand, type, types + pagination). Newest first, like every list; "going back up to
 * 30 days" from the store's present (StripeStore.now); each event rendered in its own API version, "not
 * according to your current Stripe API version or Stripe-Version header" (types, EventResource.list).
 * - `type`: "A string containing a specific event name, or group of events using * as a wildcard". Where
 *   the `*` may stand is not documented: the fake serves a trailing one (`customer.*`, `*`), matching every
 *   type that starts with what comes before it (so `charge.*` includes charge.dispute.*: also not
 *   documented), and answers fake_not_implemented for a `*` elsewhere.
 * - `types`: "An array of up to 20 strings containing specific event names ... You may pass either type or
 *   types, but not both": more than 20, a `*` in one, or both given answer 400 (the error texts are the
 *   fake's: Stripe's are not documented). Names that are no event type simply match nothing (not documented
 *   either way).
 * - delivery_success, expand and ending_before: real parameters the fake does not serve (fake_not_implemented).
 */
function listEvents({ store, search }: Call) {
  const query = parseQuery(search, {
    limit: 'integer',
    starting_after: 'string',
    ending_before: 'not_implemented',
    expand: 'not_implemented',
    delivery_success: 'not_implemented',
    created: 'full_range',
    type: 'string',
    types: 'array',
  });
  const type = query.string('type');
  const types = query.arrays.get('types');
  if (type !== undefined && types !== undefined) throw invalid('You may pass either `type` or `types`, but not both.', { param: 'types' });
  if (types !== undefined && types.length > MAX_EVENT_TYPES) throw invalid(`\`types\` takes an array of up to ${MAX_EVENT_TYPES} event names; you passed ${types.length}.`, { param: 'types' });
  if (types?.some((t) => t.includes('*'))) throw invalid('`types` takes specific event names; use `type` for a * wildcard.', { param: 'types' });
  if (type !== undefined && type.indexOf('*') !== -1 && type.indexOf('*') !== type.length - 1) throw notImplemented(`a * wildcard before the end of 'type' (${type})`, 'type');
  const prefix = type?.endsWith('*') ? type.slice(0, -1) : undefined;
  const wanted = types ? new Set(types) : null;
  const matches = (t: string) => (wanted ? wanted.has(t) : prefix !== undefined ? t.startsWith(prefix) : type === undefined || t === type);

  const limit = query.integer('limit') ?? 10;
  if (limit < 1) throw invalid('This value must be greater than or equal to 1.', { code: 'parameter_invalid_integer', param: 'limit' });
  if (limit > 100) throw invalid('This value must be less than or equal to 100.', { code: 'parameter_invalid_integer', param: 'limit' });
  const created = query.range('created') ?? {};
  const oldest = Math.max(store.now() - EVENT_RETENTION_SECONDS, created.gte ?? -Infinity, created.gt === undefined ? -Infinity : created.gt + 1, created.eq ?? -Infinity);
  const newest = Math.min(created.lt === undefined ? Infinity : created.lt - 1, created.lte ?? Infinity, created.eq ?? Infinity);

  const { order, created: at, type: typeOf, index } = store.eventView();
  // Newest first: walk the (created, seq) order backwards, from the cursor or from the newest allowed time.
  let i = order.length - 1;
  const after = query.string('starting_after');
  if (after !== undefined) {
    const at = index(eventSeq(after));
    if (at < 0) throw noSuch('event', after, 'starting_after');
    i = at - 1;
  } else {
    let lo = 0;
    let hi = order.length; // first index with created > newest
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (at[order[mid]!]! > newest) hi = mid;
      else lo = mid + 1;
    }
    i = lo - 1;
  }
  const data: number[] = [];
  for (; i >= 0 && data.length <= limit; i--) {
    const seq = order[i]!;
    if (at[seq]! < oldest) break;
    if (at[seq]! <= newest && matches(typeOf(seq))) data.push(seq);
  }
  const hasMore = data.length > limit;
  data.length = Math.min(data.length, limit);
  return { object: 'list', url: '/v1/events', has_more: hasMore, data: data.map((seq) => store.renderEvent(seq)) };
}

// -- rendering: shallow copies with expanded fields swapped in; the store is never changed --------

function renderCustomer(store: StripeStore, customer: Stripe.Customer, expandCoupon: boolean): Stripe.Customer {
  if (!expandCoupon || !customer.discount) return customer;
  return { ...customer, discount: renderDiscounts(store, [customer.discount])[0]! };
}

function customerRef(store: StripeStore, id: string): Stripe.Customer | Stripe.DeletedCustomer {
  if (store.isDeleted(id)) return { id, object: 'customer', deleted: true };
  return store.customer(id);
}

function renderCharge(store: StripeStore, charge: Stripe.Charge, expandBalanceTransaction: boolean): Stripe.Charge {
  const out = { ...charge };
  if (expandBalanceTransaction && typeof out.balance_transaction === 'string') {
    out.balance_transaction = store.balanceTransactions.get(out.balance_transaction)!;
  }
  return out;
}

function renderDispute(store: StripeStore, dispute: Stripe.Dispute, expandCharge: boolean): Stripe.Dispute {
  const out = { ...dispute, balance_transactions: dispute.balance_transactions.map((t) => ({ ...t })) };
  if (expandCharge && typeof out.charge === 'string') out.charge = renderCharge(store, store.find(out.charge) as Stripe.Charge, false);
  return out;
}

/** Discount ids as Discount objects with their coupon expanded (data.discounts.source.coupon). */
function renderDiscounts(store: StripeStore, discounts: Array<string | Stripe.Discount>): Stripe.Discount[] {
  return discounts.map((d) => {
    const discount = store.discounts.get(typeof d === 'string' ? d : d.id)!;
    const coupon = discount.source.coupon;
    if (typeof coupon !== 'string') return discount;
    return { ...discount, source: { ...discount.source, coupon: store.coupons.get(coupon)! } };
  });
}

function renderSubscription(store: StripeStore, sub: Stripe.Subscription, expandCoupons: boolean): Stripe.Subscription {
  const out = { ...sub, items: itemList(sub.id, store.itemsOf(sub.id)) };
  if (expandCoupons) out.discounts = renderDiscounts(store, sub.discounts);
  return out;
}

// ------------------------------------------------------------------------------------------------
// Routing
// ------------------------------------------------------------------------------------------------

const ROUTES: Array<{ pattern: string; handler: Handler }> = [
  { pattern: '/v1/customers', handler: listCustomers },
  { pattern: '/v1/customers/:id', handler: retrieveCustomer },
  { pattern: '/v1/charges', handler: listCharges },
  { pattern: '/v1/charges/:id', handler: retrieveCharge },
  { pattern: '/v1/subscriptions', handler: listSubscriptions },
  { pattern: '/v1/subscription_items', handler: listSubscriptionItems },
  { pattern: '/v1/prices', handler: listPrices },
  { pattern: '/v1/prices/:id', handler: retrievePrice },
  { pattern: '/v1/products', handler: listProducts },
  { pattern: '/v1/disputes', handler: listDisputes },
  { pattern: '/v1/invoices/:id', handler: retrieveInvoice },
  { pattern: '/v1/events', handler: listEvents },
];

// ------------------------------------------------------------------------------------------------
// Restricted keys
// ------------------------------------------------------------------------------------------------

/**
 * What a restricted key needs for each endpoint (API-NOTES, docs.stripe.com/keys#limit-access: every
 * endpoint needs its resource's permission), by the permission names of
 * docs.stripe.com/stripe-apps/reference/permissions ("Plans and Prices" is plan_read).
 */
const ROUTE_PERMISSIONS: Record<string, string> = {
  '/v1/customers': 'customer_read',
  '/v1/customers/:id': 'customer_read',
  '/v1/charges': 'charge_read',
  '/v1/charges/:id': 'charge_read',
  '/v1/subscriptions': 'subscription_read',
  '/v1/subscription_items': 'subscription_read',
  '/v1/prices': 'plan_read',
  '/v1/prices/:id': 'plan_read',
  '/v1/products': 'product_read',
  '/v1/disputes': 'dispute_read',
  '/v1/invoices/:id': 'invoice_read',
  // The "Events" resource of a restricted key: its 403 names rak_event_read (public integrations that
  // build restricted keys list it as "Events: Read"; the permissions reference, docs.stripe.com/stripe-apps/
  // reference/permissions, names the object permission event_read). Whether a key also needs each
  // payload object's permission is not documented: not required here.
  '/v1/events': 'event_read',
};

/**
 * What an expansion needs besides its endpoint, by the objects it expands ("If you're expanding
 * objects in the responses of your API requests, you must also request at least one corresponding
 * permission for each API object you expand", docs.stripe.com/stripe-apps/reference/permissions).
 * Checked on the request, whether or not the page holds an object to expand (the docs do not say
 * which: the sync does not depend on it, see its permission check).
 */
const EXPANSION_PERMISSIONS: Record<string, string> = {
  balance_transaction: 'balance_read',
  coupon: 'coupon_read',
  charge: 'charge_read',
  customer: 'customer_read',
  product: 'product_read',
  default_price: 'plan_read',
  latest_invoice: 'invoice_read',
};

/** The first permission a request needs that the key lacks, or null. */
function lackingPermission(pattern: string, search: URLSearchParams, granted: ReadonlySet<string>): string | null {
  const needed = [ROUTE_PERMISSIONS[pattern]];
  for (const [key, value] of search) if (/^expand(\[\d*\])?$/.test(key)) for (const segment of value.split('.')) needed.push(EXPANSION_PERMISSIONS[segment]);
  return needed.find((p): p is string => p !== undefined && !granted.has(p)) ?? null;
}

/** Stripe's answer to a restricted key without the permission (API-NOTES: the 403 names the permission). */
function permissionError(key: string, permission: string): ApiError {
  return new ApiError(403, {
    type: 'invalid_request_error',
    message:
      `The provided key '${maskApiKey(key)}' does not have the required permissions for this endpoint on account 'acct_fake0000000000'. ` +
      `Having the 'rak_${permission}' permission would allow this request to continue.`,
  });
}

function matchRoute(path: string): { pattern: string; handler: Handler; params: Record<string, string> } | null {
  const parts = path.split('/');
  for (const route of ROUTES) {
    const want = route.pattern.split('/');
    if (want.length !== parts.length) continue;
    const params: Record<string, string> = {};
    const ok = want.every((segment, i) => {
      const got = parts[i]!;
      if (!segment.startsWith(':')) return segment === got;
      if (got === '') return false;
      try {
        params[segment.slice(1)] = decodeURIComponent(got);
      } catch {
        return false;
      }
      return true;
    });
    if (ok) return { ...route, params };
  }
  return null;
}

// ------------------------------------------------------------------------------------------------
// The server
// ------------------------------------------------------------------------------------------------

function presentedKey(header: string | undefined): string | null {
  if (!header) return null;
  const bearer = /^Bearer\s+(.*)$/i.exec(header);
  if (bearer) return bearer[1]!.trim();
  const basic = /^Basic\s+(.*)$/i.exec(header);
  if (basic) return Buffer.from(basic[1]!, 'base64').toString('utf8').split(':')[0] ?? '';
  return '';
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export async function startFakeStripe(opts: FakeStripeOptions = {}): Promise<FakeStripe> {
  const apiKey = opts.apiKey ?? DEFAULT_API_KEY;
  // The key's mode is the data's mode (see the header): live keys are sk_live_ / rk_live_.
  const store = new StripeStore({
    livemode: /^(?:sk|rk)_live_/.test(apiKey),
    recordSeedEvents: opts.recordSeedEvents,
    eventApiVersion: opts.eventApiVersion,
    now: opts.now,
  });
  // A restricted key has only the permissions it was given (see FakeStripeOptions.permissions).
  const restricted = /^rk_/.test(apiKey);
  const granted = new Set(opts.permissions ?? []);
  const slowMs = opts.slowMs ?? 3000;
  let faults = opts.faults;
  const requests: FakeStripeRequest[] = [];
  let counters = { total: 0, byEndpoint: {} as Record<string, number>, rateLimited: 0, faults: 0 };
  const overallWindow = opts.rateLimit?.overall ? new RateWindow(opts.rateLimit.overall) : null;
  const endpointWindows = new Map<string, RateWindow>();
  let requestSeq = 0;

  /** True when this request is over either budget. Every request counts, rejected ones too. */
  function overRateLimit(endpoint: string): boolean {
    const perEndpoint = opts.rateLimit?.perEndpoint;
    let window = endpointWindows.get(endpoint);
    if (!window && perEndpoint) endpointWindows.set(endpoint, (window = new RateWindow(perEndpoint)));
    const overall = overallWindow ? overallWindow.take() : 0;
    const endpointWait = window ? window.take() : 0;
    return overall > 0 || endpointWait > 0;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const path = url.pathname;
    const entry: FakeStripeRequest = { method, path, query: url.search.slice(1), status: 0 };
    requests.push(entry);
    res.on('close', () => {
      if (!res.headersSent) entry.status = 0;
    });

    const route = matchRoute(path);
    const endpoint = route?.pattern ?? path;
    counters.total += 1;
    counters.byEndpoint[endpoint] = (counters.byEndpoint[endpoint] ?? 0) + 1;

    const info: RequestInfo = { method, path, query: url.searchParams, body: parseJson(await readBody(req)) };
    const latency = typeof opts.latencyMs === 'function' ? opts.latencyMs(info) : (opts.latencyMs ?? 0);
    const wait = async (ms: number) => {
      if (ms > 0) await sleep(ms);
    };
    res.setHeader('request-id', `req_fake${String(++requestSeq).padStart(10, '0')}`);
    res.setHeader('stripe-version', (req.headers['stripe-version'] as string | undefined) ?? API_VERSION);

    const send = (status: number, text: string, headers: Record<string, string> = {}) => {
      if (res.destroyed) return;
      entry.status = status;
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers });
      res.end(text);
    };
    const sendError = (e: ApiError) => send(e.status, JSON.stringify({ error: e.body }), e.headers);

    // 1. Authentication.
    const key = presentedKey(req.headers.authorization);
    if (key !== apiKey) {
      await wait(latency);
      return sendError(authError(key));
    }
    // 2. Rate limits (answered fast).
    if (overRateLimit(endpoint)) {
      counters.rateLimited += 1;
      await wait(Math.min(latency, 20));
      return sendError(rateLimitError());
    }
    // 3. Injected faults replace the answer.
    const fault = faults?.(info) ?? null;
    if (fault) {
      counters.faults += 1;
      await wait(latency);
      if (res.destroyed) return;
      // Stripe endpoints here are reads, so nothing "lands": landed_drop / landed_502 / landed_slow are
      // sent exactly like drop / server_502 / slow (no route runs, sendFault gets no landed answer).
      sendFault(fault, res, (status) => faultBody(status, key), slowMs);
      // 'drop' sends nothing (0), 'truncated' a 200 head, 'slow' a 503 later unless the client gives up.
      entry.status = res.headersSent ? res.statusCode : 0;
      res.on('finish', () => (entry.status = res.statusCode));
      return;
    }
    // 4. The endpoint's answer, serialized now (a snapshot of the store) and sent after the latency.
    let status = 200;
    let text: string;
    let headers: Record<string, string> = {};
    try {
      if (!route || method !== 'GET') throw unrecognizedUrl(method, path);
      const lacking = restricted ? lackingPermission(route.pattern, url.searchParams, granted) : null;
      if (lacking) throw permissionError(key, lacking);
      const result = route.handler({ store, search: url.searchParams, params: route.params });
      if ((result as { object?: string }).object === 'list') entry.objects = (result as { data: unknown[] }).data.length;
      text = JSON.stringify(result);
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      status = e.status;
      text = JSON.stringify({ error: e.body });
      headers = e.headers;
    }
    await wait(latency);
    send(status, text, headers);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      console.error('fake-stripe: internal error', err);
      if (!res.headersSent && !res.destroyed) {
        const text = JSON.stringify({ error: { type: 'api_error', message: `fake-stripe internal error: ${String(err)}` } });
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(text);
      }
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    store,
    requests,
    stats: () => ({ ...counters, byEndpoint: { ...counters.byEndpoint } }),
    resetStats: () => {
      counters = { total: 0, byEndpoint: {}, rateLimited: 0, faults: 0 };
      requests.length = 0;
    },
    setFaults: (f) => {
      faults = f;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
