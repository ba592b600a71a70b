#!/bin/sh
# Image cleanup on a GitLab Runner host (docker executor), run from cron as root:
#
#   install -m 0755 deploy/ci/gitlab-runner-cron.sh /usr/local/sbin/imgsweep-gitlab-runner
#   install -D -m 0644 deploy/ci/gitlab-runner.yaml /etc/imgsweep/gitlab-runner.yaml
#   echo '*/30 * * * * root /usr/local/sbin/imgsweep-gitlab-runner' > /etc/cron.d/imgsweep-gitlab-runner
#
# Every 30 minutes: a runner's disk fills faster than a server's. Images of running jobs are never touched;
# the policy protects the runner's helper images. Nothing is printed unless something fails, so cron mails
# only failures. The exit status is imgsweep's: 0 done, 1 failed steps or engine unreachable, 2 invalid
# policy, 3 refused for safety (a limit exceeded, or the previous run still holds the lock).
#
# Every path can be changed through the environment (cron.d lines can set variables), e.g.
#   IMGSWEEP_POLICY=/etc/imgsweep/other.yaml DOCKER_HOST=unix:///run/user/1000/docker.sock
set -eu

PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH
POLICY=${IMGSWEEP_POLICY:-/etc/imgsweep/gitlab-runner.yaml}
STATE_DIR=${IMGSWEEP_STATE_DIR:-/var/lib/imgsweep}
AUDIT_LOG=${IMGSWEEP_AUDIT_LOG:-/var/log/imgsweep/audit.jsonl}
METRICS_FILE=${IMGSWEEP_METRICS_FILE:-/var/lib/node_exporter/textfile/imgsweep.prom}

mkdir -p "$(dirname "$AUDIT_LOG")"
# Without a node_exporter textfile folder, run without metrics rather than fail.
set -- --audit-log "$AUDIT_LOG"
if [ -d "$(dirname "$METRICS_FILE")" ]; then
  set -- "$@" --metrics-file "$METRICS_FILE"
fi

exec imgsweep apply -p "$POLICY" --yes --quiet --state-dir "$STATE_DIR" "$@"
