#!/usr/bin/env bash
# Make sure the MariaDB and PostgreSQL servers on loopback answer; start
# them the way this machine starts them if they stopped.
set -uo pipefail
up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_for() {
  for _ in $(seq 1 100); do up "$1" && return 0; sleep 0.2; done
  echo "db-servers: nothing answers on 127.0.0.1:$1" >&2
  return 1
}
if ! up 3306; then
  echo "db-servers: starting MariaDB"
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
  wait_for 3306 || exit 1
fi
if ! up 5432; then
  echo "db-servers: starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
  wait_for 5432 || exit 1
fi
