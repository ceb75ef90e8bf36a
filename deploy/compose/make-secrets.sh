#!/bin/sh
# Writes the compose stack's secrets into deploy/compose/secrets/ (git-ignored): random
# tokens and a database password, as env files for alertpilot and the executor (alertpilot
# reads secrets from environment variables), and as secret files for Alertmanager
# (credentials_file) and PostgreSQL (POSTGRES_PASSWORD_FILE).
# Existing files are kept, so re-running it never rotates a token by surprise;
# delete the folder (and the postgres-data volume) to start afresh.
set -eu
dir="${1:-$(dirname "$0")/secrets}"
umask 077
mkdir -p "$dir"
chmod 700 "$dir"
random() { od -An -N24 -tx1 /dev/urandom | tr -d ' \n'; }
if [ -f "$dir/alertpilot.env" ]; then
  echo "kept $dir (delete it to make new secrets)"
  exit 0
fi
webhook="$(random)"
executor="$(random)"
db="$(random)"
cat > "$dir/alertpilot.env" <<ENV
ALERTPILOT_WEBHOOK_TOKEN=$webhook
ALERTPILOT_EXECUTOR_TOKEN=$executor
ALERTPILOT_DATABASE__URL=postgresql://alertpilot:$db@postgres:5432/alertpilot
ENV
printf 'ALERTPILOT_EXECUTOR_TOKEN=%s\n' "$executor" > "$dir/executor.env"
printf '%s' "$db" > "$dir/postgres_password"
printf '%s' "$webhook" > "$dir/webhook_token"
# Alertmanager and PostgreSQL run as their own users and read these through bind mounts:
# the files are readable, the folder around them (0700) is not.
chmod 644 "$dir/webhook_token" "$dir/postgres_password"
echo "wrote $dir: alertpilot.env executor.env postgres_password webhook_token"
