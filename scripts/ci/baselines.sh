#!/usr/bin/env bash
# After apply on the main branch: write baselines/ from the results and publish them (with the alias moves and
# adapters a retraining made), as a commit pushed to
# the branch (BASELINES=commit) or as a pull request from a new branch (BASELINES=pr, for protected branches).
set -euo pipefail
mode="${BASELINES:-none}"
case "$mode" in
  none) exit 0 ;;
  commit|pr) ;;
  *) echo "::error title=Flywheel::input baselines must be none, commit or pr, not '${mode}'"; exit 1 ;;
esac
flywheel baseline update --specs "${SPECS:-specs}"
# baselines/ (per-item scores, history, lineage) and, after a retraining, the Model specs whose aliases moved
# and the adapters they point at.
git add -A -- baselines "${SPECS:-specs}"
if git diff --cached --quiet; then
  echo "baselines unchanged: nothing to publish"
  exit 0
fi
branch="${GITHUB_REF_NAME:-main}"
short="${GITHUB_SHA:-$(git rev-parse HEAD)}"
short="${short:0:7}"
git -c user.name="flywheel[bot]" -c user.email="flywheel-bot@users.noreply.github.com" \
  commit --quiet -m "Update eval baselines for ${short} [skip ci]"
if [ "$mode" = commit ]; then
  for attempt in 1 2 3; do
    if git push --quiet origin "HEAD:refs/heads/${branch}"; then
      echo "pushed baselines to ${branch}"
      exit 0
    fi
    echo "push rejected (attempt ${attempt}); rebasing on origin/${branch}"
    git pull --quiet --rebase origin "${branch}"
  done
  echo "::error title=Flywheel::could not push the baselines to ${branch}; use baselines: pr for a protected branch"
  exit 1
fi
topic="flywheel/baselines-${short}"
git push --quiet --force origin "HEAD:refs/heads/${topic}"
echo "pushed baselines to ${topic}"
if [ "${ACT:-}" != true ] && command -v gh >/dev/null 2>&1; then
  gh pr create --base "$branch" --head "$topic" --title "Update eval baselines for ${short}" \
    --body "Baselines written by Flywheel's continuous eval from ${GITHUB_SHA:-HEAD}." \
    || echo "::warning title=Flywheel::could not open the baselines pull request (is one already open for ${topic}?)"
fi
