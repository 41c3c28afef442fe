# Shared by bench/run-*.sh (sourced, once ROOT, BUILD, log and die exist).

# LIB and LIBDIR: HEAPSCOPE_LIB when given (nothing is built), else the
# runtime built in $BUILD (RelWithDebInfo, tests off).
bench_heapscope_lib() {
  if [[ -n ${HEAPSCOPE_LIB:-} ]]; then
    LIB=$(readlink -f "$HEAPSCOPE_LIB")
    [[ -f $LIB ]] || die "HEAPSCOPE_LIB=$HEAPSCOPE_LIB does not exist"
  else
    log "building heapscope in $BUILD"
    local gen=()
    command -v ninja >/dev/null && gen=(-G Ninja)
    [[ -f $BUILD/CMakeCache.txt ]] && gen=()
    cmake -S "$ROOT" -B "$BUILD" "${gen[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DHEAPSCOPE_BUILD_TESTS=OFF >/dev/null
    cmake --build "$BUILD" --target heapscope >/dev/null
    LIB=$BUILD/lib/libheapscope.so
  fi
  LIBDIR=$(dirname "$LIB")
}
