#!/usr/bin/env bash
# Install the Debian packages Skyway's demo and tests run against, once:
# Slurm (slurmctld, slurmd, slurmdbd, the client commands), munge,
# MariaDB for slurmdbd, and the tools of the local vendor's nodes
# (iproute2 for namespaces, util-linux for nsenter/unshare, script).
# Nothing is started here: the Slurm harness starts what it needs.
set -euo pipefail
PACKAGES=(slurmctld slurmd slurm-client slurmdbd munge mariadb-server
          iproute2 util-linux bsdutils)
missing=()
for package in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null \
    | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "install-system: need root to install: ${missing[*]}" >&2
  exit 1
fi
echo "install-system: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
