#!/usr/bin/env bash
# Prints the partner codes of a partner registry (config/partners.yaml), one per line.
set -euo pipefail
sed -n -E 's/^  - code:[[:space:]]*([A-Za-z0-9_.-]+)[[:space:]]*$/\1/p' "${1:-/etc/eviction-prevention/partners.yaml}"
