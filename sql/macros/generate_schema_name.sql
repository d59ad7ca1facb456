{#- Every model goes to the schema of the publish run (var build_schema), else the warehouse's schema. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ var('build_schema', none) or target.schema }}
{%- endmacro %}
