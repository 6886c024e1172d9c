#!/usr/bin/env bash
# Decide how model calls are answered (live, replay or record) and write it to $GITHUB_OUTPUT.
# auto: replay when there is no OPENAI_API_KEY (fork pull requests get no secrets) and a cassette exists.
set -euo pipefail
mode="${MODE:-auto}"
cassettes="${CASSETTES:-.flywheel-cassettes}"
if [ "$mode" = auto ]; then
  if [ -z "${OPENAI_API_KEY:-}" ] && [ -f "$cassettes/cassette.jsonl" ]; then mode=replay; else mode=live; fi
fi
case "$mode" in
  live|replay|record) ;;
  *) echo "::error title=Flywheel::input mode must be auto, live, replay or record, not '${MODE}'"; exit 1 ;;
esac
if [ "$mode" = replay ] && [ ! -f "$cassettes/cassette.jsonl" ]; then
  echo "::error title=Flywheel::mode replay needs $cassettes/cassette.jsonl; record it with mode: record (or flywheel run --record $cassettes)"
  exit 1
fi
echo "calls: $mode (cassettes: $cassettes)"
echo "mode=$mode" >> "$GITHUB_OUTPUT"
