-- Every transaction that changes the layers table (publish, rollback, removal, restore) notifies channel
-- geo_catalog_versions at its commit: each service process keeps the current versions in memory and re-reads
-- them when told (layers.pg_versions).
CREATE FUNCTION geo_catalog.notify_versions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('geo_catalog_versions', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER layers_notify_versions AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON geo_catalog.layers
    FOR EACH STATEMENT EXECUTE FUNCTION geo_catalog.notify_versions();
