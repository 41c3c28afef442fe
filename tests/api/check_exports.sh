#!/usr/bin/env bash
# The runtime exports its public API and nothing else: the shared library's
# dynamic symbols and the static library's global symbols, each against the
# allowlist in exports.txt (internal symbols are hidden in the shared
# library and made local in the static one).
#   check_exports.sh libheapscope.so libheapscope.a exports.txt
set -u
so=$1 a=$2 list=$3
want=$(grep -v '^#' "$list" | sort -u)
status=0
check() {
  local what=$1 got=$2
  local extra missing
  extra=$(comm -13 <(echo "$want") <(echo "$got"))
  missing=$(comm -23 <(echo "$want") <(echo "$got"))
  if [ -n "$extra" ]; then echo "FAIL: $what exports symbols not in $list:"; echo "$extra"; status=1; fi
  if [ -n "$missing" ]; then echo "FAIL: $what lacks symbols listed in $list:"; echo "$missing"; status=1; fi
}
# __start_/__stop_<section>: bounds the linker defines (and exports, whatever
# -z start-stop-visibility says) for the runtime's hs_calls_user section.
check "$so" "$(nm -D --defined-only "$so" | awk '{print $3}' | grep -v '^__st\(art\|op\)_hs_' | sort -u)"
check "$a" "$(nm -g --defined-only "$a" | awk 'NF==3 {print $3}' | sort -u)"
[ $status = 0 ] && echo "PASS: $(echo "$want" | wc -l) symbols"
exit $status
