-- Set-based projection writes. sse_sink_apply runs dynamic SQL once per op; a batch of thousands of
-- users or documents spent most of its commit there. sse_sink_write takes the batch's ops in groups:
--   {"run": true, "table", "ops": [put, put, …]}: puts on one table with the same columns and
--     distinct keys, so their order does not matter: one statement for all of them;
--   {"ops": [op, …]}: anything else, through sse_sink_apply, in order.
-- The grouping (src/store/postgres/projection-groups.ts) keeps each table's ops in their order;
-- ops on different tables never touch the same row or tombstone.
-- A run applies each put under the rules of sse_sink_apply: skipped when its tombstone is newer,
-- written when newer than the stored row, and (with `expect`) a revision mismatch when the stored
-- row is older and holds another value, or there is none and a value was expected.

CREATE FUNCTION sse_sink_put_run(p_stream text, p_table text, p_ops jsonb) RETURNS jsonb
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  first jsonb := p_ops->0;
  shape jsonb := (first->'key') || coalesce(first->'derived', '{}'::jsonb) || (first->'values')
    || jsonb_build_object('stream', null, 'event_time', null, 'event_seq', null);
  expect_column text := first->'expect'->>'column';
  key_where text;
  key_columns text;
  all_columns text;
  updates text;
  from_excluded text;
  mismatches jsonb;
BEGIN
  SELECT 't.stream = r.stream AND ' || string_agg(format('t.%I = r.%I', c, c), ' AND '), string_agg(format('%I', c), ', ')
    INTO key_where, key_columns FROM jsonb_object_keys(first->'key') AS c;
  SELECT string_agg(format('%I', c), ', ') INTO all_columns FROM jsonb_object_keys(shape) AS c;
  SELECT string_agg(format('%I', c), ', '), string_agg(format('excluded.%I', c), ', ') INTO updates, from_excluded
    FROM (SELECT jsonb_object_keys(first->'values') UNION ALL SELECT 'event_time' UNION ALL SELECT 'event_seq') AS u(c);
  -- Every part of one statement sees the rows as they were before it: the mismatches are read
  -- against what the puts found, as sse_sink_apply reads them before each write.
  EXECUTE format($sql$
    WITH r AS (
      SELECT x.ord AS sse_ord, x.o->'key' AS sse_key, x.o->'expect'->>'value' AS sse_expected, p.*
      FROM jsonb_array_elements($1) WITH ORDINALITY AS x(o, ord)
      CROSS JOIN LATERAL jsonb_populate_record(null::%1$I, (x.o->'key') || coalesce(x.o->'derived', '{}'::jsonb) || (x.o->'values')
        || jsonb_build_object('stream', $2::text, 'event_time', x.o->'time', 'event_seq', (x.o->>'seq')::bigint)) AS p
      WHERE NOT EXISTS (SELECT 1 FROM projection_tombstones o WHERE o.table_name = $3
        AND o.row_key = (jsonb_build_array($2::text) || coalesce((SELECT jsonb_agg(value ORDER BY key) FROM jsonb_each(x.o->'key')), '[]'::jsonb))::text
        AND (o.event_time, o.event_seq) > (p.event_time, p.event_seq))
    ), written AS (
      INSERT INTO %1$I AS t (%2$s) SELECT %2$s FROM r
      ON CONFLICT (stream, %3$s) DO UPDATE SET (%4$s) = ROW(%5$s)
      WHERE (excluded.event_time, excluded.event_seq) > (t.event_time, t.event_seq)
    )
    SELECT coalesce(jsonb_agg(jsonb_build_object('table', $3, 'key', r.sse_key, 'column', $4, 'expected', r.sse_expected,
        'found', CASE WHEN t.stream IS NULL THEN NULL ELSE t.%6$I::text END) ORDER BY r.sse_ord), '[]'::jsonb)
    FROM r LEFT JOIN %1$I t ON %7$s
    WHERE $4::text IS NOT NULL
      AND ((t.stream IS NULL AND r.sse_expected IS NOT NULL)
        OR ((t.event_time, t.event_seq) < (r.event_time, r.event_seq) AND t.%6$I::text IS DISTINCT FROM r.sse_expected))
  $sql$, p_table, all_columns, key_columns, updates, from_excluded, coalesce(expect_column, 'stream'), key_where)
  INTO mismatches USING p_ops, p_stream, p_table, expect_column;
  RETURN mismatches;
END $$;
--> statement-breakpoint
CREATE FUNCTION sse_sink_write(p_stream text, p_groups jsonb) RETURNS jsonb
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  grp jsonb;
  mismatches jsonb := '[]'::jsonb;
BEGIN
  FOR grp IN SELECT value FROM jsonb_array_elements(p_groups) LOOP
    IF (grp->>'run')::boolean THEN
      mismatches := mismatches || sse_sink_put_run(p_stream, grp->>'table', grp->'ops');
    ELSE
      mismatches := mismatches || sse_sink_apply(p_stream, grp->'ops');
    END IF;
  END LOOP;
  RETURN mismatches;
END $$;
