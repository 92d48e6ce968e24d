#!/bin/sh
# One-shot namespace setup, run in the temporalio/admin-tools image once the server is up (or anywhere
# the `temporal` CLI can reach a cluster you administer). Idempotent: makes sure the namespace exists
# with the retention we promise (closed jobs stay readable for 30 days) and that our custom search
# attributes are registered on it, so operators can filter jobs by project, vendor, model and state.
#   TEMPORAL_ADDRESS        host:port of the frontend
#   INFRAI_TEMPORAL_NAMESPACE  the namespace the API and workers use (the same variable they read)
#   NAMESPACE_RETENTION     default 720h (30 days)
#   SEARCH_ATTRIBUTES       space-separated Keyword attribute names (workflows/search_attributes.py)
set -eu
ADDRESS="${TEMPORAL_ADDRESS:?set TEMPORAL_ADDRESS}"
NAMESPACE="${INFRAI_TEMPORAL_NAMESPACE:?set INFRAI_TEMPORAL_NAMESPACE}"
RETENTION="${NAMESPACE_RETENTION:-720h}"
ATTRIBUTES="${SEARCH_ATTRIBUTES:?set SEARCH_ATTRIBUTES}"
ATTEMPTS="${SETUP_ATTEMPTS:-60}"

# Run "$@" until it succeeds, a second apart, at most $ATTEMPTS times: the server (and a namespace it
# has just created) take a few seconds to be usable everywhere.
retry() {
  attempt=1
  until "$@"; do
    if [ "$attempt" -ge "$ATTEMPTS" ]; then
      echo "gave up after $ATTEMPTS attempts: $*" >&2
      return 1
    fi
    attempt=$((attempt + 1))
    sleep 1
  done
}

retry temporal operator cluster health --address "$ADDRESS" >/dev/null
echo "Temporal at $ADDRESS is serving"

if temporal operator namespace describe --namespace "$NAMESPACE" --address "$ADDRESS" >/dev/null 2>&1; then
  retry temporal operator namespace update --namespace "$NAMESPACE" --retention "$RETENTION" --address "$ADDRESS"
else
  retry temporal operator namespace create --namespace "$NAMESPACE" --retention "$RETENTION" --address "$ADDRESS"
fi
echo "namespace $NAMESPACE keeps closed workflows for $RETENTION"

registered() {
  temporal operator search-attribute list --namespace "$NAMESPACE" --address "$ADDRESS" | grep -qw "$1"
}
for name in $ATTRIBUTES; do
  if ! registered "$name"; then
    retry temporal operator search-attribute create --namespace "$NAMESPACE" --name "$name" --type Keyword \
      --address "$ADDRESS"
  fi
  retry registered "$name"
done
echo "search attributes registered on $NAMESPACE: $ATTRIBUTES"
