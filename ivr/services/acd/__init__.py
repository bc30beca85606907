"""ACD: queues of waiting callers, agents, distribution strategies, queue_log and KPIs."""
