-- A message is stored as what it says (its template's inputs, as JSON) and
-- written out when it is sent or read: creating an account no longer
-- renders and stores kilobytes of text. Sent messages keep the text they
-- were sent with, and an empty data.
ALTER TABLE messages ADD COLUMN data TEXT NOT NULL DEFAULT '';
