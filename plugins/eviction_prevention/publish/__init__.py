"""Publish: rebuild the intermediate models, the links and the marts in one transaction, and tell each partner
what happened to its cases (``feedback``).
"""
