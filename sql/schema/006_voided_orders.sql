-- Orders voided as a whole (Shopify's "Cancelled at"): the order itself is cancelled, not a record that
-- offsets an earlier one, so it is worth nothing rather than its value taken off. A voided order is also
-- a cancellation (is_cancellation), so every "not is_cancellation" filter already leaves it out; its
-- revenue is stored as 0 while its order_lines keep the lines as exported.
alter table orders add column is_voided boolean default false;
