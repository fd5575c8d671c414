#!/usr/bin/env bash
# Start or stop the local Slurm the demo and the tests use:
#   scripts/slurm-harness.sh up DIR [INCLUDE]    then: export SLURM_CONF=DIR/etc/slurm.conf
#   scripts/slurm-harness.sh down DIR
# Installs missing Debian packages, starts munge, slurmdbd (MariaDB on
# 127.0.0.1:3306), slurmctld and a static slurmd; stops them by pid file.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m skyway.slurm.harness "$@"
