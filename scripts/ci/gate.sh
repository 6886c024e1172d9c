#!/usr/bin/env bash
# The action's gate step: resolve the base, run `flywheel gate`, and publish the verdict and report paths as
# outputs without failing the step (the action's last step exits with the gate's code, after the summary,
# comment and artifacts are written).
set -uo pipefail
report_dir="${REPORT_DIR:-.flywheel/gate}"
if [ "${GATE:-true}" != true ]; then
  { echo "verdict=SKIPPED"; echo "exit-code=0"; } >> "$GITHUB_OUTPUT"
  exit 0
fi

base="${BASE_REF:-}"
if [ -z "$base" ] && [ -n "${MERGE_GROUP_BASE:-}" ]; then base="$MERGE_GROUP_BASE"; fi
if [ -z "$base" ] && [ -n "${GITHUB_BASE_REF:-}" ]; then base="origin/$GITHUB_BASE_REF"; fi
if [ -z "$base" ]; then base="origin/main"; fi
if ! git rev-parse --verify --quiet "$base^{commit}" >/dev/null; then
  # A shallow checkout: fetch the base branch (actions/checkout with fetch-depth: 0 makes this unnecessary).
  git fetch --quiet --no-tags origin "${base#origin/}:refs/remotes/origin/${base#origin/}" 2>/dev/null || true
fi

# Never let a report from an earlier run on this runner pass for this one.
rm -f "$report_dir/report.md" "$report_dir/report.json" "$report_dir/report.txt" "$report_dir/junit.xml"

flags=()
case "${CALL_MODE:-live}" in
  replay) flags+=(--replay "${CASSETTES:-.flywheel-cassettes}") ;;
  record) flags+=(--record "${CASSETTES:-.flywheel-cassettes}") ;;
esac
if [ "${FAIL_ON_INCONCLUSIVE:-false}" = true ]; then flags+=(--fail-on-inconclusive); fi
# The pull_request_target mode: the checkout is the base; the pull request's commit is read as data.
if [ -n "${HEAD_REF:-}" ]; then flags+=(--head "$HEAD_REF"); fi
# An approval of changes to the gate's inputs: both set only by the workflow, from the labeled event.
if [ -n "${APPROVED_BY:-}" ] && [ -n "${APPROVED_SHA:-}" ]; then
  echo "input changes approved by @${APPROVED_BY} for ${APPROVED_SHA}"
  flags+=(--approve-input-changes --approved-by "$APPROVED_BY" --approved-sha "$APPROVED_SHA")
fi
flywheel gate --base "$base" --specs "${SPECS:-specs}" --report-dir "$report_dir" "${flags[@]}"
code=$?

verdict=ERROR
if [ -f "$report_dir/report.json" ] && [ "$code" -ne 1 ]; then
  verdict="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["verdict"])' "$report_dir/report.json")"
fi
{
  echo "verdict=$verdict"
  echo "exit-code=$code"
  if [ -f "$report_dir/report.md" ]; then
    echo "report-markdown=$report_dir/report.md"
    echo "report-json=$report_dir/report.json"
    echo "report-junit=$report_dir/junit.xml"
    echo "report-text=$report_dir/report.txt"
  fi
} >> "$GITHUB_OUTPUT"
if [ "$verdict" = ERROR ]; then
  echo "## Flywheel gate: **ERROR** (exit $code)" >> "$GITHUB_STEP_SUMMARY"
  echo "The gate could not decide; the log of the Gate step says why." >> "$GITHUB_STEP_SUMMARY"
fi
exit 0
