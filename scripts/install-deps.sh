#!/usr/bin/env bash
# Installs what building and testing need, only when it is missing: a C compiler, libpq (the
# PostgreSQL client library diesel links against), pkg-config and python3 (used by the test
# scripts). SQLite is compiled in (libsqlite3-sys "bundled"), so it needs nothing here.
set -euo pipefail

missing=()
command -v cc >/dev/null 2>&1 || missing+=(build-essential)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
if ! { [ -e /usr/include/postgresql/libpq-fe.h ] || pkg-config --exists libpq 2>/dev/null; }; then
  missing+=(libpq-dev)
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "install-deps: cargo is not installed; install Rust from your distribution or rustup" >&2
  exit 1
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}" >&2
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
