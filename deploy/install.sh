#!/bin/sh
# Install the product's runtime lock, and nothing else, into a new virtualenv.
# The Dockerfile and CI's production smoke stage both run this script, so the smoke
# stage proves exactly what the image contains: a dependency missing from
# requirements.txt fails there, not in production.
#   deploy/install.sh VENV_DIR
set -eu
venv="${1:?usage: deploy/install.sh VENV_DIR}"
root="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-python3}"
"$python" -m venv "$venv"
# Hash-checking mode (every line of the lock has hashes) and wheels only: nothing is
# compiled at install time, and nothing unpinned can slip in.
"$venv/bin/pip" install --no-cache-dir --disable-pip-version-check --quiet \
    --require-hashes --only-binary=:all: -r "$root/requirements.txt"
