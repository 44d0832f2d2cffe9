-- Which courier holds a claimed message's lease: a replica whose lease ran
-- out, and whose message another claimed since, then cannot give it back
-- to the queue or record its failure over the other's claim.
ALTER TABLE messages ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
