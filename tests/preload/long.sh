# shellcheck shell=bash
# Sourced by the long program tests (test_preload_prog_*.sh): they run
# only under `make check-programs` (USTACK_LONG=1), and skip otherwise so
# that `make check` stays short.
[ "${USTACK_LONG:-0}" = 1 ] || skip "a long program run: make check-programs (USTACK_LONG=1)"
