-- The projection rules of src/store/sqlite/projections.ts, run inside PostgreSQL so that a batch's
-- projection writes are one round trip: every op is guarded by (event time, arrival seq) and
-- applies only when newer than what last wrote the row, or (for a put) than its tombstone. A put
-- with `expect` reports a revision mismatch when the stored row holds another value.
-- `p_ops` is a JSON array, in event order, of
--   {"op": "put", "table", "key", "values", "derived"?, "expect"?: {"column", "value"}, "time", "seq"}
--   {"op": "remove", "table", "key", "time", "seq"}
--   {"op": "remove-matching", "table", "match", "time", "seq"}
-- Table and column names come from sse-sink's code, never from upstream data, and are quoted (%I).

CREATE FUNCTION sse_sink_remove(p_stream text, p_table text, p_key jsonb, p_time timestamptz, p_seq bigint) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  key_where text;
  tomb_key text;
BEGIN
  SELECT string_agg(format('t.%I = r.%I', c, c), ' AND ') INTO key_where FROM jsonb_object_keys(p_key) AS c;
  EXECUTE format('DELETE FROM %I t USING jsonb_populate_record(null::%I, $1) r WHERE t.stream = $2 AND %s AND (t.event_time, t.event_seq) < ($3, $4)',
    p_table, p_table, key_where)
    USING p_key, p_stream, p_time, p_seq;
  tomb_key := (jsonb_build_array(p_stream) || coalesce((SELECT jsonb_agg(value ORDER BY key) FROM jsonb_each(p_key)), '[]'::jsonb))::text;
  INSERT INTO projection_tombstones AS o (table_name, row_key, event_time, event_seq) VALUES (p_table, tomb_key, p_time, p_seq)
    ON CONFLICT (table_name, row_key) DO UPDATE SET event_time = excluded.event_time, event_seq = excluded.event_seq
    WHERE (excluded.event_time, excluded.event_seq) > (o.event_time, o.event_seq);
END $$;
--> statement-breakpoint
CREATE FUNCTION sse_sink_apply(p_stream text, p_ops jsonb) RETURNS jsonb
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  op jsonb;
  tbl text;
  op_time timestamptz;
  op_seq bigint;
  tomb_key text;
  row_json jsonb;
  key_where text;
  key_columns text;
  all_columns text;
  updates text;
  from_r text;
  from_excluded text;
  changed int;
  found_value text;
  found_older boolean;
  expected text;
  mismatches jsonb := '[]'::jsonb;
  pk_columns text[];
  match_where text;
  matched jsonb;
BEGIN
  FOR op IN SELECT value FROM jsonb_array_elements(p_ops) LOOP
    tbl := op->>'table';
    op_time := (op->>'time')::timestamptz;
    op_seq := (op->>'seq')::bigint;
    CASE op->>'op'
    WHEN 'put' THEN
      tomb_key := (jsonb_build_array(p_stream) || coalesce((SELECT jsonb_agg(value ORDER BY key) FROM jsonb_each(op->'key')), '[]'::jsonb))::text;
      CONTINUE WHEN EXISTS (SELECT 1 FROM projection_tombstones o WHERE o.table_name = tbl AND o.row_key = tomb_key
        AND (o.event_time, o.event_seq) > (op_time, op_seq));
      row_json := (op->'key') || coalesce(op->'derived', '{}'::jsonb) || (op->'values')
        || jsonb_build_object('stream', p_stream, 'event_time', op->'time', 'event_seq', op_seq);
      SELECT string_agg(format('t.%I = r.%I', c, c), ' AND '), string_agg(format('%I', c), ', ')
        INTO key_where, key_columns FROM jsonb_object_keys(op->'key') AS c;
      key_where := 't.stream = r.stream AND ' || key_where;
      SELECT string_agg(format('%I', c), ', '), string_agg(format('r.%I', c), ', '), string_agg(format('excluded.%I', c), ', ')
        INTO updates, from_r, from_excluded
        FROM (SELECT jsonb_object_keys(op->'values') UNION ALL SELECT 'event_time' UNION ALL SELECT 'event_seq') AS u(c);
      IF op ? 'expect' THEN
        expected := op->'expect'->>'value';
        -- The common case in one statement: the row is there, older, and holds the expected value.
        EXECUTE format('UPDATE %I t SET (%s) = ROW(%s) FROM jsonb_populate_record(null::%I, $1) r
            WHERE %s AND (t.event_time, t.event_seq) < (r.event_time, r.event_seq) AND t.%I::text = $2',
          tbl, updates, from_r, tbl, key_where, op->'expect'->>'column')
          USING row_json, expected;
        GET DIAGNOSTICS changed = ROW_COUNT;
        CONTINUE WHEN changed = 1;
        EXECUTE format('SELECT t.%I::text, (t.event_time, t.event_seq) < (r.event_time, r.event_seq)
            FROM %I t, jsonb_populate_record(null::%I, $1) r WHERE %s',
          op->'expect'->>'column', tbl, tbl, key_where)
          INTO found_value, found_older USING row_json;
        -- A newer row: this event is late, not a gap. No row at all: what came before it was never stored.
        IF (found_older IS NULL AND expected IS NOT NULL)
            OR (found_older AND found_value IS DISTINCT FROM expected) THEN
          mismatches := mismatches || jsonb_build_object('table', tbl, 'key', op->'key', 'column', op->'expect'->>'column',
            'expected', expected, 'found', CASE WHEN found_older IS NULL THEN NULL ELSE found_value END);
        END IF;
      END IF;
      SELECT string_agg(format('%I', c), ', ') INTO all_columns FROM jsonb_object_keys(row_json) AS c;
      EXECUTE format('INSERT INTO %I AS t (%s) SELECT %s FROM jsonb_populate_record(null::%I, $1) r
          ON CONFLICT (stream, %s) DO UPDATE SET (%s) = ROW(%s)
          WHERE (excluded.event_time, excluded.event_seq) > (t.event_time, t.event_seq)',
        tbl, all_columns, all_columns, tbl, key_columns, updates, from_excluded)
        USING row_json;
    WHEN 'remove' THEN
      PERFORM sse_sink_remove(p_stream, tbl, op->'key', op_time, op_seq);
    WHEN 'remove-matching' THEN
      SELECT array_agg(a.attname::text) INTO pk_columns FROM pg_index i
        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
        WHERE i.indrelid = tbl::regclass AND i.indisprimary AND a.attname <> 'stream';
      SELECT string_agg(format('t.%I = r.%I', c, c), ' AND ') INTO match_where FROM jsonb_object_keys(op->'match') AS c;
      FOR matched IN EXECUTE format('SELECT to_jsonb(t) FROM %I t, jsonb_populate_record(null::%I, $1) r
          WHERE t.stream = $2 AND %s AND (t.event_time, t.event_seq) < ($3, $4)', tbl, tbl, match_where)
          USING op->'match', p_stream, op_time, op_seq LOOP
        PERFORM sse_sink_remove(p_stream, tbl, (SELECT jsonb_object_agg(key, value) FROM jsonb_each(matched) WHERE key = ANY (pk_columns)),
          op_time, op_seq);
      END LOOP;
    END CASE;
  END LOOP;
  RETURN mismatches;
END $$;
