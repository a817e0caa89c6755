-- Enquiries, their history, offered sites, tasks and municipal planning capacity (SQLite dialect).
CREATE TABLE enquiries (
    id TEXT PRIMARY KEY,
    company TEXT NOT NULL,
    org_number TEXT,
    nace TEXT,
    contact_name TEXT, contact_email TEXT, contact_phone TEXT,
    needs TEXT NOT NULL,                 -- JSON: land_daa, premises_m2, power_mw, jobs, timeline, ...
    source TEXT,
    confidential INTEGER NOT NULL,
    lead_municipality TEXT NOT NULL,
    lead_planner TEXT,
    received TEXT NOT NULL,
    status TEXT NOT NULL,
    decision_reason TEXT,
    created_by TEXT NOT NULL,
    updated TEXT NOT NULL
);
CREATE INDEX enquiries_status ON enquiries (status);
CREATE INDEX enquiries_lead ON enquiries (lead_municipality);
CREATE TABLE enquiry_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    enquiry_id TEXT NOT NULL REFERENCES enquiries (id),
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    from_status TEXT,
    to_status TEXT,
    detail TEXT NOT NULL
);
CREATE INDEX enquiry_events_enquiry ON enquiry_events (enquiry_id, at);
CREATE TABLE enquiry_offers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    enquiry_id TEXT NOT NULL REFERENCES enquiries (id),
    site_id TEXT NOT NULL,
    offered_at TEXT NOT NULL,
    offered_by TEXT NOT NULL,
    facts TEXT NOT NULL,
    layer_versions TEXT NOT NULL
);
CREATE TABLE enquiry_tasks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    enquiry_id TEXT NOT NULL REFERENCES enquiries (id),
    title TEXT NOT NULL,
    hours_per_week REAL NOT NULL,
    municipality TEXT NOT NULL,
    planner TEXT,
    done INTEGER NOT NULL DEFAULT 0,
    created TEXT NOT NULL
);
CREATE TABLE capacity (
    municipality TEXT NOT NULL,
    period_start TEXT NOT NULL,
    period_end TEXT NOT NULL,
    hours_per_week REAL NOT NULL,
    planners TEXT NOT NULL,
    declared_by TEXT NOT NULL,
    declared_at TEXT NOT NULL,
    PRIMARY KEY (municipality, period_start)
);
