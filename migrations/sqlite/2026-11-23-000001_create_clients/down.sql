DROP TABLE registration_access_tokens;
DROP TABLE clients;
