-- 0012_call_node: a call record names the cluster node that owns its call
-- (cluster.node_id; '' on a single node), so that a node restarting
-- closes only its own records left open, and a surviving node closes a
-- dead node's. The partial index finds the open records of a node.

ALTER TABLE call_records ADD COLUMN node_id TEXT NOT NULL DEFAULT '';
CREATE INDEX call_records_open_node ON call_records(node_id) WHERE ended_at IS NULL;
