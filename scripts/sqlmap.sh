#!/usr/bin/env bash
# SQL injection scan of the API with sqlmap (Debian's `sqlmap` package): starts a real API
# process on a fresh PostgreSQL database, signs up a user with a few projects and tasks, then lets
# sqlmap attack (as that user) every query parameter of the task list (the full-text search `q`,
# the filters, the sort, the paging), of a project's tasks, the project list, a webhook's delivery
# log, the sync cursor and the report's period, and (anonymously)
# the JSON bodies of sign-in and registration. Fails if sqlmap finds an injectable parameter, or if
# a scan did not run to its verdict (sqlmap error, server down, 401s: a scan that proves nothing).
# Always stops the server and drops the database.
#
#   scripts/sqlmap.sh            # PostgreSQL as user postgres on 127.0.0.1:5432 (PGHOST, PGPORT, PGUSER)
#   SQLMAP_LEVEL=5 SQLMAP_RISK=3 scripts/sqlmap.sh   # more payloads (default: level 3, risk 2)
#   SQLMAP_KEEP=1 scripts/sqlmap.sh    # keep sqlmap's logs (kept anyway when the scan fails)
#
# The API runs with NODE_ENV=test only so that BCRYPT_COST may be 4 (sign-in payloads would
# otherwise spend a quarter of a second each in bcrypt); the rate limits are raised so that
# sqlmap is not throttled (429s would hide what the queries do).
set -euo pipefail
cd "$(dirname "$0")/.."

PGHOST="${PGHOST:-127.0.0.1}"
PGPORT="${PGPORT:-5432}"
PGUSER="${PGUSER:-postgres}"
LEVEL="${SQLMAP_LEVEL:-3}"
RISK="${SQLMAP_RISK:-2}"
export PGHOST PGPORT PGUSER

command -v sqlmap >/dev/null || { echo "sqlmap is not installed (apt-get install sqlmap)" >&2; exit 2; }
command -v psql >/dev/null || { echo "psql is not installed" >&2; exit 2; }

work="$(mktemp -d "${TMPDIR:-/tmp}/taskman-sqlmap.XXXXXX")"
db="taskman_sqlmap_$$_${RANDOM}"
pid=""
canary=""
started=$SECONDS

cleanup() {
  local status=$?
  if [ -n "$canary" ]; then kill -TERM "$canary" 2>/dev/null || true; fi
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  psql -q -d postgres -c "drop database if exists $db with (force)" >/dev/null 2>&1 || true
  if [ "$status" -ne 0 ] || [ -n "${SQLMAP_KEEP:-}" ]; then
    echo "--- API log (last 40 lines) ---" >&2
    tail -n 40 "$work/api.log" 2>/dev/null >&2 || true
    echo "sqlmap logs kept in $work" >&2
  else
    rm -rf "$work"
  fi
  exit "$status"
}
trap cleanup EXIT INT TERM

psql -q -v ON_ERROR_STOP=1 -d postgres -c "create database $db" >/dev/null
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
port="$(free_port)"
base="http://127.0.0.1:$port"
canary_port="$(free_port)"
node scripts/sqlmap.canary.mjs "postgres://$PGUSER@$PGHOST:$PGPORT/$db" "$canary_port" >"$work/canary.log" 2>&1 &
canary=$!

env -i PATH="$PATH" HOME="${HOME:-/tmp}" \
  NODE_ENV=test BCRYPT_COST=4 LOG_LEVEL=warn LOG_FORMAT=json \
  DATABASE_URL="postgres://$PGUSER@$PGHOST:$PGPORT/$db" \
  JWT_SECRET="sqlmap-$(node -e 'console.log(require("crypto").randomBytes(32).toString("hex"))')" \
  DATA_DIR="$work/data" HOST=127.0.0.1 PORT="$port" \
  RATE_LIMIT_MAX=1000000 AUTH_RATE_LIMIT_MAX=1000000 \
  node --import tsx apps/api/src/main.ts >"$work/api.log" 2>&1 &
pid=$!

# HTTP with node rather than curl and jq (fewer dependencies): METHOD URL [JSON body]; prints the
# body, fails on a non-2xx answer.
http() {
  node -e '
    const [method, url, body] = process.argv.slice(1);
    const headers = { "content-type": "application/json" };
    if (process.env.TOKEN) headers.authorization = `Bearer ${process.env.TOKEN}`;
    fetch(url, { method, headers, body: body || undefined })
      .then(async (r) => { const t = await r.text(); if (!r.ok) { console.error(r.status, t); process.exit(1); } console.log(t); })
      .catch((e) => { console.error(e.message); process.exit(1); });
  ' "$@"
}
ready() { TOKEN="" http GET "$base/health/ready" >/dev/null 2>&1; }
# A field of a JSON document on stdin: field data.token
field() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{let v=JSON.parse(s);for(const k of process.argv[1].split("."))v=v[k];console.log(v)})' "$1"; }
post() { http POST "$base$1" "$2"; }

for _ in $(seq 1 120); do
  ready && break
  kill -0 "$pid" 2>/dev/null || { echo "the API exited before it was ready" >&2; exit 1; }
  sleep 0.5
done
ready || { echo "the API did not become ready" >&2; exit 1; }

# The first account is an admin; the scan runs as the second, a plain user.
post /api/v1/auth/register '{"email":"admin@example.com","password":"admin-password-1","name":"Admin"}' >/dev/null
EMAIL="ann@example.com"
PASSWORD="ann-password-123"
export TOKEN
TOKEN="$(post /api/v1/auth/register "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\",\"name\":\"Ann\"}" | field data.token)"
PROJECT="$(post /api/v1/projects '{"name":"Home"}' | field data.id)"
post /api/v1/projects '{"name":"Work"}' >/dev/null
TASK="$(post /api/v1/tasks "{\"title\":\"Buy milk\",\"project_id\":\"$PROJECT\",\"priority\":\"high\",\"tags\":[\"home\"]}" | field data.id)"
post /api/v1/tasks '{"title":"Fix the door","description":"hinge","tags":["home","diy"]}' >/dev/null
post /api/v1/tasks '{"title":"Write report","status":"in_progress","due_date":"2031-01-15T09:00:00Z"}' >/dev/null
SHORT="${TASK: -4}"
# A webhook that nothing will trigger (no project is deleted), for its delivery log's filters.
HOOK="$(post /api/v1/webhooks '{"url":"https://93.184.216.34/hook","events":["project.deleted"]}' | field data.id)"
echo "API at $base (database $db), user $EMAIL, $((SECONDS - started)) s to set up"

failed=0
# One sqlmap run; its verdict from its output: an injection point fails the scan, and so does a
# run that ended without saying every tested parameter is not injectable. These are the lines
# sqlmap prints (lib/controller/controller.py, lib/controller/checks.py in /usr/share/sqlmap).
VULNERABLE_LINES="identified the following injection point|' is vulnerable|UNION injectable"
# "appears to be … injectable" is sqlmap's first impression of a technique, before it checks it
# for a false positive. It fails the scan unless sqlmap went on to refute it ("does not seem to be
# injectable" for that parameter, and "all tested parameters do not appear to be injectable" at the
# end): the sign-in's answers change as its throttle counts the scan's failed attempts, which can
# look like a boolean-based blind difference until sqlmap tests it again.
APPEARS="appears to be .{0,80}injectable"
refuted() {
  local log="$1" param
  grep -q "all tested parameters do not appear to be injectable" "$log" || return 1
  while IFS= read -r param; do
    grep -qF "parameter '$param' does not seem to be injectable" "$log" || return 1
  done < <(grep -oE "parameter '[^']+' appears to be" "$log" | sed -E "s/^parameter '(.*)' appears to be$/\1/" | sort -u)
}
run_sqlmap() {
  local log="$1"
  shift
  sqlmap --batch --flush-session --disable-coloring --skip-waf \
    --dbms=PostgreSQL --level="$LEVEL" --risk="$RISK" \
    --timeout=10 --retries=1 --threads=4 \
    --output-dir="$work/sqlmap" \
    --answers="follow=N,keep testing=Y,reduce=Y,process=Y" \
    "$@" >"$log" 2>&1 || true
}
scan() {
  local name="$1"
  shift
  local log="$work/$name.log"
  local t0=$SECONDS
  run_sqlmap "$log" "$@"
  if grep -qiE "$VULNERABLE_LINES" "$log" || { grep -qiE "$APPEARS" "$log" && ! refuted "$log"; }; then
    echo "VULNERABLE: $name ($((SECONDS - t0)) s)"
    grep -iE "Parameter:|Type:|Title:|Payload:|injectable|vulnerable" "$log" | head -40
    failed=1
  elif [[ "$name" != login && "$name" != register ]] && grep -qE "HTTP error codes detected during run:.*401" "$log"; then
    echo "ERROR: the $name scan was not signed in (401s): it proves nothing"
    failed=1
  elif grep -q "all tested parameters do not appear to be injectable" "$log"; then
    echo "ok: $name, no injectable parameter ($((SECONDS - t0)) s)"
  else
    echo "ERROR: sqlmap did not finish the $name scan ($((SECONDS - t0)) s):"
    grep -E "\[(CRITICAL|ERROR)\]|HTTP error codes" "$log" | tail -10
    failed=1
  fi
  if grep -qiE "$APPEARS" "$log" && refuted "$log"; then
    echo "  (sqlmap's first impression, refuted by its own check: $(grep -oE "parameter '[^']+' appears to be [^']*'[^']*'" "$log" | sort -u | tr '\n' ';'))"
  fi
  if grep -q "might be injectable" "$log"; then
    echo "  (heuristics: $(grep -o "parameter '[^']*' might be injectable[^)]*" "$log" | sort -u | tr '\n' ';'))"
  fi
}

# First the canary: sqlmap must find its injection, or this scan cannot be trusted.
for _ in $(seq 1 50); do grep -q listening "$work/canary.log" && break; sleep 0.2; done
t0=$SECONDS
run_sqlmap "$work/canary.sqlmap.log" -u "http://127.0.0.1:$canary_port/canary?q=milk" -p q
if grep -qiE "$VULNERABLE_LINES" "$work/canary.sqlmap.log"; then
  echo "ok: sqlmap finds the canary's injection ($((SECONDS - t0)) s): the detector works"
else
  echo "ERROR: sqlmap did not find the canary's injection: the scan proves nothing" >&2
  grep -E "\[(CRITICAL|ERROR|WARNING)\]" "$work/canary.sqlmap.log" | tail -5 >&2
  exit 1
fi
kill -TERM "$canary" 2>/dev/null || true
canary=""

AUTH="Authorization: Bearer $TOKEN"
scan tasks -u "$base/api/v1/tasks?q=milk&status=todo&priority=high&tag=home&project_id=$PROJECT&sort=created_at&order=desc&page=1&limit=20&short_id=$SHORT&due_before=2031-12-31T00:00:00Z&due_after=2020-01-01T00:00:00Z&overdue=false&include_archived=false" \
  -p "q,status,priority,tag,project_id,sort,order,page,limit,short_id,due_before,due_after,overdue,include_archived" \
  -H "$AUTH"
scan project-tasks -u "$base/api/v1/projects/$PROJECT/tasks?q=milk&tag=home&sort=title&page=1" -p "q,tag,sort,page" -H "$AUTH"
scan projects -u "$base/api/v1/projects?sort=name&order=asc&page=1&limit=20" -p "sort,order,page,limit" -H "$AUTH"
scan deliveries -u "$base/api/v1/webhooks/$HOOK/deliveries?state=failed&event_type=ping&page=1&limit=20" \
  -p "state,event_type,page,limit" -H "$AUTH"
scan sync -u "$base/api/v1/sync?limit=50&cursor=0" -p "cursor,limit" -H "$AUTH"
scan report -u "$base/api/v1/reports/productivity?from=2030-01-01&to=2030-01-31&project_id=$PROJECT" -p "from,to,project_id" -H "$AUTH"
# Sign-in and registration: anonymous, JSON bodies; a wrong guess is 401 (and 409 for a taken email).
scan login -u "$base/api/v1/auth/login" --data "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}" \
  -p "email,password" --ignore-code=401,403,429 -H "content-type: application/json"
scan register -u "$base/api/v1/auth/register" \
  --data '{"email":"new.user@example.com","password":"new-password-1","name":"New","timezone":"Europe/Paris"}' \
  -p "email,name,timezone" --ignore-code=401,409,429 -H "content-type: application/json"

# The API must have stayed up, with its data intact.
ready || { echo "ERROR: the API is not ready after the scans" >&2; failed=1; }
count="$(http GET "$base/api/v1/tasks?limit=100" | field meta.total)"
[ "$count" -ge 3 ] || { echo "ERROR: the user's tasks are gone ($count left)" >&2; failed=1; }
echo "sqlmap scans done in $((SECONDS - started)) s"
exit "$failed"
