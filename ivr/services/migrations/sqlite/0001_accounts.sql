-- Accounts for self-service: balances in minor units (won, cents), PINs as scrypt hashes,
-- consecutive wrong PINs and the phone-channel lock kept with the account so they survive
-- a restart. Same logical schema as postgresql/0001_accounts.sql.
CREATE TABLE accounts (
    account_no      TEXT PRIMARY KEY,
    holder          TEXT NOT NULL DEFAULT '',
    currency        TEXT NOT NULL CHECK (currency IN ('KRW', 'USD')),
    balance_minor   BIGINT NOT NULL DEFAULT 0,
    pin_hash        TEXT NOT NULL,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    locked          BOOLEAN NOT NULL DEFAULT FALSE,
    locked_at       TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL
);

-- Caller numbers known to belong to an account (normalized digits, national form).
CREATE TABLE account_phones (
    number      TEXT NOT NULL,
    account_no  TEXT NOT NULL REFERENCES accounts (account_no) ON DELETE CASCADE,
    PRIMARY KEY (number, account_no)
);

CREATE TABLE account_transactions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    account_no    TEXT NOT NULL REFERENCES accounts (account_no) ON DELETE CASCADE,
    booked_on     DATE NOT NULL,
    amount_minor  BIGINT NOT NULL,
    description   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX account_transactions_recent ON account_transactions (account_no, booked_on);

-- Every PIN verification, by caller: the rate limit counts the recent failures per caller
-- number (across accounts); 'pending' marks one in progress. Never holds a PIN.
CREATE TABLE auth_attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    caller      TEXT NOT NULL,
    account_no  TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX auth_attempts_caller ON auth_attempts (caller, at);
