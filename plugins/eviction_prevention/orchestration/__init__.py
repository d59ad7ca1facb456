"""Orchestration: the task wrappers the DAG files call, the warehouse Assets, the DAGs' shared defaults."""
