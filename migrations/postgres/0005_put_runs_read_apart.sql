-- sse_sink_put_run (0002_put_runs.sql) read each put's row from key || derived || values: every
-- || rebuilds the whole object, an entity's or a document's JSON included, three times a put. Each
-- part is now read apart (jsonb_populate_record of each), a column from the part that holds it.
CREATE OR REPLACE FUNCTION sse_sink_put_run(p_stream text, p_table text, p_ops jsonb) RETURNS jsonb
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  first jsonb := p_ops->0;
  expect_column text := first->'expect'->>'column';
  key_where text;
  key_columns text;
  all_columns text;
  row_columns text;
  updates text;
  from_excluded text;
  mismatches jsonb;
BEGIN
  SELECT 't.stream = r.stream AND ' || string_agg(format('t.%I = r.%I', c, c), ' AND '), string_agg(format('%I', c), ', ')
    INTO key_where, key_columns FROM jsonb_object_keys(first->'key') AS c;
  -- Each column from the one part of the op that holds it (values over derived over key).
  SELECT string_agg(format('%I', c), ', '), string_agg(format('%s.%I', part, c), ', ')
    INTO all_columns, row_columns
    FROM (SELECT DISTINCT ON (c) c, part FROM (
      SELECT c, 'v' AS part, 1 AS rank FROM jsonb_object_keys(first->'values') AS c
      UNION ALL SELECT c, 'd', 2 FROM jsonb_object_keys(coalesce(first->'derived', '{}'::jsonb)) AS c
      UNION ALL SELECT c, 'k', 3 FROM jsonb_object_keys(first->'key') AS c) AS parts ORDER BY c, rank) AS chosen;
  SELECT string_agg(format('%I', c), ', '), string_agg(format('excluded.%I', c), ', ') INTO updates, from_excluded
    FROM (SELECT jsonb_object_keys(first->'values') UNION ALL SELECT 'event_time' UNION ALL SELECT 'event_seq') AS u(c);
  -- Every part of one statement sees the rows as they were before it: the mismatches are read
  -- against what the puts found, as sse_sink_apply reads them before each write.
  EXECUTE format($sql$
    WITH r AS (
      SELECT x.ord AS sse_ord, x.o->'key' AS sse_key, x.o->'expect'->>'value' AS sse_expected,
        $2::text AS stream, %8$s, (x.o->>'time')::timestamptz AS event_time, (x.o->>'seq')::bigint AS event_seq
      FROM jsonb_array_elements($1) WITH ORDINALITY AS x(o, ord)
      CROSS JOIN LATERAL jsonb_populate_record(null::%1$I, x.o->'key') AS k
      CROSS JOIN LATERAL jsonb_populate_record(null::%1$I, x.o->'values') AS v
      CROSS JOIN LATERAL jsonb_populate_record(null::%1$I, coalesce(x.o->'derived', '{}'::jsonb)) AS d
      WHERE NOT EXISTS (SELECT 1 FROM projection_tombstones o WHERE o.table_name = $3
        AND o.row_key = (jsonb_build_array($2::text) || coalesce((SELECT jsonb_agg(value ORDER BY key) FROM jsonb_each(x.o->'key')), '[]'::jsonb))::text
        AND (o.event_time, o.event_seq) > ((x.o->>'time')::timestamptz, (x.o->>'seq')::bigint))
    ), written AS (
      INSERT INTO %1$I AS t (stream, %2$s, event_time, event_seq) SELECT stream, %2$s, event_time, event_seq FROM r
      ON CONFLICT (stream, %3$s) DO UPDATE SET (%4$s) = ROW(%5$s)
      WHERE (excluded.event_time, excluded.event_seq) > (t.event_time, t.event_seq)
    )
    SELECT coalesce(jsonb_agg(jsonb_build_object('table', $3, 'key', r.sse_key, 'column', $4, 'expected', r.sse_expected,
        'found', CASE WHEN t.stream IS NULL THEN NULL ELSE t.%6$I::text END) ORDER BY r.sse_ord), '[]'::jsonb)
    FROM r LEFT JOIN %1$I t ON %7$s
    WHERE $4::text IS NOT NULL
      AND ((t.stream IS NULL AND r.sse_expected IS NOT NULL)
        OR ((t.event_time, t.event_seq) < (r.event_time, r.event_seq) AND t.%6$I::text IS DISTINCT FROM r.sse_expected))
  $sql$, p_table, all_columns, key_columns, updates, from_excluded, coalesce(expect_column, 'stream'), key_where, row_columns)
  INTO mismatches USING p_ops, p_stream, p_table, expect_column;
  RETURN mismatches;
END $$;
