-- What a committed job cost in US dollars at the list prices of bot/prices.toml when it was
-- settled (bot/quotas/money.py), as decimal text to the micro-dollar. Kept, not recomputed when
-- read: the stored usage lacks the text/image split of its input, and a later price table must
-- not rewrite what past jobs cost. NULL: refunded, settled before this column, or no price known.
ALTER TABLE reservations ADD COLUMN cost_usd TEXT;
