DROP TRIGGER clients_count ON clients;
DROP FUNCTION clients_count();
DROP TABLE client_counts;
DROP TABLE admin_tokens;
ALTER TABLE clients DROP COLUMN search_text;
ALTER TABLE clients DROP COLUMN previous_secret_valid_until;
ALTER TABLE clients DROP COLUMN previous_secret_hash;
ALTER TABLE clients DROP COLUMN settings;
ALTER TABLE clients DROP COLUMN revision;
