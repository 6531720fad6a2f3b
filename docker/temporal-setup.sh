#!/bin/sh
# One-shot (service temporal-setup, image temporalio/admin-tools): create the namespace and register duban's
# custom search attributes, then wait until the frontend accepts queries on them, so that the API and the
# workers (which depend on this service completing) never see "namespace not found" or an unknown attribute.
# Idempotent: existing namespace and attributes are left as they are.
#
# Environment: TEMPORAL_ADDRESS, NAMESPACE, RETENTION (e.g. 2160h), SEARCH_ATTRIBUTES ("Name=Type ...").
set -eu
: "${TEMPORAL_ADDRESS:?}" "${NAMESPACE:?}" "${RETENTION:?}" "${SEARCH_ATTRIBUTES:?}"

t() { temporal "$@" --address "$TEMPORAL_ADDRESS"; }

retry() {
  attempt=1
  until "$@"; do
    if [ "$attempt" -ge 60 ]; then
      echo "temporal-setup: giving up after $attempt attempts: $*" >&2
      return 1
    fi
    attempt=$((attempt + 1))
    sleep 2
  done
}

echo "temporal-setup: waiting for Temporal at $TEMPORAL_ADDRESS"
retry t operator cluster health

if t operator namespace describe --namespace "$NAMESPACE" >/dev/null 2>&1; then
  echo "temporal-setup: namespace $NAMESPACE already exists"
else
  # A concurrent run may win the race: "already exists" is success, anything else fails below.
  t operator namespace create --namespace "$NAMESPACE" --retention "$RETENTION" ||
    t operator namespace describe --namespace "$NAMESPACE" >/dev/null
  echo "temporal-setup: namespace $NAMESPACE created (retention $RETENTION)"
fi

# Registered with the requested type? A different type cannot be changed in place: fail loudly.
# Types are compared as KEYWORDLIST / KEYWORD / INT, whichever spelling the CLI release prints.
registered() {
  listing=$(t operator search-attribute list --namespace "$NAMESPACE") || return 1
  line=$(printf '%s\n' "$listing" | grep -E "(^|[[:space:]])$1([[:space:]]|$)") || return 1
  want=$(printf '%s' "$2" | tr '[:lower:]' '[:upper:]')
  got=$(printf '%s' "$line" | tr '[:lower:]' '[:upper:]' | sed -e 's/INDEXED_VALUE_TYPE_//g' -e 's/_//g')
  if printf '%s\n' "$got" | grep -Eq "[[:space:]]$want([[:space:]]|$)"; then
    return 0
  fi
  echo "temporal-setup: search attribute $1 exists with another type than $2: $line" >&2
  exit 1
}

ensure_attribute() {
  registered "$1" "$2" && return 0
  # Namespace registration takes a few seconds to reach every service, so creation is retried.
  t operator search-attribute create --namespace "$NAMESPACE" --name "$1" --type "$2" || true
  registered "$1" "$2"
}

query=''
for pair in $SEARCH_ATTRIBUTES; do
  name=${pair%%=*}
  type=${pair#*=}
  retry ensure_attribute "$name" "$type"
  echo "temporal-setup: search attribute $name ($type) registered"
  case "$type" in
    Int) clause="$name = 0" ;;
    *) clause="$name = 'x'" ;;
  esac
  query="${query:+$query AND }$clause"
done

# The frontend caches namespaces and search attributes; a query naming every attribute succeeds only once
# that cache knows them all, which is exactly when starting a workflow with them will succeed too.
echo 'temporal-setup: waiting until the frontend accepts the search attributes'
retry t workflow count --namespace "$NAMESPACE" --query "$query" >/dev/null
echo 'temporal-setup: done'
