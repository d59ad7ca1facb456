#!/usr/bin/env bash
# Prints a secret file without its trailing newline(s). Airflow's `*_CMD` options take a command's output
# as it is, so `cat` of a file written by `echo` or an editor gives `database "airflow\n" does not exist`.
set -euo pipefail
printf '%s' "$(< "$1")"
