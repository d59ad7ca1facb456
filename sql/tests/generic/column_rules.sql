{#
  Every column rule of one table in one scan: unique, not_null and accepted_values, each with dbt's meaning
  (unique and accepted_values let NULLs pass; not_null catches them). Returns one row per broken rule, in the
  order given (rule, failures: its offending rows); none when the table keeps every rule. The test's failure
  count is the sum of the offending rows.

  Why one test per table and not dbt's built-in test per column: a publish run's audit runs every test before
  analysts see a build, and dbt spends ~15-50 ms of its own on each test node, whatever the table's size.
  Folded, the marts step's 34 column tests are 7 scans (README, "Publish"; issue 19). Relationships stay dbt's
  built-in test: each is a join of its own.

    data_tests:
    - column_rules:
        name: column_rules_mart_x
        arguments:
          unique: [case_id]
          not_null: [case_id, report_state]
          accepted_values:
            report_state: [met, missed]
#}
{% test column_rules(model, unique=[], not_null=[], accepted_values={}) %}
{{ config(fail_calc='coalesce(sum(failures), 0)') }}
{%- set rules = [] -%}
{%- for column in unique -%}
  {%- do rules.append(('unique ' ~ column, 'count(' ~ column ~ ') - count(DISTINCT ' ~ column ~ ')')) -%}
{%- endfor -%}
{%- for column in not_null -%}
  {%- do rules.append(('not_null ' ~ column, 'count(*) - count(' ~ column ~ ')')) -%}
{%- endfor -%}
{%- for column, values in accepted_values.items() -%}
  {%- set listed = [] -%}
  {%- for value in values -%}{%- do listed.append("'" ~ (value | replace("'", "''")) ~ "'") -%}{%- endfor -%}
  {%- do rules.append(('accepted_values ' ~ column,
                       'sum(CASE WHEN ' ~ column ~ ' NOT IN (' ~ listed | join(', ') ~ ') THEN 1 ELSE 0 END)')) -%}
{%- endfor -%}
{%- if not rules -%}
  {{ exceptions.raise_compiler_error("column_rules on " ~ model ~ ": no rule given") }}
{%- endif -%}
WITH counts AS (
    SELECT
    {%- for rule, expression in rules %}
        {{ expression }} AS rule_{{ loop.index }}{{ "," if not loop.last }}
    {%- endfor %}
    FROM {{ model }}
),
broken AS (
    {%- for rule, expression in rules %}
    SELECT {{ loop.index }} AS rule_no, '{{ rule }}' AS rule, CAST(rule_{{ loop.index }} AS BIGINT) AS failures
    FROM counts
    {{- "\n    UNION ALL" if not loop.last }}
    {%- endfor %}
)
SELECT rule, failures FROM broken WHERE failures > 0 ORDER BY rule_no
{% endtest %}
