{#- PostgreSQL only (DuckDB: nothing). JIT compilation took 5.5 of mart_referrals' 6.7 s at 100k rows; nothing
    here runs long enough to win it back. -#}
{% macro postgres_without_jit() -%}
    {%- if target.type == 'postgres' -%} SET jit = off {%- endif -%}
{%- endmacro %}

{#- PostgreSQL statistics for a model the later models join: without them the planner guesses row counts and
    picks nested loops that grow with the square of the data. -#}
{% macro analyze_for_planner() -%}
    {%- if target.type == 'postgres' -%} ANALYZE {{ this }} {%- endif -%}
{%- endmacro %}
