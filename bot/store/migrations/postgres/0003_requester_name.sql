-- The member's display name when they asked: the bot has no member list (no privileged intent),
-- so reports name members by what their own requests carried. '' for jobs from before.
ALTER TABLE jobs ADD COLUMN requester_name TEXT NOT NULL DEFAULT '';
