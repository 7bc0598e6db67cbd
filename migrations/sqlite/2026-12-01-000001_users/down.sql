DROP TABLE consents;
DROP TABLE sessions;
DROP TABLE users;
