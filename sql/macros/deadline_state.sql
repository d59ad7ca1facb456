{#
  The one state rule of every covenant deadline (mart_referrals): given whether the deadline applies (it has
  a start), its due date, the event's date, the date the case ended and the reference date:
    not_applicable  the deadline has no start
    met / missed    the event happened on or before / after the due date
    not_required    no event; the case ended on or before the due date
    missed          no event; the case ended after the due date
    open_overdue    no event, the case is open and the reference date is past the due date ("overdue now")
    open_in_time    no event, the case is open, the due date has not passed
  An expression, evaluated per row: each deadline's state is a column of the case's row (no union of the
  deadlines and no regrouping per case).
#}
{% macro deadline_state(applies, due_date, event_date, ended_date, reference_date) %}
    CASE
      WHEN NOT ({{ applies }}) THEN 'not_applicable'
      WHEN {{ event_date }} IS NOT NULL AND {{ event_date }} <= {{ due_date }} THEN 'met'
      WHEN {{ event_date }} IS NOT NULL THEN 'missed'
      WHEN {{ ended_date }} IS NOT NULL AND {{ ended_date }} <= {{ due_date }} THEN 'not_required'
      WHEN {{ ended_date }} IS NOT NULL THEN 'missed'
      WHEN {{ reference_date }} > {{ due_date }} THEN 'open_overdue'
      ELSE 'open_in_time'
    END
{% endmacro %}
