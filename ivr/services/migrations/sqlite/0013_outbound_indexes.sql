-- What the dialler asks each second, answered from indexes (bench/dialler_pass.py): the due
-- contacts of a campaign in order (by state, then next attempt and file line: no sort of the
-- whole list), and a number's callbacks for the compliance gate's history of dials.
CREATE INDEX outbound_contacts_due_order ON outbound_contacts (campaign, state, next_attempt_at, line);
DROP INDEX outbound_contacts_due;
CREATE INDEX callbacks_number ON callbacks (number);
