-- The catalog of layers and their versions. Each version's features live in their own table in the
-- geo_layers schema (created by the store on publish, never altered afterwards).
CREATE EXTENSION IF NOT EXISTS postgis;

CREATE SCHEMA IF NOT EXISTS geo_layers;

CREATE TABLE geo_catalog.versions (
    layer_id      text             NOT NULL,
    version       integer          NOT NULL CHECK (version > 0),
    created       timestamptz      NOT NULL DEFAULT now(),
    feature_count bigint           NOT NULL,
    geometry_type text             NOT NULL,
    bbox          double precision[] NOT NULL CHECK (cardinality(bbox) = 4),  -- working CRS; NaN when empty
    fields        json             NOT NULL,  -- json, not jsonb: the field order is the column order
    provenance    json             NOT NULL,
    location      text             NOT NULL UNIQUE,  -- geo_layers.<table>
    PRIMARY KEY (layer_id, version)
);

CREATE TABLE geo_catalog.layers (
    id              text        PRIMARY KEY,
    kind            text        NOT NULL,
    title           text        NOT NULL,
    description     text        NOT NULL,
    attribution     text        NOT NULL,
    current_version integer     NOT NULL,
    updated         timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (id, current_version) REFERENCES geo_catalog.versions (layer_id, version)
);
