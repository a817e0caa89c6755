-- API keys for scripts (only the Argon2 hash of each secret) and the append-only audit log of writes.
CREATE TABLE geo_catalog.api_keys (
    key_id         text        PRIMARY KEY,
    name           text        NOT NULL,
    role           text        NOT NULL CHECK (role IN ('reader', 'editor', 'admin')),
    municipalities text[]      NOT NULL,
    secret_hash    text        NOT NULL,
    created        timestamptz NOT NULL,
    expires        timestamptz,
    revoked        timestamptz
);

CREATE TABLE geo_catalog.audit_log (
    entry_id      bigserial   PRIMARY KEY,
    at            timestamptz NOT NULL DEFAULT now(),
    actor         text        NOT NULL,
    action        text        NOT NULL,
    target        text        NOT NULL,
    result        text        NOT NULL,
    source_name   text        NOT NULL,
    source_sha256 text        NOT NULL,
    detail        json        NOT NULL
);
CREATE INDEX audit_log_target ON geo_catalog.audit_log (target, entry_id);

-- soft-deleted layers: hidden from readers, versions kept until the retention period ends
ALTER TABLE geo_catalog.layers ADD COLUMN removed timestamptz;
