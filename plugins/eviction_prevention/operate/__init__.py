"""Operate: what runs beside the stages: alerts, retention, warehouse access, the compliance dashboard."""
