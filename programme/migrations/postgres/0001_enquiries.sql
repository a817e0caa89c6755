-- Enquiries, their history, offered sites, tasks and municipal planning capacity (PostgreSQL dialect,
-- schema "programme"; made by programme.db with the search_path set).
CREATE TABLE programme.enquiries (
    id text PRIMARY KEY,
    company text NOT NULL,
    org_number text,
    nace text,
    contact_name text, contact_email text, contact_phone text,
    needs text NOT NULL,
    source text,
    confidential integer NOT NULL,
    lead_municipality text NOT NULL,
    lead_planner text,
    received timestamptz NOT NULL,
    status text NOT NULL,
    decision_reason text,
    created_by text NOT NULL,
    updated timestamptz NOT NULL
);
CREATE INDEX enquiries_status ON programme.enquiries (status);
CREATE INDEX enquiries_lead ON programme.enquiries (lead_municipality);
CREATE TABLE programme.enquiry_events (
    id bigserial PRIMARY KEY,
    enquiry_id text NOT NULL REFERENCES programme.enquiries (id),
    at timestamptz NOT NULL,
    actor text NOT NULL,
    action text NOT NULL,
    from_status text,
    to_status text,
    detail text NOT NULL
);
CREATE INDEX enquiry_events_enquiry ON programme.enquiry_events (enquiry_id, at);
CREATE TABLE programme.enquiry_offers (
    id bigserial PRIMARY KEY,
    enquiry_id text NOT NULL REFERENCES programme.enquiries (id),
    site_id text NOT NULL,
    offered_at timestamptz NOT NULL,
    offered_by text NOT NULL,
    facts text NOT NULL,
    layer_versions text NOT NULL
);
CREATE TABLE programme.enquiry_tasks (
    id bigserial PRIMARY KEY,
    enquiry_id text NOT NULL REFERENCES programme.enquiries (id),
    title text NOT NULL,
    hours_per_week double precision NOT NULL,
    municipality text NOT NULL,
    planner text,
    done integer NOT NULL DEFAULT 0,
    created timestamptz NOT NULL
);
CREATE TABLE programme.capacity (
    municipality text NOT NULL,
    period_start date NOT NULL,
    period_end date NOT NULL,
    hours_per_week double precision NOT NULL,
    planners text NOT NULL,
    declared_by text NOT NULL,
    declared_at timestamptz NOT NULL,
    PRIMARY KEY (municipality, period_start)
);
