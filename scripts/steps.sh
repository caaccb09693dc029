# Sourced by scripts/setup.sh: `step "<what>" <command...>` prints one line for the step, "<what> ... ok
# (<seconds> s)", and keeps the command's own output (pip's and setuptools' progress and warnings) out of
# sight; when the command fails it prints "FAILED", then that output on stderr, and exits with its code.
step() {
  local label="$1"
  shift
  local log started status
  log="$(mktemp)"
  started=$SECONDS
  printf '%s ... ' "$label"
  if "$@" >"$log" 2>&1; then
    echo "ok ($((SECONDS - started)) s)"
    rm -f "$log"
    return 0
  else
    status=$?
  fi
  echo "FAILED (exit $status)"
  cat "$log" >&2
  rm -f "$log"
  exit "$status"
}

# `skip "<what>" "<why>"`: the line for a step that has nothing to do.
skip() {
  echo "$1 ... $2"
}
