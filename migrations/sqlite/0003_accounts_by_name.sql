-- Bootstrap (`serve --bootstrap-token`) finds its account by name.
CREATE INDEX accounts_by_name ON accounts (name, created_at_ms);
