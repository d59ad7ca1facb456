"""Publish: ``rebuild`` the intermediate models, the links and the marts in one transaction (with the working-day
calendar of ``statutory_calendar``), keep the analysts' data ``dictionary``, and tell each partner what happened
to its cases (``feedback``, under the rules of ``feedback_policy``).
"""
